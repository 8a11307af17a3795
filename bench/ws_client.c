/* ws_client.c: the WebSocket side of the load generator: many gateway sessions on one lws context. */
#include "bench.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_US 5000          /* scheduler tick: start sessions, check the deadline */
#define MAX_STARTS_PER_TICK 100

struct sess {
    struct ws_run *run;
    struct lws *wsi;
    int idx;
    int turn;              /* turns finished */
    int established;       /* got the session frame */
    int finished;          /* counted as over (ok or not) */
    int want_send;
    int want_close;
    int64_t t_connect, t_sent, t_last_token;
    int got_token;
    int turn_failed;       /* a turn of this session did not end with an answer */
    uint64_t turn_frames;  /* token frames of the current turn */
    char *rx;              /* one message being reassembled */
    size_t rx_len, rx_cap;
};

struct ws_run {
    const struct bench_opts *o;
    struct bench_result *r;
    struct lws_context *ctx;
    lws_sorted_usec_list_t sul;
    struct sess *s;
    char host[256];
    char path[512];
    int port;
    int started, active, over, open_now;
    int64_t t0, t_last_open, t_deadline;
    int done;
};

static void sess_over(struct sess *s, int ok)
{
    if (s->finished)
        return;
    s->finished = 1;
    s->run->over++;
    s->run->active--;
    if (s->established)
        s->run->open_now--;
    if (ok)
        s->run->r->sessions_ok++;
}

static void start_session(struct ws_run *w)
{
    struct sess *s = &w->s[w->started++];
    char path[640];
    struct lws_client_connect_info ci;

    s->run = w;
    s->idx = w->started - 1;
    w->active++;
    w->r->sessions_started++;
    snprintf(path, sizeof(path), "%s/bench_%d_%d", w->path, (int)getpid(), s->idx);
    memset(&ci, 0, sizeof(ci));
    ci.context = w->ctx;
    ci.address = w->host;
    ci.port = w->port;
    ci.path = path;
    ci.host = w->host;
    ci.origin = w->host;
    ci.protocol = NULL;
    ci.userdata = s;
    ci.opaque_user_data = s;
    ci.pwsi = &s->wsi;
    s->t_connect = bench_now_us();
    if (!lws_client_connect_via_info(&ci) && !s->finished) {
        w->r->connect_errors++;
        sess_over(s, 0);
    }
}

static void tick(lws_sorted_usec_list_t *sul)
{
    struct ws_run *w = lws_container_of(sul, struct ws_run, sul);
    const struct bench_opts *o = w->o;
    int64_t now = bench_now_us();
    int n = 0;

    if (bench_stop || now > w->t_deadline)
        goto finish;
    while (w->started < o->sessions && w->active < o->concurrency && n < MAX_STARTS_PER_TICK) {
        if (o->connect_rate > 0 &&
            (double)w->started >= o->connect_rate * (double)(now - w->t0) / 1e6 + 1)
            break;
        start_session(w);
        n++;
    }
    if (w->over == o->sessions)
        goto finish;
    /* Idle mode: every connection is open (or failed); hold them for hold_ms, then stop. */
    if (o->turns == 0 && w->started == o->sessions && w->open_now + w->over >= o->sessions &&
        w->t_last_open && now - w->t_last_open > (int64_t)o->hold_ms * 1000)
        goto finish;
    lws_sul_schedule(w->ctx, 0, &w->sul, tick, TICK_US);
    return;
finish:
    /* Without a pending timer lws_service() may sleep for many seconds: wake it now. */
    w->done = 1;
    lws_cancel_service(w->ctx);
}

static void begin_turn(struct sess *s)
{
    s->want_send = 1;
    lws_callback_on_writable(s->wsi);
}

static void on_frame(struct sess *s, const char *buf, size_t len)
{
    struct ws_run *w = s->run;
    struct bench_result *r = w->r;
    int64_t now = bench_now_us();
    json_error_t jerr;
    json_t *j = json_loadb(buf, len, 0, &jerr);
    const char *type = j ? json_string_value(json_object_get(j, "type")) : NULL;

    if (!type) {
        r->error_frames++;
        goto out;
    }
    if (!strcmp(type, "session")) {
        s->established = 1;
        w->open_now++;
        r->connects_ok++;
        w->t_last_open = now;
        bench_samples_add(&r->connect_ms, (double)(now - s->t_connect) / 1000.0);
        r->connect_span_s = (double)(now - w->t0) / 1e6;
        if (w->o->turns > 0)
            begin_turn(s);
    } else if (!strcmp(type, "token")) {
        if (!s->got_token) {
            double ms = (double)(now - s->t_sent) / 1000.0;
            bench_samples_add(&r->ttft_ms, ms);
            bench_samples_add(s->turn ? &r->ttft_later_ms : &r->ttft_first_ms, ms);
        } else
            bench_samples_add(&r->gap_ms, (double)(now - s->t_last_token) / 1000.0);
        s->got_token = 1;
        s->t_last_token = now;
        s->turn_frames++;
        r->token_frames++;
    } else if (!strcmp(type, "done")) {
        const char *fr = json_string_value(json_object_get(j, "finish_reason"));
        json_t *ct = json_object_get(json_object_get(j, "usage"), "completion_tokens");

        /* A frame may carry several of the model's tokens (the worker joins those that
         * arrive together), so tokens are the model's count; frames without usage count 1. */
        r->tokens += json_is_integer(ct) ? (uint64_t)json_integer_value(ct) : s->turn_frames;
        s->turn_frames = 0;
        if (fr && (!strcmp(fr, "stop") || !strcmp(fr, "length")) && s->got_token) {
            r->turns_ok++;
        } else {
            r->turn_errors++;
            s->turn_failed = 1;
        }
        bench_samples_add(&r->turn_ms, (double)(now - s->t_sent) / 1000.0);
        r->wall_s = (double)(now - w->t0) / 1e6;
        s->turn++;
        if (s->turn < w->o->turns) {
            begin_turn(s);
        } else {
            s->want_close = 1;
            lws_callback_on_writable(s->wsi);
        }
    } else if (!strcmp(type, "ack")) {
        bench_samples_add(&r->ack_ms, (double)(now - s->t_sent) / 1000.0);
    } else if (!strcmp(type, "error")) {
        r->error_frames++;
    }
out:
    json_decref(j);
}

static int send_turn(struct sess *s, struct lws *wsi)
{
    unsigned char buf[LWS_PRE + 4096];
    char content[2048];
    json_t *m;

    /* A tag makes every turn's text unique, so bench/hoptrace.py can tell its LLM request. */
    if (s->run->o->tag)
        snprintf(content, sizeof(content), "%s #%d.%d.%d", s->run->o->prompt, (int)getpid(), s->idx,
                 s->turn);
    else
        snprintf(content, sizeof(content), "%s", s->run->o->prompt);
    m = json_pack("{s:s, s:s}", "type", "user_message", "content", content);
    char *txt = m ? json_dumps(m, JSON_COMPACT) : NULL;
    size_t len = txt ? strlen(txt) : 0;
    int rc = -1;

    if (!txt || len > sizeof(buf) - LWS_PRE)
        goto out;
    memcpy(buf + LWS_PRE, txt, len);
    s->want_send = 0;
    s->got_token = 0;
    s->t_sent = bench_now_us();
    if (lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len)
        goto out;
    rc = 0;
out:
    free(txt);
    json_decref(m);
    return rc;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    /* Connection errors can come before lws has attached the user pointer. */
    struct sess *s = user ? user : lws_get_opaque_user_data(wsi);

    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (s && !s->finished) {
            s->run->r->connect_errors++;
            sess_over(s, 0);
        }
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!s)
            break;
        s->run->r->bytes_in += len;
        if (s->rx_len + len + 1 > s->rx_cap) {
            size_t cap = (s->rx_len + len + 1) * 2;
            char *p = realloc(s->rx, cap);
            if (!p)
                return -1;
            s->rx = p;
            s->rx_cap = cap;
        }
        memcpy(s->rx + s->rx_len, in, len);
        s->rx_len += len;
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            on_frame(s, s->rx, s->rx_len);
            s->rx_len = 0;
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!s)
            break;
        if (s->want_close) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            /* Only a session whose every turn got an answer did what was asked. */
            sess_over(s, !s->turn_failed);
            return -1;
        }
        if (s->want_send && send_turn(s, wsi) < 0)
            return -1;
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (s && !s->finished) {
            s->run->r->closed_early++;
            sess_over(s, 0);
        }
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {"bench", callback, 0, 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}
};

static int parse_url(struct ws_run *w, const char *url)
{
    char tmp[1024];
    const char *prot, *ads, *path;
    int port;

    if (snprintf(tmp, sizeof(tmp), "%s", url) >= (int)sizeof(tmp))
        return -1;
    if (lws_parse_uri(tmp, &prot, &ads, &port, &path) || strcmp(prot, "ws"))
        return -1;
    snprintf(w->host, sizeof(w->host), "%s", ads);
    /* lws_parse_uri drops the leading '/'; keep no trailing one so we can append the user id. */
    snprintf(w->path, sizeof(w->path), "/%s", path);
    size_t n = strlen(w->path);
    while (n > 1 && w->path[n - 1] == '/')
        w->path[--n] = '\0';
    w->port = port;
    return 0;
}

int bench_ws_run(const struct bench_opts *o, struct bench_result *r)
{
    struct lws_context_creation_info info;
    struct ws_run w;
    int rc = -1;

    memset(&w, 0, sizeof(w));
    w.o = o;
    w.r = r;
    if (parse_url(&w, o->url) < 0) {
        fprintf(stderr, "loadgen: bad WebSocket URL %s (want ws://host:port/path)\n", o->url);
        return -1;
    }
    w.s = calloc((size_t)o->sessions, sizeof(*w.s));
    if (!w.s)
        return -1;
    lws_set_log_level(LLL_ERR, NULL);
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.gid = -1;
    info.uid = -1;
    w.ctx = lws_create_context(&info);
    if (!w.ctx) {
        fprintf(stderr, "loadgen: lws_create_context failed\n");
        goto out;
    }
    w.t0 = bench_now_us();
    w.t_deadline = w.t0 + (int64_t)o->timeout_s * 1000000;
    lws_sul_schedule(w.ctx, 0, &w.sul, tick, 1);
    while (!w.done)
        if (lws_service(w.ctx, 0) < 0)
            break;
    if (o->turns == 0) {
        r->idle_open = (uint64_t)w.open_now;
        if (o->gateway_pid > 0)
            r->rss_after_kib = bench_rss_kib(o->gateway_pid);
    }
    if (!r->wall_s)
        r->wall_s = (double)(bench_now_us() - w.t0) / 1e6;
    /* Idle sessions still open did what was asked: do not count their close as an error. */
    for (int i = 0; i < w.started; i++)
        if (o->turns == 0 && w.s[i].established)
            sess_over(&w.s[i], 1);
    rc = 0;
out:
    /* Destroying the context closes every connection still open (timeouts, idle mode). */
    lws_context_destroy(w.ctx);
    for (int i = 0; i < o->sessions; i++)
        free(w.s[i].rx);
    free(w.s);
    return rc;
}
