/* Chat Completions client: curl-multi transfers, SSE decoding, retries on timers, one thread. */
#include "sh_oai_client.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "sh_err.h"
#include "sh_oai_fast.h"
#include "sh_oai_request.h"
#include "sh_sse.h"

#define ERR_BODY_MAX (64 * 1024)   /* error bodies are short; keep the head of a long one */

enum req_state { RS_QUEUED, RS_RUNNING, RS_BACKOFF, RS_DONE };
enum rx_mode { RX_UNKNOWN, RX_SSE, RX_BODY };

struct req {
    struct sh_oai_client *c;
    uint64_t id;
    struct req *prev, *next;      /* every unfreed request */
    struct req *qprev, *qnext;    /* waiting for a transfer slot (RS_QUEUED) */
    struct req *dnext;            /* finished, on_done not yet delivered */
    enum req_state state;
    struct sh_oai_callbacks cb;
    void *user;
    char *body;
    bool stream;
    CURL *easy;
    bool in_multi;
    int attempts;
    bool delivered;
    int64_t retry_at_ms;
    /* per attempt */
    bool xfer_done;
    CURLcode xfer_rc;
    int64_t last_rx_ms;
    long status;
    enum rx_mode mode;
    char *rx;
    size_t rx_len, rx_cap;
    bool rx_overflow;
    long retry_after_ms;          /* from headers, -1 if none */
    char content_type[64];
    char request_id[128];
    enum sh_oai_class abort_cls;  /* set when we stop a transfer ourselves */
    struct sh_sse_parser sse;
    struct sh_oai_acc acc;
    /* outcome */
    enum sh_oai_class cls, cause;
    json_t *err_root;
    struct sh_oai_error err;
    char errbuf[CURL_ERROR_SIZE];
    char detail[CURL_ERROR_SIZE + 64];
};

struct sh_oai_client {
    CURLM *multi;
    char *url;
    struct curl_slist *hdr_stream, *hdr_plain;
    struct sh_oai_client_conf conf;   /* strings not kept */
    struct req *head, *tail;
    struct req *qhead, *qtail;
    struct req *dhead, *dtail;
    size_t n_active;
    int running;
    uint64_t next_id;
    uint64_t rng;
    int depth;                    /* > 0 while a user callback runs */
    bool closing;
    int completed;
};

static void end_attempt(struct sh_oai_client *c, struct req *r);

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *sh_oai_class_name(enum sh_oai_class cls)
{
    static const char *const names[] = {
        "ok", "cancelled", "retries_exhausted", "rate_limited", "quota", "http_4xx",
        "http_5xx", "network", "timeout", "protocol", "cut", "server_error",
    };

    return (unsigned)cls < sizeof(names) / sizeof(names[0]) ? names[cls] : "unknown";
}

/* ---- request bookkeeping ---- */

static void queue_unlink(struct sh_oai_client *c, struct req *r)
{
    if (r->qprev)
        r->qprev->qnext = r->qnext;
    else if (c->qhead == r)
        c->qhead = r->qnext;
    if (r->qnext)
        r->qnext->qprev = r->qprev;
    else if (c->qtail == r)
        c->qtail = r->qprev;
    r->qprev = r->qnext = NULL;
}

static void detach(struct sh_oai_client *c, struct req *r)
{
    if (!r->in_multi)
        return;
    curl_multi_remove_handle(c->multi, r->easy);
    r->in_multi = false;
    c->running--;
}

/* Move 'r' to the done queue; on_done follows from drain_done(). */
static void finish(struct sh_oai_client *c, struct req *r, enum sh_oai_class cls,
                   enum sh_oai_class cause)
{
    if (r->state == RS_DONE)
        return;
    detach(c, r);
    if (r->state == RS_QUEUED)
        queue_unlink(c, r);
    r->state = RS_DONE;
    r->cls = cls;
    r->cause = cause;
    r->dnext = NULL;
    if (c->dtail)
        c->dtail->dnext = r;
    else
        c->dhead = r;
    c->dtail = r;
}

static void req_free(struct sh_oai_client *c, struct req *r)
{
    detach(c, r);
    curl_easy_cleanup(r->easy);
    sh_sse_free(&r->sse);
    sh_oai_acc_free(&r->acc);
    json_decref(r->err_root);
    free(r->body);
    free(r->rx);
    free(r);
}

/* Keep an error object: 'root' (owned, may be NULL) holds the strings of 'e'. */
static void keep_error(struct req *r, const struct sh_oai_error *e, json_t *root)
{
    json_decref(r->err_root);
    r->err_root = root;
    r->err = *e;
    if (e->code == e->code_buf)
        r->err.code = r->err.code_buf;
}

/* Deliver pending on_done calls; only at depth 0, where no caller holds a request pointer. */
static void drain_done(struct sh_oai_client *c)
{
    struct req *r;

    while (c->depth == 0 && (r = c->dhead)) {
        struct sh_oai_result res = { 0 };

        c->dhead = r->dnext;
        if (!c->dhead)
            c->dtail = NULL;
        sh_oai_acc_finish(&r->acc);        /* on ENOMEM the calls just stay unparsed */
        res.req_id = r->id;
        res.ok = r->cls == SH_OAI_OK;
        res.cls = r->cls;
        res.cause = r->cause;
        res.http_status = r->status;
        res.attempts = r->attempts;
        res.delivered = r->delivered;
        if (r->err.present) {
            res.error_code = r->err.code;
            res.error_type = r->err.type;
            res.error_message = r->err.message;
        }
        res.detail = r->detail;
        res.request_id = r->request_id;
        res.content = r->acc.content ? r->acc.content : "";
        res.content_len = r->acc.content_len;
        res.tool_calls = r->acc.calls;
        res.n_tool_calls = r->acc.n_calls;
        res.finish_reason = r->acc.finish_reason;
        res.has_usage = r->acc.has_usage;
        res.usage = r->acc.usage;
        c->depth++;
        r->cb.on_done(r->user, &res);
        c->depth--;
        if (r->prev)
            r->prev->next = r->next;
        else
            c->head = r->next;
        if (r->next)
            r->next->prev = r->prev;
        else
            c->tail = r->prev;
        req_free(c, r);
        c->n_active--;
        c->completed++;
    }
}

/* ---- curl callbacks: they only record; user callbacks run later, outside libcurl ---- */

static long parse_delay_ms(const char *v, bool in_ms)
{
    char *end;
    double d = strtod(v, &end);
    time_t t;

    if (end != v && (*end == '\0' || *end == ' ') && d >= 0 && d < 86400e3)
        return (long)(in_ms ? d : d * 1000.0);
    if (in_ms)
        return -1;
    t = curl_getdate(v, NULL);            /* Retry-After may also be an HTTP date */
    if (t == -1)
        return -1;
    return t > time(NULL) ? (long)(t - time(NULL)) * 1000 : 0;
}

static void set_field(char *dst, size_t size, const char *v, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct req *r = ud;
    size_t len = size * nitems, nlen;
    char val[256];
    const char *colon, *v;
    long ms;

    r->last_rx_ms = now_ms();
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {   /* a new response (e.g. after 100) */
        r->retry_after_ms = -1;
        r->content_type[0] = '\0';
        return len;
    }
    colon = memchr(buf, ':', len);
    if (!colon)
        return len;
    nlen = (size_t)(colon - buf);
    for (v = colon + 1; v < buf + len && (*v == ' ' || *v == '\t'); v++)
        ;
    len = (size_t)(buf + len - v);
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    set_field(val, sizeof(val), v, len);
    if (nlen == 14 && strncasecmp(buf, "retry-after-ms", 14) == 0) {
        ms = parse_delay_ms(val, true);
        if (ms >= 0)
            r->retry_after_ms = ms;        /* the finer header wins */
    } else if (nlen == 11 && strncasecmp(buf, "retry-after", 11) == 0) {
        ms = parse_delay_ms(val, false);
        if (ms >= 0 && r->retry_after_ms < 0)
            r->retry_after_ms = ms;
    } else if (nlen == 12 && strncasecmp(buf, "content-type", 12) == 0) {
        set_field(r->content_type, sizeof(r->content_type), v, len);
    } else if (nlen == 12 && strncasecmp(buf, "x-request-id", 12) == 0) {
        set_field(r->request_id, sizeof(r->request_id), v, len);
    }
    return size * nitems;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud)
{
    struct req *r = ud;
    size_t len = size * nmemb, limit;

    r->last_rx_ms = now_ms();
    if (r->mode == RX_UNKNOWN) {
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
        r->mode = r->status / 100 == 2 && strcasestr(r->content_type, "text/event-stream")
                      ? RX_SSE : RX_BODY;
    }
    limit = r->status >= 300 ? ERR_BODY_MAX : r->c->conf.max_body_bytes;
    if (r->rx_len + len > limit) {
        if (r->status >= 300) {
            len = limit - r->rx_len;       /* keep the head, drop the rest */
            if (!len)
                return size * nmemb;
        } else {
            r->rx_overflow = true;
            return 0;                      /* aborts with CURLE_WRITE_ERROR */
        }
    }
    if (r->rx_len + len + 1 > r->rx_cap) {
        size_t cap = r->rx_cap ? r->rx_cap : 4096;
        char *n;

        while (cap < r->rx_len + len + 1)
            cap *= 2;
        n = realloc(r->rx, cap);
        if (!n) {
            r->rx_overflow = true;
            return 0;
        }
        r->rx = n;
        r->rx_cap = cap;
    }
    memcpy(r->rx + r->rx_len, p, len);
    r->rx_len += len;
    r->rx[r->rx_len] = '\0';
    return size * nmemb;
}

/* ---- attempts ---- */

static void attempt_begin(struct sh_oai_client *c, struct req *r)
{
    r->xfer_done = false;
    r->xfer_rc = CURLE_OK;
    r->status = 0;
    r->mode = RX_UNKNOWN;
    r->rx_len = 0;
    r->rx_overflow = false;
    r->retry_after_ms = -1;
    r->content_type[0] = '\0';
    r->request_id[0] = '\0';
    r->abort_cls = SH_OAI_OK;
    r->errbuf[0] = '\0';
    r->detail[0] = '\0';
    json_decref(r->err_root);
    r->err_root = NULL;
    memset(&r->err, 0, sizeof(r->err));
    sh_sse_reset(&r->sse);
    sh_oai_acc_reset(&r->acc);
    r->attempts++;
    r->last_rx_ms = now_ms();
    r->state = RS_RUNNING;
    if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
        snprintf(r->detail, sizeof(r->detail), "curl_multi_add_handle failed");
        finish(c, r, SH_OAI_NETWORK, SH_OAI_NETWORK);
        return;
    }
    r->in_multi = true;
    c->running++;
}

/* Run 'r' now if a transfer slot is free, else queue it. */
static void schedule(struct sh_oai_client *c, struct req *r)
{
    if (c->running < c->conf.max_transfers && !c->qhead) {
        attempt_begin(c, r);
        return;
    }
    r->state = RS_QUEUED;
    r->qprev = c->qtail;
    r->qnext = NULL;
    if (c->qtail)
        c->qtail->qnext = r;
    else
        c->qhead = r;
    c->qtail = r;
}

static void pump_queue(struct sh_oai_client *c)
{
    while (c->qhead && c->running < c->conf.max_transfers) {
        struct req *r = c->qhead;

        queue_unlink(c, r);
        attempt_begin(c, r);
    }
}

static void deliver(struct sh_oai_client *c, struct req *r, const struct sh_oai_delta *d)
{
    if (!r->cb.on_delta || !r->stream)     /* a non-streaming caller only wants on_done */
        return;
    if (d->content_len || d->n_tools)
        r->delivered = true;
    c->depth++;
    r->cb.on_delta(r->user, d);
    c->depth--;
}

/* SSE event → chunk → accumulator → on_delta. Returns 1 to stop reading this transfer. */
static int on_event(void *ud, const struct sh_sse_event *ev)
{
    struct req *r = ud;
    struct sh_oai_delta d;
    char *scratch = NULL, buf[512];
    int rc;

    if (r->state != RS_RUNNING)
        return 1;
    if (strcmp(ev->type, "error") == 0) {  /* "event: error" carries a bare error body */
        struct sh_oai_error e;
        json_t *root;

        if (sh_oai_error_parse(ev->data, ev->data_len, &e, &root) != 0) {
            e = (struct sh_oai_error){ .present = true, .message = "unparsed error event" };
        }
        keep_error(r, &e, root);
        r->abort_cls = SH_OAI_SERVER;
        return 1;
    }
    if (sh_oai_fast_chunk(ev->data, ev->data_len, &d, buf, sizeof(buf), &scratch) ||
        sh_oai_fast_meta(ev->data, ev->data_len, &d, buf, sizeof(buf))) {
        rc = sh_oai_acc_add(&r->acc, &d);
        if (rc == 0 && (d.content_len || d.finish_reason || d.has_usage))
            deliver(r->c, r, &d);
        free(scratch);
        if (rc < 0) {
            snprintf(r->detail, sizeof(r->detail), "bad stream chunk: %s", sh_strerror(rc));
            r->abort_cls = SH_OAI_PROTOCOL;
            return 1;
        }
        return r->state != RS_RUNNING;
    }
    rc = sh_oai_chunk_parse(ev->data, ev->data_len, &d);
    if (rc == 0 && d.error.present) {
        keep_error(r, &d.error, json_incref(d.root));
        r->abort_cls = SH_OAI_SERVER;
        rc = 1;
    } else if (rc == 0) {
        rc = sh_oai_acc_add(&r->acc, &d);
        if (rc == 0 && !d.done && (d.content_len || d.n_tools || d.finish_reason || d.has_usage))
            deliver(r->c, r, &d);
    }
    if (rc < 0) {
        snprintf(r->detail, sizeof(r->detail), "bad stream chunk: %s", sh_strerror(rc));
        r->abort_cls = SH_OAI_PROTOCOL;
        rc = 1;
    }
    sh_oai_delta_free(&d);
    return rc || r->state != RS_RUNNING;
}

/* Hand a streaming caller what a server sent as one JSON body. */
static void deliver_whole(struct sh_oai_client *c, struct req *r)
{
    struct sh_oai_delta d = { .content = r->acc.content, .content_len = r->acc.content_len,
                              .finish_reason = r->acc.finish_reason,
                              .has_usage = r->acc.has_usage, .usage = r->acc.usage };
    size_t i;

    d.tools = r->acc.n_calls ? calloc(r->acc.n_calls, sizeof(*d.tools)) : NULL;
    if (d.tools) {
        for (i = 0; i < r->acc.n_calls; i++) {
            d.tools[i].index = r->acc.calls[i].index;
            d.tools[i].id = r->acc.calls[i].id;
            d.tools[i].name = r->acc.calls[i].name;
            d.tools[i].arguments = r->acc.calls[i].arguments;
        }
        d.n_tools = r->acc.n_calls;
    }
    deliver(c, r, &d);
    free(d.tools);
}

static void classify_curl(CURLcode rc, enum sh_oai_class *cls, bool *retry)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        *cls = SH_OAI_TIMEOUT;
        *retry = true;
        break;
    case CURLE_COULDNT_CONNECT: case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: case CURLE_SEND_ERROR: case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING: case CURLE_PARTIAL_FILE: case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2: case CURLE_HTTP2_STREAM:
        *cls = SH_OAI_NETWORK;
        *retry = true;
        break;
    default:                               /* bad URL, TLS trust, out of memory, ...: final */
        *cls = SH_OAI_NETWORK;
        *retry = false;
        break;
    }
}

static bool err_is(const struct sh_oai_error *e, const char *what)
{
    return (e->code && strcmp(e->code, what) == 0) || (e->type && strcmp(e->type, what) == 0);
}

static void classify_status(struct req *r, enum sh_oai_class *cls, bool *retry)
{
    long s = r->status;
    struct sh_oai_error e;
    json_t *root = NULL;

    if (r->rx_len && sh_oai_error_parse(r->rx, r->rx_len, &e, &root) == 0)
        keep_error(r, &e, root);
    else
        json_decref(root);
    *retry = false;
    if (s == 429) {
        *cls = err_is(&r->err, "insufficient_quota") ? SH_OAI_QUOTA : SH_OAI_RATE_LIMITED;
        *retry = *cls == SH_OAI_RATE_LIMITED;
    } else if (s >= 500) {
        *cls = SH_OAI_HTTP_5XX;
        *retry = s == 500 || s == 502 || s == 503 || s == 504;
    } else if (s >= 400) {
        *cls = SH_OAI_HTTP_4XX;
        *retry = s == 408;
    } else {
        *cls = SH_OAI_PROTOCOL;            /* 1xx/3xx as a final answer: redirects not followed */
    }
    if (!r->detail[0])
        snprintf(r->detail, sizeof(r->detail), "HTTP %ld", s);
}

/* Outcome of a 2xx response. */
static void classify_ok(struct sh_oai_client *c, struct req *r, enum sh_oai_class *cls,
                        bool *retry)
{
    struct sh_oai_error e = { 0 };
    json_t *root = NULL;
    int rc;

    *retry = false;
    if (r->mode == RX_SSE || (r->mode == RX_UNKNOWN && r->stream)) {
        if (r->abort_cls == SH_OAI_OK && r->xfer_rc == CURLE_OK)
            (void)sh_sse_finish(&r->sse);  /* an event missing its blank line */
        if (r->abort_cls == SH_OAI_PROTOCOL || r->abort_cls == SH_OAI_SERVER) {
            *cls = r->abort_cls;
        } else if (r->acc.done || r->acc.finish_reason) {
            *cls = SH_OAI_OK;              /* complete even if the connection then broke */
        } else if (r->abort_cls == SH_OAI_TIMEOUT || r->xfer_rc == CURLE_OPERATION_TIMEDOUT) {
            *cls = SH_OAI_TIMEOUT;
            *retry = true;
        } else {
            *cls = SH_OAI_CUT;
            *retry = true;
            if (!r->detail[0])
                snprintf(r->detail, sizeof(r->detail), "stream ended without [DONE]%s%s",
                         r->errbuf[0] ? ": " : "", r->errbuf);
        }
        return;
    }
    if (r->abort_cls != SH_OAI_OK) {       /* idle timeout in the middle of the body */
        *cls = r->abort_cls;
        *retry = *cls == SH_OAI_TIMEOUT;
        return;
    }
    if (r->xfer_rc != CURLE_OK) {
        classify_curl(r->xfer_rc, cls, retry);
        return;
    }
    rc = sh_oai_response_parse(r->rx ? r->rx : "", r->rx_len, &r->acc, &e, &root);
    if (rc == 1) {
        keep_error(r, &e, root);
        *cls = SH_OAI_SERVER;
        return;
    }
    json_decref(root);
    if (rc < 0) {
        snprintf(r->detail, sizeof(r->detail), "bad response body: %s", sh_strerror(rc));
        *cls = SH_OAI_PROTOCOL;
        return;
    }
    *cls = SH_OAI_OK;
    if (r->stream)
        deliver_whole(c, r);
}

static long backoff_ms(struct sh_oai_client *c, int failures)
{
    long d = c->conf.backoff_base_ms, half;

    while (--failures > 0 && d < c->conf.backoff_max_ms)
        d *= 2;
    if (d > c->conf.backoff_max_ms)
        d = c->conf.backoff_max_ms;
    c->rng ^= c->rng << 13;                /* xorshift64: jitter needs no quality */
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    half = d / 2;
    return half + (long)(c->rng % (uint64_t)(d - half + 1));
}

/* The transfer of 'r' is over (finished, failed or stopped by us): decide what comes next. */
static void end_attempt(struct sh_oai_client *c, struct req *r)
{
    enum sh_oai_class cls;
    bool retry = false;
    long delay;

    detach(c, r);
    if (!r->status)
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->xfer_rc != CURLE_OK && !r->detail[0])
        snprintf(r->detail, sizeof(r->detail), "%s",
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->xfer_rc));
    if (r->rx_overflow) {
        snprintf(r->detail, sizeof(r->detail), "response larger than %zu bytes",
                 c->conf.max_body_bytes);
        cls = SH_OAI_PROTOCOL;
    } else if (r->status >= 200 && r->status < 300) {
        classify_ok(c, r, &cls, &retry);
    } else if (r->status >= 300) {
        classify_status(r, &cls, &retry);
    } else if (r->abort_cls != SH_OAI_OK) {
        cls = r->abort_cls;                /* idle timeout before any response */
        retry = cls == SH_OAI_TIMEOUT;
    } else {
        classify_curl(r->xfer_rc, &cls, &retry);
    }
    if (r->state != RS_RUNNING)
        return;                            /* a callback above cancelled it */
    if (cls == SH_OAI_OK || !retry || r->delivered) {
        finish(c, r, cls, cls);            /* after the first token a retry would repeat it */
        return;
    }
    if (r->attempts > c->conf.max_retries) {
        finish(c, r, SH_OAI_RETRIES_EXHAUSTED, cls);
        return;
    }
    if (r->retry_after_ms >= 0) {
        if (r->retry_after_ms > c->conf.max_retry_after_ms) {
            finish(c, r, cls, cls);        /* longer than anyone will wait for a reply */
            return;
        }
        delay = r->retry_after_ms;
    } else {
        delay = backoff_ms(c, r->attempts);
    }
    r->cause = cls;
    r->state = RS_BACKOFF;
    r->retry_at_ms = now_ms() + delay;
}

/* Feed what arrived, then finish transfers that curl reported done. */
static void process(struct sh_oai_client *c)
{
    struct req *r, *next;
    int rc;

    for (r = c->head; r; r = next) {
        if (r->state == RS_RUNNING && r->mode == RX_SSE && r->rx_len) {
            rc = sh_sse_feed(&r->sse, r->rx, r->rx_len);
            r->rx_len = 0;
            if (rc < 0 && r->state == RS_RUNNING) {
                snprintf(r->detail, sizeof(r->detail), "bad event stream: %s", sh_strerror(rc));
                r->abort_cls = SH_OAI_PROTOCOL;
            }
            if (r->state == RS_RUNNING && r->abort_cls != SH_OAI_OK)
                end_attempt(c, r);
        }
        if (r->state == RS_RUNNING && r->xfer_done)
            end_attempt(c, r);
        next = r->next;                    /* read late: callbacks may have appended */
    }
}

/* Start retries that are due; with 'idle', also stop transfers that went quiet. Idle checks run
 * only right after curl_multi_perform(), so a caller that polled late is not penalised for
 * bytes still sitting in the socket. */
static void run_timers(struct sh_oai_client *c, int64_t now, bool idle_check)
{
    struct req *r, *next;
    long idle = c->conf.idle_timeout_ms;

    for (r = c->head; r; r = next) {
        if (r->state == RS_BACKOFF && now >= r->retry_at_ms) {
            schedule(c, r);
        } else if (idle_check && r->state == RS_RUNNING && idle > 0 && !r->xfer_done &&
                   now - r->last_rx_ms >= idle) {
            snprintf(r->detail, sizeof(r->detail), "no data for %ld ms", idle);
            r->abort_cls = SH_OAI_TIMEOUT;
            end_attempt(c, r);
        }
        next = r->next;
    }
}

static int64_t next_timer(const struct sh_oai_client *c)
{
    const struct req *r;
    int64_t t = INT64_MAX;

    for (r = c->head; r; r = r->next) {
        if (r->state == RS_BACKOFF && r->retry_at_ms < t)
            t = r->retry_at_ms;
        else if (r->state == RS_RUNNING && c->conf.idle_timeout_ms > 0 &&
                 r->last_rx_ms + c->conf.idle_timeout_ms < t)
            t = r->last_rx_ms + c->conf.idle_timeout_ms;
    }
    return t;
}

int sh_oai_client_poll(struct sh_oai_client *c, int timeout_ms)
{
    struct CURLMsg *msg;
    int64_t now = now_ms(), next;
    int left, still, rc = 0;

    if (c->depth > 0)
        return SH_EFORBID;                 /* not from inside a callback */
    c->completed = 0;
    run_timers(c, now, false);
    pump_queue(c);
    drain_done(c);
    next = next_timer(c);
    if (c->completed || timeout_ms < 0)
        timeout_ms = 0;
    if (next - now < timeout_ms)
        timeout_ms = next <= now ? 0 : (int)(next - now);
    if (curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL) != CURLM_OK)
        rc = SH_EIO;
    if (curl_multi_perform(c->multi, &still) != CURLM_OK)
        rc = SH_EIO;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        struct req *r;
        char *priv = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        r = (struct req *)priv;
        r->xfer_done = true;
        r->xfer_rc = msg->data.result;
    }
    process(c);
    run_timers(c, now_ms(), true);
    pump_queue(c);
    drain_done(c);
    return rc ? rc : c->completed;
}

int sh_oai_client_start(struct sh_oai_client *c, const char *body,
                        const struct sh_oai_callbacks *cb, void *user, uint64_t *req_id_out)
{
    int stream;

    if (!c || !body || !cb || !cb->on_done)
        return SH_EINVAL;
    if (c->closing)
        return SH_EFORBID;
    stream = sh_oai_request_is_stream(body);
    if (stream < 0)
        return stream;
    return sh_oai_client_start_built(c, body, strlen(body), stream == 1, cb, user, req_id_out);
}

int sh_oai_client_start_built(struct sh_oai_client *c, const char *body, size_t len, bool stream,
                              const struct sh_oai_callbacks *cb, void *user,
                              uint64_t *req_id_out)
{
    struct req *r = NULL;
    int rc = SH_EINVAL;

    if (!c || !body || !cb || !cb->on_done)
        goto out;
    rc = SH_EFORBID;
    if (c->closing)
        goto out;
    rc = SH_ENOMEM;
    r = calloc(1, sizeof(*r));
    if (!r)
        goto out;
    r->c = c;
    r->cb = *cb;
    r->user = user;
    r->stream = stream;
    sh_sse_init(&r->sse, c->conf.max_event_bytes, on_event, r);
    r->body = malloc(len + 1);
    if (r->body) {
        memcpy(r->body, body, len);
        r->body[len] = '\0';
    }
    r->easy = curl_easy_init();
    if (!r->body || !r->easy || sh_oai_acc_init(&r->acc))
        goto out;
    curl_easy_setopt(r->easy, CURLOPT_URL, c->url);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->stream ? c->hdr_stream : c->hdr_plain);
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, c->conf.connect_timeout_ms);
    if (c->conf.timeout_ms > 0)
        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, c->conf.timeout_ms);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    r->id = ++c->next_id;
    r->prev = c->tail;
    if (c->tail)
        c->tail->next = r;
    else
        c->head = r;
    c->tail = r;
    c->n_active++;
    if (req_id_out)
        *req_id_out = r->id;
    schedule(c, r);                        /* a failure here ends in on_done, not in rc */
    r = NULL;
    rc = 0;
out:
    if (r) {
        curl_easy_cleanup(r->easy);
        sh_sse_free(&r->sse);
        sh_oai_acc_free(&r->acc);
        free(r->body);
        free(r);
    }
    return rc;
}

int sh_oai_client_cancel(struct sh_oai_client *c, uint64_t req_id)
{
    struct req *r;

    if (!c)
        return SH_EINVAL;
    for (r = c->head; r; r = r->next) {
        if (r->id != req_id || r->state == RS_DONE)
            continue;
        snprintf(r->detail, sizeof(r->detail), "cancelled");
        finish(c, r, SH_OAI_CANCELLED, SH_OAI_CANCELLED);
        pump_queue(c);
        drain_done(c);                     /* no-op inside a callback: poll() delivers it */
        return 0;
    }
    return SH_ENOTFOUND;
}

int sh_oai_client_wakeup(struct sh_oai_client *c)
{
    return c && curl_multi_wakeup(c->multi) == CURLM_OK ? 0 : SH_EIO;
}

size_t sh_oai_client_active(const struct sh_oai_client *c)
{
    return c ? c->n_active : 0;
}

static struct curl_slist *make_headers(const char *accept, const char *auth)
{
    struct curl_slist *l = NULL, *n;
    const char *lines[] = { "Content-Type: application/json", accept,
                            "Expect:", auth };       /* no 100-continue round trip */
    size_t i;

    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (!lines[i])
            continue;
        n = curl_slist_append(l, lines[i]);
        if (!n) {
            curl_slist_free_all(l);
            return NULL;
        }
        l = n;
    }
    return l;
}

static long pick(long v, long def)
{
    return v ? v : def;
}

struct sh_oai_client *sh_oai_client_create(const struct sh_oai_client_conf *conf)
{
    struct sh_oai_client *c = NULL;
    char *auth = NULL;
    size_t blen;

    if (!conf || !conf->base_url || !*conf->base_url)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (!c)
        goto fail;
    c->conf = *conf;
    c->conf.base_url = c->conf.api_key = NULL;
    c->conf.connect_timeout_ms = pick(conf->connect_timeout_ms, 10000);
    c->conf.timeout_ms = pick(conf->timeout_ms, 600000);
    c->conf.idle_timeout_ms = pick(conf->idle_timeout_ms, 60000);
    c->conf.max_retries = conf->max_retries ? (conf->max_retries < 0 ? 0 : conf->max_retries) : 4;
    c->conf.backoff_base_ms = pick(conf->backoff_base_ms, 250);
    c->conf.backoff_max_ms = pick(conf->backoff_max_ms, 8000);
    c->conf.max_retry_after_ms = pick(conf->max_retry_after_ms, 60000);
    c->conf.max_transfers = conf->max_transfers > 0 ? conf->max_transfers : 64;
    c->conf.max_event_bytes = conf->max_event_bytes ? conf->max_event_bytes
                                                    : SH_SSE_DEFAULT_MAX_EVENT;
    c->conf.max_body_bytes = conf->max_body_bytes ? conf->max_body_bytes : 16u << 20;
    if (c->conf.connect_timeout_ms < 0)
        c->conf.connect_timeout_ms = 0;    /* curl's own default */
    if (c->conf.backoff_base_ms < 1)
        c->conf.backoff_base_ms = 1;
    if (c->conf.backoff_max_ms < c->conf.backoff_base_ms)
        c->conf.backoff_max_ms = c->conf.backoff_base_ms;
    blen = strlen(conf->base_url);
    while (blen && conf->base_url[blen - 1] == '/')
        blen--;
    if (asprintf(&c->url, "%.*s/chat/completions", (int)blen, conf->base_url) < 0) {
        c->url = NULL;
        goto fail;
    }
    if (conf->api_key && *conf->api_key &&
        asprintf(&auth, "Authorization: Bearer %s", conf->api_key) < 0) {
        auth = NULL;
        goto fail;
    }
    c->hdr_stream = make_headers("Accept: text/event-stream", auth);
    c->hdr_plain = make_headers("Accept: application/json", auth);
    c->multi = curl_multi_init();
    if (!c->hdr_stream || !c->hdr_plain || !c->multi)
        goto fail;
    if (conf->max_host_connections > 0)
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, conf->max_host_connections);
    c->rng = (uint64_t)now_ms() ^ ((uint64_t)(uintptr_t)c << 16) ^ (uint64_t)getpid();
    if (!c->rng)
        c->rng = 0x9E3779B97F4A7C15ull;
    free(auth);                            /* the header lists hold copies */
    return c;
fail:
    free(auth);
    sh_oai_client_destroy(c);
    return NULL;
}

void sh_oai_client_destroy(struct sh_oai_client *c)
{
    struct req *r;

    if (!c)
        return;
    c->closing = true;
    for (r = c->head; r; r = r->next) {
        if (r->state != RS_DONE) {
            snprintf(r->detail, sizeof(r->detail), "client destroyed");
            finish(c, r, SH_OAI_CANCELLED, SH_OAI_CANCELLED);
        }
    }
    drain_done(c);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    curl_slist_free_all(c->hdr_stream);
    curl_slist_free_all(c->hdr_plain);
    free(c->url);
    free(c);
}
