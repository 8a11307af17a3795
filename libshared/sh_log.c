/* Structured logging to stderr: key=value lines or JSON lines. */
#include "sh_log.h"
#include "sh_time.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *svc_name = "-";
static enum sh_log_level min_level = SH_LOG_INFO;
static bool json_format;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void sh_log_init(const char *service)
{
    const char *lv = getenv("LOG_LEVEL");
    const char *fmt = getenv("LOG_FORMAT");

    svc_name = service;
    if (lv) {
        for (int i = 0; i < 4; i++)
            if (!strcasecmp(lv, level_names[i]))
                min_level = (enum sh_log_level)i;
    }
    json_format = fmt && !strcasecmp(fmt, "json");
}

int sh_log_enabled(enum sh_log_level level)
{
    return level >= min_level;
}

/* Append to a fixed buffer, truncating silently. */
struct lbuf { char b[4096]; size_t n; };

static void put(struct lbuf *l, const char *s, size_t len)
{
    if (len > sizeof(l->b) - 2 - l->n)
        len = sizeof(l->b) - 2 - l->n;
    memcpy(l->b + l->n, s, len);
    l->n += len;
}

static void put_json_str(struct lbuf *l, const char *s, size_t len)
{
    put(l, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\'; esc[1] = (char)c;
            put(l, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(l, esc, 6);
        } else {
            put(l, (const char *)&s[i], 1);
        }
    }
    put(l, "\"", 1);
}

static bool is_number(const char *s, size_t len)
{
    size_t i = (len && s[0] == '-') ? 1 : 0;
    if (i == len)
        return false;
    for (; i < len; i++)
        if ((s[i] < '0' || s[i] > '9') && s[i] != '.')
            return false;
    return true;
}

/* Turn "a=1 b=\"x y\" c=z" into ,"a":1,"b":"x y","c":"z". */
static void kv_to_json(struct lbuf *l, const char *kv)
{
    const char *p = kv;

    while (*p) {
        const char *k, *eq, *v;
        size_t vlen;
        char val[1024];

        while (*p == ' ')
            p++;
        if (!*p)
            break;
        k = p;
        eq = strchr(p, '=');
        if (!eq)
            break;
        v = eq + 1;
        vlen = 0;
        if (*v == '"') {
            v++;
            while (*v && *v != '"' && vlen < sizeof(val) - 1) {
                if (*v == '\\' && v[1])
                    v++;
                val[vlen++] = *v++;
            }
            p = *v ? v + 1 : v;
        } else {
            while (*v && *v != ' ' && vlen < sizeof(val) - 1)
                val[vlen++] = *v++;
            p = v;
        }
        put(l, ",", 1);
        put_json_str(l, k, (size_t)(eq - k));
        put(l, ":", 1);
        if (is_number(val, vlen))
            put(l, val, vlen);
        else
            put_json_str(l, val, vlen);
    }
}

void sh_log(enum sh_log_level level, const char *msg, const char *kvfmt, ...)
{
    struct lbuf l = {.n = 0};
    char ts[32], kv[2048] = "";
    va_list ap;

    if (level < min_level)
        return;
    if (kvfmt) {
        va_start(ap, kvfmt);
        vsnprintf(kv, sizeof(kv), kvfmt, ap);
        va_end(ap);
    }
    sh_iso8601(sh_now_ms(), ts, sizeof(ts));
    if (json_format) {
        put(&l, "{\"ts\":", 6);
        put_json_str(&l, ts, strlen(ts));
        put(&l, ",\"level\":", 9);
        put_json_str(&l, level_names[level], strlen(level_names[level]));
        put(&l, ",\"svc\":", 7);
        put_json_str(&l, svc_name, strlen(svc_name));
        put(&l, ",\"msg\":", 7);
        put_json_str(&l, msg, strlen(msg));
        kv_to_json(&l, kv);
        put(&l, "}", 1);
    } else {
        int n = snprintf(l.b, sizeof(l.b) - 2, "ts=%s level=%s svc=%s msg=\"%s\"%s%s", ts,
                         level_names[level], svc_name, msg, *kv ? " " : "", kv);
        l.n = n < 0 ? 0 : ((size_t)n > sizeof(l.b) - 2 ? sizeof(l.b) - 2 : (size_t)n);
    }
    l.b[l.n++] = '\n';
    /* One write() per line keeps lines whole across threads and processes. */
    if (write(STDERR_FILENO, l.b, l.n) < 0)
        return;
}
