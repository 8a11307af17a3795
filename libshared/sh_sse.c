/* Incremental Server-Sent-Events parser: line splitting, field handling and event dispatch. */
#include "sh_sse.h"

#include <stdlib.h>
#include <string.h>

#include "sh_err.h"

static int buf_reserve(struct sh_sse_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;       /* + NUL */
    size_t cap;
    char *p;

    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    p = realloc(b->data, cap);
    if (!p)
        return SH_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

static int buf_append(struct sh_sse_buf *b, const void *src, size_t n)
{
    int rc = buf_reserve(b, n);

    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, src, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static void buf_clear(struct sh_sse_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int buf_set(struct sh_sse_buf *b, const char *src, size_t n)
{
    buf_clear(b);
    return buf_append(b, src, n);
}

void sh_sse_init(struct sh_sse_parser *p, size_t max_event, sh_sse_cb cb, void *user)
{
    memset(p, 0, sizeof(*p));
    p->cb = cb;
    p->user = user;
    p->max_event = max_event ? max_event : SH_SSE_DEFAULT_MAX_EVENT;
    p->retry_ms = -1;
}

void sh_sse_reset(struct sh_sse_parser *p)
{
    buf_clear(&p->line);
    buf_clear(&p->data);
    buf_clear(&p->type);
    buf_clear(&p->id);
    p->retry_ms = -1;
    p->cr_pending = false;
    p->bom_checked = false;
    p->err = 0;
}

void sh_sse_free(struct sh_sse_parser *p)
{
    if (!p)
        return;
    free(p->line.data);
    free(p->data.data);
    free(p->type.data);
    free(p->id.data);
    p->line = p->data = p->type = p->id = (struct sh_sse_buf){ 0 };
}

long sh_sse_retry_ms(const struct sh_sse_parser *p)
{
    return p->retry_ms;
}

/* Sticky errors: a parser that ran out of room or memory has lost bytes and cannot resync. */
static int fail(struct sh_sse_parser *p, int rc)
{
    p->err = rc;
    return rc;
}

static int dispatch(struct sh_sse_parser *p)
{
    struct sh_sse_event ev;
    int rc;

    if (p->data.len == 0) {                /* no data: lines, nothing to deliver */
        buf_clear(&p->type);
        return 0;
    }
    p->data.data[--p->data.len] = '\0';    /* drop the "\n" after the last line */
    ev.type = p->type.len ? p->type.data : "message";
    ev.data = p->data.data;
    ev.data_len = p->data.len;
    ev.id = p->id.len ? p->id.data : "";
    rc = p->cb ? p->cb(p->user, &ev) : 0;
    buf_clear(&p->data);
    buf_clear(&p->type);
    return rc;
}

static void set_retry(struct sh_sse_parser *p, const char *v, size_t n)
{
    long ms = 0;
    size_t i;

    if (n == 0)
        return;
    for (i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return;                        /* the spec ignores non-digit values */
        if (ms > (2147483647L - 9) / 10)
            return;                        /* absurd value: ignore rather than overflow */
        ms = ms * 10 + (v[i] - '0');
    }
    p->retry_ms = ms;
}

/* Interpret the complete line held in p->line, then clear it. */
static int process_line(struct sh_sse_parser *p)
{
    const char *s = p->line.data ? p->line.data : "";
    size_t n = p->line.len, flen, vlen;
    const char *colon, *val;
    int rc = 0;

    if (!p->bom_checked) {
        p->bom_checked = true;
        if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            n -= 3;
        }
    }
    if (n == 0)
        return dispatch(p);
    if (s[0] == ':')
        goto out;                          /* comment / keep-alive */
    colon = memchr(s, ':', n);
    flen = colon ? (size_t)(colon - s) : n;
    val = colon ? colon + 1 : s + n;
    vlen = (size_t)(s + n - val);
    if (vlen && val[0] == ' ') {           /* exactly one optional space */
        val++;
        vlen--;
    }
    if (flen == 4 && memcmp(s, "data", 4) == 0) {
        rc = buf_append(&p->data, val, vlen);
        if (!rc)
            rc = buf_append(&p->data, "\n", 1);
    } else if (flen == 5 && memcmp(s, "event", 5) == 0) {
        rc = buf_set(&p->type, val, vlen);
    } else if (flen == 2 && memcmp(s, "id", 2) == 0) {
        if (!memchr(val, '\0', vlen))
            rc = buf_set(&p->id, val, vlen);
    } else if (flen == 5 && memcmp(s, "retry", 5) == 0) {
        set_retry(p, val, vlen);
    }                                      /* unknown fields are ignored */
out:
    buf_clear(&p->line);
    return rc ? fail(p, rc) : 0;
}

int sh_sse_feed(struct sh_sse_parser *p, const void *buf, size_t len)
{
    const char *s = buf, *end = s + len, *e;
    int rc;

    if (p->err)
        return p->err;
    while (s < end) {
        if (p->cr_pending) {
            p->cr_pending = false;
            if (*s == '\n') {              /* second half of a "\r\n" split across feeds */
                s++;
                continue;
            }
        }
        for (e = s; e < end && *e != '\r' && *e != '\n'; e++)
            ;
        if (e > s) {
            if (p->line.len + (size_t)(e - s) + p->data.len + p->type.len > p->max_event)
                return fail(p, SH_ETOOBIG);
            rc = buf_append(&p->line, s, (size_t)(e - s));
            if (rc)
                return fail(p, rc);
        }
        if (e == end)
            break;                         /* line continues in the next feed */
        p->cr_pending = (*e == '\r');
        s = e + 1;
        rc = process_line(p);
        if (rc)
            return rc;
    }
    return 0;
}

int sh_sse_finish(struct sh_sse_parser *p)
{
    int dropped, rc;

    if (p->err)
        return p->err;
    dropped = p->line.len > 0;
    buf_clear(&p->line);
    p->cr_pending = false;
    rc = dispatch(p);
    return rc ? rc : dropped;
}
