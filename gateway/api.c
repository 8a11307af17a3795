/* The history read API: routing, caller identity, keyset cursors and JSON
 * bodies (pure, unit-tested), and the lws side. A request becomes a job for
 * the database threads (db.c) and an entry in a table of pending requests
 * keyed by request id; the answer comes back after lws_cancel_service, is
 * matched by id (a closed connection has left the table, so its answer is
 * dropped) and is written from LWS_CALLBACK_HTTP_WRITEABLE: headers first,
 * then the body in chunks, the last one LWS_WRITE_HTTP_FINAL. */
#include "api.h"
#include "auth.h"
#include "config.h"
#include "db.h"
#include "frames.h"
#include "sh_err.h"
#include "sh_jwt.h"
#include "sh_log.h"
#include "ws.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX        64       /* jobs waiting for a database thread */
#define REQUEST_TIMEOUT  30       /* seconds before a pending request is dropped */
#define CHUNK            16384    /* body bytes per writable callback */
#define TO_API           (PENDING_TIMEOUT_USER_REASON_BASE + 3)
#define SESSIONS_PATH    "/api/sessions"
#define CURSOR_RAW_LEN   (GW_API_TS_LEN + 1 + SH_UUID_LEN)
#define CURSOR_ENC_LEN   ((CURSOR_RAW_LEN * 4 + 2) / 3)

/* ---- pure parts ---------------------------------------------------------------------- */

enum gw_api_route gw_api_route(const char *path, char sid[SH_UUID_LEN + 1])
{
    size_t plen = sizeof(SESSIONS_PATH) - 1;
    const char *rest;

    if (strncmp(path, SESSIONS_PATH, plen) != 0)
        return GW_API_NOT_FOUND;
    rest = path + plen;
    if (!*rest)
        return GW_API_LIST;
    if (*rest != '/')
        return GW_API_NOT_FOUND;
    rest++;
    {
        const char *slash = strchr(rest, '/');
        char id[SH_UUID_LEN + 1];
        size_t n;

        if (!slash || strcmp(slash, "/events") != 0)
            return GW_API_NOT_FOUND;
        n = (size_t)(slash - rest);
        if (n != SH_UUID_LEN)
            return GW_API_BAD_UUID;
        memcpy(id, rest, n);
        id[n] = '\0';
        if (!sh_uuid_valid(id))
            return GW_API_BAD_UUID;
        for (size_t i = 0; i <= n; i++)
            sid[i] = (char)tolower((unsigned char)id[i]);
    }
    return GW_API_EVENTS;
}

/* The number in ts[at..at+n), or -1 when not all digits. */
static int digits(const char *ts, int at, int n)
{
    int v = 0;

    for (int i = at; i < at + n; i++) {
        if (ts[i] < '0' || ts[i] > '9')
            return -1;
        v = v * 10 + (ts[i] - '0');
    }
    return v;
}

bool gw_api_ts_valid(const char *ts)
{
    int mon, day, hour, min, sec;

    if (!ts || strlen(ts) != GW_API_TS_LEN || ts[4] != '-' || ts[7] != '-' || ts[10] != 'T' ||
        ts[13] != ':' || ts[16] != ':' || ts[19] != '.' || ts[26] != 'Z')
        return false;
    mon = digits(ts, 5, 2);
    day = digits(ts, 8, 2);
    hour = digits(ts, 11, 2);
    min = digits(ts, 14, 2);
    sec = digits(ts, 17, 2);
    return digits(ts, 0, 4) >= 1 && mon >= 1 && mon <= 12 && day >= 1 && day <= 31 &&
           hour >= 0 && hour <= 23 && min >= 0 && min <= 59 && sec >= 0 && sec <= 59 &&
           digits(ts, 20, 6) >= 0;
}

static const char B64URL[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url of 'n' bytes into 'out' (room for (n*4+2)/3 + 1). */
static void b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t left = n - i;
        if (left > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        out[o++] = B64URL[(v >> 18) & 63];
        out[o++] = B64URL[(v >> 12) & 63];
        if (left > 1)
            out[o++] = B64URL[(v >> 6) & 63];
        if (left > 2)
            out[o++] = B64URL[v & 63];
    }
    out[o] = '\0';
}

int gw_api_cursor_encode(const char *ts, const char *sid, char *out, size_t cap)
{
    char raw[CURSOR_RAW_LEN + 1];

    if (!gw_api_ts_valid(ts) || !sh_uuid_valid(sid) || cap < CURSOR_ENC_LEN + 1)
        return SH_EINVAL;
    memcpy(raw, ts, GW_API_TS_LEN);
    raw[GW_API_TS_LEN] = '|';
    memcpy(raw + GW_API_TS_LEN + 1, sid, SH_UUID_LEN + 1);
    b64url_encode((const unsigned char *)raw, CURSOR_RAW_LEN, out);
    return SH_OK;
}

int gw_api_cursor_decode(const char *cursor, char ts[GW_API_TS_LEN + 1],
                         char sid[SH_UUID_LEN + 1])
{
    unsigned char raw[CURSOR_RAW_LEN + 3];
    char again[CURSOR_ENC_LEN + 1];
    size_t n = 0, o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (!cursor || strlen(cursor) != CURSOR_ENC_LEN)
        return SH_EINVAL;
    for (n = 0; n < CURSOR_ENC_LEN; n++) {
        const char *p = strchr(B64URL, cursor[n]);
        if (!cursor[n] || !p)
            return SH_EINVAL;
        acc = (acc << 6) | (uint32_t)(p - B64URL);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            raw[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (o != CURSOR_RAW_LEN || raw[GW_API_TS_LEN] != '|')
        return SH_EINVAL;
    /* Only the canonical spelling: unused low bits must be zero. */
    b64url_encode(raw, CURSOR_RAW_LEN, again);
    if (strcmp(again, cursor) != 0)
        return SH_EINVAL;
    memcpy(ts, raw, GW_API_TS_LEN);
    ts[GW_API_TS_LEN] = '\0';
    memcpy(sid, raw + GW_API_TS_LEN + 1, SH_UUID_LEN);
    sid[SH_UUID_LEN] = '\0';
    if (!gw_api_ts_valid(ts) || !sh_uuid_valid(sid))
        return SH_EINVAL;
    return SH_OK;
}

int gw_api_limit_parse(const char *s, int64_t max, int *out)
{
    char *end;
    long v;

    if (!s || !*s || !isdigit((unsigned char)*s))
        return SH_EINVAL;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end || v < 1 || v > max)
        return SH_EINVAL;
    *out = (int)v;
    return SH_OK;
}

/* A JSON string, or null for SQL NULL. */
static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* Serialise and release 'root' (NULL-safe: out of memory). */
static char *dump(json_t *root, size_t *len)
{
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;

    json_decref(root);
    if (s)
        *len = strlen(s);
    return s;
}

char *gw_api_sessions_json(const struct gw_api_session_row *rows, size_t n,
                           const char *next_cursor, size_t *len)
{
    json_t *list = json_array(), *root = NULL;

    if (!list)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const struct gw_api_session_row *r = &rows[i];
        char *end = NULL;
        long long d = r->duration_seconds ? strtoll(r->duration_seconds, &end, 10) : 0;
        json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                              "session_id", str_or_null(r->session_id),
                              "start_time", str_or_null(r->start_time),
                              "end_time", str_or_null(r->end_time),
                              "duration_seconds", r->duration_seconds && end && !*end
                                  ? json_integer(d) : json_null(),
                              "summary", str_or_null(r->summary),
                              "summary_status", str_or_null(r->summary_status),
                              "first_message", str_or_null(r->first_message));
        if (!o || json_array_append_new(list, o)) {
            json_decref(list);
            return NULL;
        }
    }
    root = json_pack("{s:o, s:o}", "sessions", list, "next_cursor", str_or_null(next_cursor));
    return dump(root, len);
}

char *gw_api_events_json(const struct gw_api_session_row *s,
                         const struct gw_api_event_row *rows, size_t n, size_t *len)
{
    json_t *list = json_array(), *root;

    if (!list)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const struct gw_api_event_row *r = &rows[i];
        json_t *meta = r->meta ? json_loads(r->meta, JSON_DECODE_ANY, NULL) : NULL;
        json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o}",
                              "event_type", str_or_null(r->event_type),
                              "content", str_or_null(r->content),
                              "timestamp", str_or_null(r->timestamp),
                              "turn_id", str_or_null(r->turn_id),
                              "meta", meta ? meta : json_null());
        if (!o || json_array_append_new(list, o)) {
            json_decref(list);
            return NULL;
        }
    }
    root = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
                     "session_id", str_or_null(s->session_id),
                     "user_id", str_or_null(s->user_id),
                     "start_time", str_or_null(s->start_time),
                     "end_time", str_or_null(s->end_time),
                     "summary", str_or_null(s->summary),
                     "events", list);
    return dump(root, len);
}

char *gw_api_error_json(const char *code, size_t *len)
{
    return dump(json_pack("{s:s}", "error", code), len);
}

/* ---- the lws side -------------------------------------------------------------------- */

/* A request waiting for its answer or being written. Lives only while its
 * connection does: WSI_DESTROY / CLOSED_HTTP remove it. */
struct pending {
    struct pending *next;
    uint64_t id;
    struct lws *wsi;
    struct gw_db_job *job;            /* the answer once it came back, else NULL */
    size_t off;                       /* body bytes written */
    bool headers_sent;
};

struct gw_api {
    struct gw_db *db;                 /* NULL: no DATABASE_URL */
    int64_t page_max;
    struct pending *pending;
    uint64_t next_id;
};

struct gw_api *gw_api_create(const struct gw_app *app)
{
    struct gw_api *api = calloc(1, sizeof(*api));

    if (!api)
        return NULL;
    api->page_max = app->cfg->api_page_max;
    if (app->cfg->database_url && app->cfg->database_url[0]) {
        api->db = gw_db_create(app->cfg->database_url, (int)app->cfg->db_pool, QUEUE_MAX);
        if (!api->db) {
            free(api);
            return NULL;
        }
    }
    return api;
}

static void wake(void *arg)
{
    lws_cancel_service(arg);
}

int gw_api_start(struct gw_api *api, struct lws_context *ctx)
{
    return api->db ? gw_db_start(api->db, wake, ctx) : SH_OK;
}

/* A complete JSON answer in one write (small bodies), then the connection
 * takes its next request. */
static int respond(struct lws *wsi, unsigned int status, const char *code)
{
    unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start;
    unsigned char *end = buf + sizeof(buf) - 1;
    size_t blen = 0;
    char *body = gw_api_error_json(code, &blen);
    int rc = -1;

    if (!body)
        goto out;
    if (lws_add_http_common_headers(wsi, status, "application/json", blen, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_http_header(wsi, &p, end) || (size_t)(end - p) < blen)
        goto out;
    memcpy(p, body, blen);
    p += blen;
    if (lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_FINAL) != (int)(p - start))
        goto out;
    rc = lws_http_transaction_completed(wsi) ? -1 : 0;
out:
    free(body);
    return rc;
}

/* The caller into 'uid'; false when unknown. With JWT_SECRET set only a
 * valid "Authorization: Bearer" token names the caller (X-User-Id is
 * ignored); without, the X-User-Id header does. */
static bool caller(struct lws *wsi, const struct gw_app *app, char uid[SH_USER_ID_MAX + 1])
{
    int n;

    if (app->cfg->jwt_secret[0]) {
        char *token = malloc(SH_JWT_MAX_LEN + 1);
        const char *why = NULL;
        bool ok = token && gw_auth_token(wsi, false, token, SH_JWT_MAX_LEN + 1) != GW_TOKEN_NONE &&
                  gw_auth_verify(app->cfg, token, uid, &why) == SH_OK;

        if (!ok)
            sh_log(SH_LOG_INFO, "api unauthorized", "reason=\"%s\"", why ? why : "no token");
        free(token);
        return ok;
    }
    n = lws_hdr_custom_length(wsi, "x-user-id:", 10);

    if (n < 1 || n > SH_USER_ID_MAX ||
        lws_hdr_custom_copy(wsi, uid, SH_USER_ID_MAX + 1, "x-user-id:", 10) != n)
        return false;
    return gw_user_id_valid(uid, (size_t)n);
}

/* Read ?cursor= and ?limit= into 'job'. Returns NULL or the error code. */
static const char *read_query(struct lws *wsi, int64_t page_max, struct gw_db_job *job)
{
    char buf[4096];                     /* >= any header fragment lws keeps */
    bool have_cursor = false, have_limit = false;

    job->limit = (int)page_max;
    for (int n = 0; n < 64; n++) {
        int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, n);
        if (flen <= 0)
            break;
        if (flen >= (int)sizeof(buf) ||
            lws_hdr_copy_fragment(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_URI_ARGS, n) < 0)
            return "invalid_query";     /* cannot be a cursor or limit we made */
        if (!have_cursor && !strncmp(buf, "cursor=", 7)) {
            have_cursor = true;
            if (buf[7] && gw_api_cursor_decode(buf + 7, job->cursor_ts, job->session_id))
                return "invalid_cursor";
        } else if (!have_limit && !strncmp(buf, "limit=", 6)) {
            have_limit = true;
            if (gw_api_limit_parse(buf + 6, page_max, &job->limit))
                return "invalid_limit";
        }
    }
    return NULL;
}

int gw_api_request(struct lws *wsi, struct gw_app *app, const char *path)
{
    struct gw_api *api = app->api;
    struct gw_db_job *job = NULL;
    struct pending *pd = NULL;
    const char *err;
    int rc;

    if (!api || !api->db || app->shutting_down)
        return respond(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "history_unavailable");
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return respond(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, "method_not_allowed");
    job = calloc(1, sizeof(*job));
    pd = calloc(1, sizeof(*pd));
    if (!job || !pd) {
        rc = respond(wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR, "internal_error");
        goto fail;
    }
    if (!caller(wsi, app, job->user_id)) {
        rc = respond(wsi, HTTP_STATUS_UNAUTHORIZED, "unauthorized");
        goto fail;
    }
    switch (gw_api_route(path, job->session_id)) {
    case GW_API_LIST:
        job->kind = GW_DB_LIST;
        job->session_id[0] = '\0';
        err = read_query(wsi, api->page_max, job);
        if (err) {
            rc = respond(wsi, HTTP_STATUS_BAD_REQUEST, err);
            goto fail;
        }
        break;
    case GW_API_EVENTS:
        job->kind = GW_DB_EVENTS;
        break;
    case GW_API_BAD_UUID:
        rc = respond(wsi, HTTP_STATUS_BAD_REQUEST, "invalid_session_id");
        goto fail;
    default:
        rc = respond(wsi, HTTP_STATUS_NOT_FOUND, "not_found");
        goto fail;
    }
    job->req_id = pd->id = ++api->next_id;
    rc = gw_db_submit(api->db, job);
    if (rc) {
        sh_log(SH_LOG_WARN, "history request refused", "error=%s", sh_strerror(rc));
        rc = respond(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, "busy");
        goto fail;
    }
    job = NULL; /* now owned by the pool */
    pd->wsi = wsi;
    pd->next = api->pending;
    api->pending = pd;
    lws_set_timeout(wsi, TO_API, REQUEST_TIMEOUT);
    return 0;
fail:
    free(job);
    free(pd);
    return rc;
}

static struct pending **find_wsi(struct gw_api *api, struct lws *wsi)
{
    struct pending **pp = &api->pending;

    while (*pp && (*pp)->wsi != wsi)
        pp = &(*pp)->next;
    return pp;
}

static void pending_free(struct pending *pd)
{
    gw_db_job_free(pd->job);
    free(pd);
}

/* An answer from the pool: attach it to its request, or drop it when the
 * connection went away meanwhile. */
static void on_answer(void *ctx, struct gw_db_job *job)
{
    struct gw_api *api = ctx;
    struct pending *pd = api->pending;

    while (pd && pd->id != job->req_id)
        pd = pd->next;
    if (!pd || pd->job) {
        gw_db_job_free(job);
        return;
    }
    pd->job = job;
    lws_callback_on_writable(pd->wsi);
}

/* One step of writing the answer: the headers, or one chunk of the body.
 * Returns what the callback returns. */
static int on_writeable(struct pending **pp)
{
    unsigned char buf[LWS_PRE + CHUNK], *start = buf + LWS_PRE, *p = start;
    unsigned char *end = buf + sizeof(buf) - 1;
    struct pending *pd = *pp;
    struct gw_db_job *j = pd->job;
    struct lws *wsi = pd->wsi;
    size_t n;
    bool final;

    if (!pd->headers_sent) {
        if (lws_add_http_common_headers(wsi, j->status, "application/json", j->len, &p, end) ||
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                         (const unsigned char *)"no-store", 8, &p, end) ||
            lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
        pd->headers_sent = true;
        lws_callback_on_writable(wsi);
        return 0;
    }
    n = j->len - pd->off < CHUNK ? j->len - pd->off : CHUNK;
    final = pd->off + n == j->len;
    memcpy(start, j->body + pd->off, n);
    if (lws_write(wsi, start, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < (int)n)
        return -1;
    pd->off += n;
    if (!final) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    *pp = pd->next;
    pending_free(pd);
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int gw_api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct gw_app *app = lws_context_user(lws_get_context(wsi));
    struct gw_api *api = app ? app->api : NULL;
    struct pending **pp, *pd;

    if (!api)
        return gw_ws_callback(wsi, reason, user, in, len);
    switch (reason) {
    case LWS_CALLBACK_HTTP_WRITEABLE:
        pp = find_wsi(api, wsi);
        if (*pp)
            return (*pp)->job ? on_writeable(pp) : 0;
        break;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_WSI_DESTROY:
        /* The connection is going: its answer, if any, is dropped. */
        pp = find_wsi(api, wsi);
        if ((pd = *pp) != NULL) {
            *pp = pd->next;
            pending_free(pd);
        }
        break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (api->db)
            gw_db_drain(api->db, on_answer, api);
        break;
    default:
        break;
    }
    return gw_ws_callback(wsi, reason, user, in, len);
}

void gw_api_stop(struct gw_api *api)
{
    if (api)
        gw_db_stop(api->db);
}

void gw_api_destroy(struct gw_api *api)
{
    if (!api)
        return;
    gw_db_destroy(api->db);
    while (api->pending) {
        struct pending *pd = api->pending;
        api->pending = pd->next;
        pending_free(pd);
    }
    free(api);
}
