/* Admission of WebSocket upgrades and identity of requests: the Origin
 * policy, the bearer token from the Authorization header, the access_token
 * query or the Sec-WebSocket-Protocol list, HS256 verification (sh_jwt),
 * the client address (behind trusted proxies), the connection caps
 * (quota.c) checked before the upgrade, and the close of a connection
 * whose token expires while it is open. */
#include "auth.h"
#include "config.h"
#include "conn.h"
#include "frames.h"
#include "proxy.h"
#include "quota.h"
#include "sh_err.h"
#include "sh_jwt.h"
#include "sh_log.h"
#include "sh_time.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define HDR_MAX 1024            /* Origin, Host */
#define CLOSE_TOKEN_EXPIRED 4401
#define EXPIRY_RECHECK_MAX_MS (300 * 1000)  /* a timer runs this long at most, so a wall clock
                                             * that jumps (suspend, a step) is caught up on */
#define EXP_MAX_S 253402300799.0            /* 9999-12-31T23:59:59Z */

/* ---- pure parts ---------------------------------------------------------------------- */

/* The host of an authority "host[:port]" or "[v6]:port": its length. */
static size_t host_len(const char *auth)
{
    const char *end;

    if (auth[0] == '[') {
        end = strchr(auth, ']');
        return end ? (size_t)(end - auth) + 1 : strlen(auth);
    }
    end = strchr(auth, ':');
    return end ? (size_t)(end - auth) : strlen(auth);
}

static bool is_loopback(const char *host, size_t n)
{
    return (n == 9 && !strncasecmp(host, "localhost", 9)) ||
           (n == 9 && !strncmp(host, "127.0.0.1", 9)) || (n == 5 && !strncmp(host, "[::1]", 5));
}

bool gw_origin_allowed(const char *origin, const char *host, const char *allowed)
{
    const char *auth, *p;
    size_t olen;

    if (!origin || !*origin)
        return true;            /* not a browser: Origin is a browser's promise */
    if (allowed && *allowed) {
        olen = strlen(origin);
        for (p = allowed; *p;) {
            const char *end = strchr(p, ','), *e;
            size_t n;
            while (*p == ' ')
                p++;
            e = end ? end : p + strlen(p);
            while (e > p && e[-1] == ' ')
                e--;
            n = (size_t)(e - p);
            if ((n == 1 && *p == '*') || (n == olen && !strncasecmp(p, origin, n)))
                return true;
            if (!end)
                break;
            p = end + 1;
        }
        return false;
    }
    if (!strncasecmp(origin, "http://", 7))
        auth = origin + 7;
    else if (!strncasecmp(origin, "https://", 8))
        auth = origin + 8;
    else
        return false;           /* "null", file:, extensions */
    if (host && *host && !strcasecmp(auth, host))
        return true;
    return is_loopback(auth, host_len(auth)) && !strchr(auth, '/');
}

int gw_auth_subprotocol_token(const char *list, char *out, size_t cap)
{
    const char *p = list, *start, *end;
    bool after_bearer = false;

    out[0] = '\0';
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        start = p;
        while (*p && *p != ',')
            p++;
        end = p;
        while (end > start && end[-1] == ' ')
            end--;
        if (end == start)
            continue;
        if (after_bearer) {
            size_t n = (size_t)(end - start);
            if (n >= cap)
                return SH_ETOOBIG;
            memcpy(out, start, n);
            out[n] = '\0';
            return (int)n;
        }
        after_bearer = (size_t)(end - start) == sizeof(GW_AUTH_SUBPROTOCOL) - 1 &&
                       !strncmp(start, GW_AUTH_SUBPROTOCOL, sizeof(GW_AUTH_SUBPROTOCOL) - 1);
    }
    return 0;
}

int gw_auth_verify(const struct gw_config *cfg, const char *token, char uid[SH_USER_ID_MAX + 1],
                   const char **why)
{
    struct sh_jwt_opts o = {
        .secret = cfg->jwt_secret,
        .secret_len = strlen(cfg->jwt_secret),
        .audience = cfg->jwt_audience,
        .leeway_s = cfg->jwt_leeway_s,
        .now_s = (int64_t)time(NULL),
    };
    int rc = sh_jwt_verify(token, strlen(token), &o, uid, SH_USER_ID_MAX + 1, why);

    if (rc == SH_OK && !gw_user_id_valid(uid, strlen(uid))) {
        *why = "sub is not a valid user id";
        uid[0] = '\0';
        return SH_EINVAL;
    }
    return rc;
}

int64_t gw_auth_deadline_ms(double exp_s, int64_t leeway_s)
{
    /* sh_jwt_verify() refuses at whole second 'now' once exp + leeway <= now: the token
     * passes until the second ceil(exp + leeway) begins. */
    double s = ceil(exp_s + (double)leeway_s);

    if (!(s < EXP_MAX_S))
        return INT64_MAX;
    return (int64_t)s * 1000;
}

/* The deadline of 'token', which gw_auth_verify() has accepted (so it is well formed and
 * has a numeric exp). Returns 0 or SH_ENOMEM. */
static int token_deadline(const struct gw_config *cfg, const char *token, int64_t *deadline_ms)
{
    const char *p = strchr(token, '.'), *q = p ? strchr(p + 1, '.') : NULL;
    size_t n = q ? (size_t)(q - p - 1) : 0;
    unsigned char *buf = NULL;
    json_t *claims = NULL, *exp;
    int len, rc = SH_EINVAL;

    if (!q || !(buf = malloc(n + 1)))
        return q ? SH_ENOMEM : SH_EINVAL;
    len = sh_b64url_decode(p + 1, n, buf, n + 1);
    if (len < 0 || !(claims = json_loadb((const char *)buf, (size_t)len, 0, NULL)))
        goto out;
    exp = json_object_get(claims, "exp");
    if (!json_is_number(exp))
        goto out;
    *deadline_ms = gw_auth_deadline_ms(json_number_value(exp), cfg->jwt_leeway_s);
    rc = SH_OK;
out:
    json_decref(claims);
    free(buf);
    return rc;
}

/* ---- the lws side -------------------------------------------------------------------- */

/* A whole header into 'out' ("" when absent or too long). */
static void header(struct lws *wsi, enum lws_token_indexes t, char *out, size_t cap)
{
    int n = lws_hdr_total_length(wsi, t);

    out[0] = '\0';
    if (n <= 0 || (size_t)n >= cap || lws_hdr_copy(wsi, out, (int)cap, t) != n)
        out[0] = '\0';
}

enum gw_token_src gw_auth_token(struct lws *wsi, bool websocket, char *out, size_t cap)
{
    char *buf = malloc(SH_JWT_MAX_LEN + 64);
    enum gw_token_src src = GW_TOKEN_NONE;
    size_t n;

    out[0] = '\0';
    if (!buf)
        return GW_TOKEN_NONE;
    header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, buf, SH_JWT_MAX_LEN + 64);
    if (!strncasecmp(buf, "Bearer ", 7)) {
        const char *t = buf + 7;
        while (*t == ' ')
            t++;
        if ((n = strlen(t)) > 0 && n < cap) {
            memcpy(out, t, n + 1);
            src = GW_TOKEN_HEADER;
        }
        goto out;               /* a header that is there decides, even a bad one */
    }
    if (!websocket)
        goto out;
    for (int i = 0; i < 64; i++) {
        int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (flen <= 0)
            break;
        if (flen >= SH_JWT_MAX_LEN + 64 ||
            lws_hdr_copy_fragment(wsi, buf, SH_JWT_MAX_LEN + 64, WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
            continue;
        if (!strncmp(buf, "access_token=", 13)) {
            if ((n = strlen(buf + 13)) > 0 && n < cap) {
                memcpy(out, buf + 13, n + 1);
                src = GW_TOKEN_QUERY;
            }
            goto out;
        }
    }
    header(wsi, WSI_TOKEN_PROTOCOL, buf, SH_JWT_MAX_LEN + 64);
    if (gw_auth_subprotocol_token(buf, out, cap) > 0)
        src = GW_TOKEN_SUBPROTOCOL;
out:
    free(buf);
    return src;
}

int gw_auth_identify(struct lws *wsi, const struct gw_app *app, char uid[SH_USER_ID_MAX + 1],
                     bool *mismatch, int64_t *deadline_ms, const char **why)
{
    char path[512], path_uid[SH_USER_ID_MAX + 1], *token = NULL;
    int rc = SH_OK;

    *mismatch = false;
    uid[0] = '\0';
    if (deadline_ms)
        *deadline_ms = 0;
    if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) < 0 ||
        gw_ws_path_parse(path, path_uid, sizeof(path_uid)) != SH_OK)
        path_uid[0] = '\0';     /* a bad user id is answered after the upgrade */
    if (!app->cfg->jwt_secret[0]) {
        memcpy(uid, path_uid, sizeof(path_uid));
        return SH_OK;
    }
    token = malloc(SH_JWT_MAX_LEN + 1);
    if (!token) {
        *why = "out of memory";
        return SH_EINVAL;
    }
    if (gw_auth_token(wsi, true, token, SH_JWT_MAX_LEN + 1) == GW_TOKEN_NONE) {
        *why = "no token";
        rc = SH_EINVAL;
        goto out;
    }
    if (gw_auth_verify(app->cfg, token, uid, why)) {
        rc = SH_EINVAL;
        goto out;
    }
    if (deadline_ms && token_deadline(app->cfg, token, deadline_ms)) {
        *why = "exp unreadable";        /* verified, so only memory can fail here */
        uid[0] = '\0';
        rc = SH_EINVAL;
        goto out;
    }
    *mismatch = path_uid[0] && strcmp(path_uid, uid) != 0;
out:
    free(token);
    return rc;
}

/* X-Forwarded-For into 'out': every header of that name, joined with ',' in order (lws keeps
 * repeated headers as fragments), of which only the right-hand end is kept when it is longer
 * than 'cap' allows: each trusted proxy appends on the right, a proxy may add a line of its
 * own, and what lies far left is the client's to write. A cut keeps whole entries only. */
static void forwarded_for(struct lws *wsi, char *out, size_t cap)
{
    char frag[GW_PROXY_FRAG_MAX + 1];
    size_t pos = cap - 1;               /* the kept text is out[pos .. cap-1) */
    int n = 0;
    bool cut = false;

    out[cap - 1] = '\0';
    /* The last fragment that has text: an empty line (length 0) must not hide later ones.
     * lws has fewer fragment slots than this bound for all headers together. */
    for (int i = 0; i < GW_PROXY_FRAGS_MAX; i++)
        if (lws_hdr_fragment_length(wsi, WSI_TOKEN_X_FORWARDED_FOR, i) > 0)
            n = i + 1;
    for (int i = n - 1; i >= 0 && !cut; i--) {
        int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_X_FORWARDED_FOR, i);
        size_t len, sep = pos < cap - 1 ? 1 : 0;

        if (flen <= 0)
            continue;
        if (flen > GW_PROXY_FRAG_MAX ||
            lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_X_FORWARDED_FOR, i) != flen) {
            cut = true;                 /* unreadable: keep what is right of it */
            break;
        }
        len = (size_t)flen;
        if (len + sep > pos) {
            cut = true;
            len = pos > sep ? pos - sep : 0;
        }
        if (sep)
            out[--pos] = ',';
        memcpy(out + pos - len, frag + (size_t)flen - len, len);
        pos -= len;
    }
    if (cut) {
        char *comma = memchr(out + pos, ',', cap - 1 - pos);
        pos = comma ? (size_t)(comma - out) + 1 : cap - 1;
    }
    memmove(out, out + pos, cap - pos);
}

void gw_auth_peer(struct lws *wsi, const struct gw_config *cfg, char *out, size_t cap)
{
    char peer[64], xff[GW_PROXY_XFF_MAX + 1];

    if (!lws_get_peer_simple(wsi, peer, sizeof(peer)))
        peer[0] = '\0';
    xff[0] = '\0';
    /* The header is read only when it may count: nobody else gets to name an address. */
    if (cfg->proxies.n && gw_proxy_trusted(&cfg->proxies, peer))
        forwarded_for(wsi, xff, sizeof(xff));
    gw_proxy_client_ip(&cfg->proxies, peer, xff[0] ? xff : NULL, out, cap);
}

int64_t gw_auth_expiry_wait(const struct gw_conn *c)
{
    int64_t wait_ms;

    if (c->token_deadline_ms <= 0)
        return -1;
    wait_ms = c->token_deadline_ms - sh_now_ms();
    if (wait_ms > EXPIRY_RECHECK_MAX_MS)
        wait_ms = EXPIRY_RECHECK_MAX_MS;
    return wait_ms < 1 ? 1 : wait_ms;
}

bool gw_auth_expiry_check(struct gw_conn *c)
{
    if (c->token_deadline_ms <= 0 || sh_now_ms() < c->token_deadline_ms)
        return false;
    /* A turn in flight goes on in the worker; the client resumes it with a fresh token. */
    sh_log(SH_LOG_INFO, "ws token expired", "conn=%llu session=%s user=%s ip=%s",
           (unsigned long long)c->id, c->session_id, c->user_id, c->peer);
    gw_conn_send_error(c, "unauthorized", "the access token expired; reconnect with a fresh "
                       "token", NULL, NULL);
    gw_conn_close(c, CLOSE_TOKEN_EXPIRED, "token expired");
    return true;
}

/* Answer the upgrade request with 'status' and {"error":"<code>"}, then
 * hang up (the caller returns -1). The response is written whole here:
 * lws's header helpers would say HTTP/1.0, as an upgrade request never
 * went through its HTTP version bookkeeping, and WebSocket clients insist
 * on HTTP/1.1. */
static int refuse(struct lws *wsi, unsigned int status, const char *reason, const char *code)
{
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE;
    int n = snprintf((char *)start, sizeof(buf) - LWS_PRE,
                     "HTTP/1.1 %u %s\r\ncontent-type: application/json\r\n"
                     "content-length: %zu\r\ncache-control: no-store\r\n"
                     "connection: close\r\n\r\n{\"error\":\"%s\"}",
                     status, reason, strlen(code) + 12, code);

    if (n > 0 && (size_t)n < sizeof(buf) - LWS_PRE)
        lws_write(wsi, start, (size_t)n, LWS_WRITE_HTTP_HEADERS);
    return -1;
}

/* Make a client-supplied header safe to quote in a log line: quotes, backslashes and
 * control bytes would let it forge key=value fields. */
static void log_safe(char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
}

int gw_auth_admit(struct lws *wsi, struct gw_app *app)
{
    char origin[HDR_MAX], host[HDR_MAX], uid[SH_USER_ID_MAX + 1], peer[GW_IP_STRLEN];
    const char *why = NULL, *which = NULL;
    bool mismatch;

    header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin));
    header(wsi, WSI_TOKEN_HOST, host, sizeof(host));
    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0 && (!origin[0] ||
        !gw_origin_allowed(origin, host, app->cfg->allowed_origins))) {
        log_safe(origin);
        sh_log(SH_LOG_INFO, "ws refused", "status=403 reason=\"origin not allowed\" "
               "origin=\"%.200s\"", origin);
        gw_metrics_error(&app->metrics, "origin_not_allowed");
        return refuse(wsi, 403, "Forbidden", "origin_not_allowed");
    }
    if (gw_auth_identify(wsi, app, uid, &mismatch, NULL, &why)) {
        sh_log(SH_LOG_INFO, "ws refused", "status=401 reason=\"%s\"", why);
        gw_metrics_error(&app->metrics, "unauthorized");
        return refuse(wsi, 401, "Unauthorized", "unauthorized");
    }
    gw_auth_peer(wsi, app->cfg, peer, sizeof(peer));
    if (gw_quota_conn_check(app->quota, uid, peer, &which)) {
        sh_log(SH_LOG_WARN, "ws refused", "status=429 reason=\"too many connections per %s\" "
               "user=%s ip=%s", which, uid, peer);
        gw_metrics_error(&app->metrics, "too_many_connections");
        return refuse(wsi, 429, "Too Many Requests", "too_many_connections");
    }
    return 0;
}
