/* Tests for the curl-multi Chat Completions client against a tiny in-process HTTP server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "sh_err.h"
#include "sh_oai_client.h"

/* ---- the server: one thread accepting, one per connection, HTTP/1.1 keep-alive ---- */

enum scen { S_OK, S_R429, S_E500, S_QUOTA, S_CUT, S_HANG, S_JSON, S_TOOLS, S_R503MS, S_401,
            S_STALL, S_LONG429, S_SERR, S_BADCHUNK, N_SCEN };
static const char *const scen_names[N_SCEN] = {
    "ok", "r429", "e500", "quota", "cut", "hang", "json", "tools", "r503ms", "401", "stall",
    "long429", "serr", "badchunk",
};

#define MAX_CONNS 256

static struct {
    int lfd, port;
    pthread_t acceptor;
    atomic_int stop;
    atomic_int hits[N_SCEN];
    atomic_int closed_hangs;         /* hang/stall connections the client closed */
    atomic_int accepted;             /* connections accepted since reset_hits() */
    pthread_mutex_t mu;
    pthread_t conns[MAX_CONNS];
    int n_conns;
    char last_auth[128];
    char last_body[2048];
} srv;

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_chunk(int fd, const char *p, size_t n)
{
    char hdr[32];

    snprintf(hdr, sizeof(hdr), "%zx\r\n", n);
    return send_all(fd, hdr, strlen(hdr)) || send_all(fd, p, n) || send_all(fd, "\r\n", 2);
}

/* SSE bytes in pieces of 'piece' bytes, each its own HTTP chunk, with tiny pauses. */
static int send_sse(int fd, const char *sse, size_t piece)
{
    size_t len = strlen(sse);

    for (size_t off = 0; off < len; off += piece) {
        if (send_chunk(fd, sse + off, len - off < piece ? len - off : piece))
            return -1;
        if ((off / piece) % 8 == 0)
            usleep(300);
    }
    return 0;
}

static int send_headers(int fd, int status, const char *ctype, const char *extra, long clen)
{
    char h[512];

    if (clen >= 0)
        snprintf(h, sizeof(h), "HTTP/1.1 %d X\r\nContent-Type: %s\r\nx-request-id: req_%d\r\n"
                 "%sContent-Length: %ld\r\n\r\n", status, ctype, status, extra, clen);
    else
        snprintf(h, sizeof(h), "HTTP/1.1 %d X\r\nContent-Type: %s\r\nx-request-id: req_%d\r\n"
                 "%sTransfer-Encoding: chunked\r\n\r\n", status, ctype, status, extra);
    return send_all(fd, h, strlen(h));
}

static int send_json(int fd, int status, const char *extra, const char *body)
{
    return send_headers(fd, status, "application/json", extra, (long)strlen(body)) ||
           send_all(fd, body, strlen(body));
}

#define CHUNK(delta) "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":" \
                     "[{\"index\":0,\"delta\":" delta ",\"finish_reason\":null}]}\n\n"

static const char ok_stream[] =
    ": ping\n\n"
    CHUNK("{\"role\":\"assistant\",\"content\":\"\"}")
    CHUNK("{\"content\":\"Hel\"}")
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\r\n\r\n"
    CHUNK("{\"content\":\" w\xC3\xB6rld\"}")
    CHUNK("{\"content\":\"!\"}")
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":4,"
    "\"total_tokens\":9}}\n\n"
    "data: [DONE]\n\n";

static const char tools_stream[] =
    CHUNK("{\"role\":\"assistant\",\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":"
          "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}},{\"index\":1,"
          "\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
          "\"arguments\":\"\"}}]}")
    CHUNK("{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{\\\"location\\\":\"}}]}")
    CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"location\\\":"
          "\\\"Oslo\\\"}\"}}]}")
    CHUNK("{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"\\\"Lima\\\"}\"}}]}")
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: [DONE]\n\n";

/* Wait until the client closes the connection (or 5 s pass, or the server stops). */
static void wait_close(int fd)
{
    int64_t end = mono_ms() + 5000;
    char b[256];

    while (!atomic_load(&srv.stop) && mono_ms() < end) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        if (poll(&p, 1, 50) > 0 && recv(fd, b, sizeof(b), 0) <= 0) {
            atomic_fetch_add(&srv.closed_hangs, 1);
            return;
        }
    }
}

/* Answer one request; returns 1 to keep the connection, 0 to close it. */
static int serve(int fd, enum scen s, int hit)
{
    static const char *const sse = "text/event-stream";

    switch (s) {
    case S_OK:
        return !(send_headers(fd, 200, sse, "", -1) || send_sse(fd, ok_stream, 5) ||
                 send_all(fd, "0\r\n\r\n", 5));
    case S_R429:
        if (hit == 1)
            return !send_json(fd, 429, "retry-after: 0\r\n", "{\"error\":{\"message\":\"slow "
                              "down\",\"type\":\"requests\",\"code\":\"rate_limit_exceeded\"}}");
        return serve(fd, S_OK, hit);
    case S_R503MS:
        if (hit == 1)
            return !send_json(fd, 503, "retry-after-ms: 150\r\nretry-after: 30\r\n",
                              "{\"error\":{\"message\":\"busy\"}}");
        return serve(fd, S_OK, hit);
    case S_E500:
        return !send_json(fd, 500, "", "{\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}");
    case S_QUOTA:
        return !send_json(fd, 429, "retry-after: 0\r\n", "{\"error\":{\"message\":\"You exceeded "
                          "your current quota\",\"type\":\"insufficient_quota\",\"param\":null,"
                          "\"code\":\"insufficient_quota\"}}");
    case S_LONG429:
        return !send_json(fd, 429, "retry-after: 120\r\n", "{\"error\":{\"message\":\"later\"}}");
    case S_SERR:
        return !(send_headers(fd, 200, sse, "", -1) ||
                 send_sse(fd, "data: {\"error\":{\"message\":\"model overloaded\",\"type\":"
                          "\"server_error\",\"code\":\"overloaded\"}}\n\n", 64) ||
                 send_all(fd, "0\r\n\r\n", 5));
    case S_BADCHUNK:
        return !(send_headers(fd, 200, sse, "", -1) ||
                 send_sse(fd, CHUNK("{\"content\":\"Hel\"}") "data: {not json}\n\n"
                          CHUNK("{\"content\":\"lo\"}") "data: [DONE]\n\n", 64) ||
                 send_all(fd, "0\r\n\r\n", 5));
    case S_401:
        return !send_json(fd, 401, "", "{\"error\":{\"message\":\"bad key\",\"type\":"
                          "\"invalid_request_error\",\"code\":\"invalid_api_key\"}}");
    case S_CUT:
        send_headers(fd, 200, sse, "", -1);
        send_sse(fd, CHUNK("{\"content\":\"Hel\"}") CHUNK("{\"content\":\"lo\"}")
                 "data: {\"choices\":[{\"ind", 7);
        return 0;                        /* close without the final 0-chunk */
    case S_HANG:
    case S_STALL:
        send_headers(fd, 200, sse, "", -1);
        send_sse(fd, CHUNK("{\"content\":\"tick\"}") CHUNK("{\"content\":\"tock\"}"), 64);
        wait_close(fd);
        return 0;
    case S_JSON:
        return !send_json(fd, 200, "", "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":"
                          "[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                          "\"Summary.\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens"
                          "\":10,\"completion_tokens\":2,\"total_tokens\":12}}");
    case S_TOOLS:
        return !(send_headers(fd, 200, "text/event-stream; charset=utf-8", "", -1) ||
                 send_sse(fd, tools_stream, 11) || send_all(fd, "0\r\n\r\n", 5));
    default:
        return 0;
    }
}

/* Read one request; fills the scenario. Returns 1, or 0 when the peer closed. */
static int read_request(int fd, enum scen *s)
{
    char buf[16384], path[128] = "", *end, *cl;
    size_t len = 0, need;
    long clen = 0;

    for (;;) {
        ssize_t r;

        buf[len] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")))
            break;
        if (len + 1 >= sizeof(buf))
            return 0;
        r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0)
            return 0;
        len += (size_t)r;
    }
    cl = strcasestr(buf, "\r\ncontent-length:");
    if (cl)
        clen = strtol(cl + 17, NULL, 10);
    need = (size_t)(end + 4 - buf) + (size_t)clen;
    while (len < need && len + 1 < sizeof(buf)) {
        ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);

        if (r <= 0)
            return 0;
        len += (size_t)r;
    }
    buf[len] = '\0';
    sscanf(buf, "POST /%127[^/]", path);
    pthread_mutex_lock(&srv.mu);
    cl = strcasestr(buf, "\r\nauthorization: ");
    snprintf(srv.last_auth, sizeof(srv.last_auth), "%.*s", cl ? (int)strcspn(cl + 17, "\r") : 0,
             cl ? cl + 17 : "");
    snprintf(srv.last_body, sizeof(srv.last_body), "%s", end + 4);
    pthread_mutex_unlock(&srv.mu);
    for (int i = 0; i < N_SCEN; i++)
        if (strcmp(path, scen_names[i]) == 0)
            *s = (enum scen)i;
    return 1;
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    enum scen s = N_SCEN;

    while (read_request(fd, &s) && s != N_SCEN)
        if (!serve(fd, s, atomic_fetch_add(&srv.hits[s], 1) + 1))
            break;
    close(fd);
    return NULL;
}

static void *accept_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&srv.stop)) {
        struct pollfd p = { .fd = srv.lfd, .events = POLLIN };
        int fd, one = 1;

        if (poll(&p, 1, 50) <= 0)
            continue;
        fd = accept(srv.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        atomic_fetch_add(&srv.accepted, 1);
        pthread_mutex_lock(&srv.mu);
        if (srv.n_conns < MAX_CONNS &&
            pthread_create(&srv.conns[srv.n_conns], NULL, conn_main, (void *)(intptr_t)fd) == 0)
            srv.n_conns++;
        else
            close(fd);
        pthread_mutex_unlock(&srv.mu);
    }
    return NULL;
}

static int server_start(void **state)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(a);

    (void)state;
    memset(&srv, 0, sizeof(srv));
    pthread_mutex_init(&srv.mu, NULL);
    srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (srv.lfd < 0 || bind(srv.lfd, (struct sockaddr *)&a, sizeof(a)) ||
        listen(srv.lfd, 64) || getsockname(srv.lfd, (struct sockaddr *)&a, &alen))
        return -1;
    srv.port = ntohs(a.sin_port);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return pthread_create(&srv.acceptor, NULL, accept_main, NULL);
}

static int server_stop(void **state)
{
    (void)state;
    atomic_store(&srv.stop, 1);
    pthread_join(srv.acceptor, NULL);
    for (int i = 0; i < srv.n_conns; i++)
        pthread_join(srv.conns[i], NULL);
    close(srv.lfd);
    pthread_mutex_destroy(&srv.mu);
    curl_global_cleanup();
    return 0;
}

static int reset_hits(void **state)
{
    (void)state;
    for (int i = 0; i < N_SCEN; i++)
        atomic_store(&srv.hits[i], 0);
    atomic_store(&srv.closed_hangs, 0);
    atomic_store(&srv.accepted, 0);
    return 0;
}

/* ---- client side helpers ---- */

struct rec {
    struct sh_oai_client *c;
    uint64_t id;
    char content[1024];
    int deltas, done_calls;
    bool cancel_on_first;            /* cancel from inside on_delta */
    bool start_another;              /* start a request from inside on_done */
    struct rec *next_rec;
    /* copied from the result */
    bool ok, delivered, has_usage;
    enum sh_oai_class cls, cause;
    long status;
    int attempts;
    char error_code[64], finish[32], request_id[64], tool_names[64], tool_args[128];
    size_t n_tools;
    long long total_tokens;
    int64_t done_at;
};

static void on_delta(void *user, const struct sh_oai_delta *d)
{
    struct rec *r = user;

    assert_int_equal(r->done_calls, 0);   /* nothing after on_done */
    r->deltas++;
    strncat(r->content, d->content, sizeof(r->content) - strlen(r->content) - 1);
    if (r->cancel_on_first && d->content_len) {
        r->cancel_on_first = false;
        assert_int_equal(sh_oai_client_cancel(r->c, r->id), 0);
        assert_int_equal(r->done_calls, 0);   /* deferred, not nested */
        assert_int_equal(sh_oai_client_cancel(r->c, r->id), SH_ENOTFOUND);
    }
}

static void on_done(void *user, const struct sh_oai_result *res);
static const struct sh_oai_callbacks cbs = { on_delta, on_done };

static void on_done(void *user, const struct sh_oai_result *res)
{
    struct rec *r = user;

    r->done_calls++;
    r->done_at = mono_ms();
    r->ok = res->ok;
    r->cls = res->cls;
    r->cause = res->cause;
    r->status = res->http_status;
    r->attempts = res->attempts;
    r->delivered = res->delivered;
    r->has_usage = res->has_usage;
    r->total_tokens = res->usage.total_tokens;
    r->n_tools = res->n_tool_calls;
    assert_int_equal(res->req_id, r->id);
    assert_int_equal(strlen(res->content), res->content_len);
    snprintf(r->error_code, sizeof(r->error_code), "%s", res->error_code ? res->error_code : "");
    snprintf(r->finish, sizeof(r->finish), "%s", res->finish_reason ? res->finish_reason : "");
    snprintf(r->request_id, sizeof(r->request_id), "%s", res->request_id);
    for (size_t i = 0; i < res->n_tool_calls; i++) {
        const struct sh_oai_tool_call *t = &res->tool_calls[i];
        size_t l = strlen(r->tool_names), la = strlen(r->tool_args);

        snprintf(r->tool_names + l, sizeof(r->tool_names) - l, "%s%s:%s", i ? "," : "", t->id,
                 t->name);
        snprintf(r->tool_args + la, sizeof(r->tool_args) - la, "%s%s", i ? "," : "",
                 t->args_valid ? json_string_value(json_object_get(t->args, "location")) : "?");
    }
    if (!res->delivered && res->content_len)   /* non-streamed: the whole text is here */
        snprintf(r->content, sizeof(r->content), "%s", res->content);
    if (r->start_another && r->next_rec)
        assert_int_equal(sh_oai_client_start(r->c, "{\"stream\":false}", &cbs, r->next_rec,
                                             &r->next_rec->id), 0);
}

static struct sh_oai_client *client_for(const char *scen, int retries, long idle_ms)
{
    char url[128];
    struct sh_oai_client_conf conf = {
        .base_url = url, .api_key = "sk-test", .connect_timeout_ms = 2000,
        .timeout_ms = 10000, .idle_timeout_ms = idle_ms, .max_retries = retries ? retries : -1,
        .backoff_base_ms = 5, .backoff_max_ms = 20, .max_transfers = 4,
    };

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s/v1/", srv.port, scen);
    return sh_oai_client_create(&conf);
}

static const char stream_body[] =
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true,"
    "\"stream_options\":{\"include_usage\":true}}";

static void start(struct sh_oai_client *c, struct rec *r, const char *body)
{
    r->c = c;
    assert_int_equal(sh_oai_client_start(c, body, &cbs, r, &r->id), 0);
    assert_true(r->id != 0);
}

/* Poll until nothing is active (bounded). */
static void run(struct sh_oai_client *c)
{
    int64_t end = mono_ms() + 8000;

    while (sh_oai_client_active(c) > 0 && mono_ms() < end)
        assert_true(sh_oai_client_poll(c, 50) >= 0);
    assert_int_equal(sh_oai_client_active(c), 0);
}

/* ---- tests ---- */

static void test_stream_ok(void **state)
{
    struct sh_oai_client *c = client_for("ok", 2, 0);
    struct rec r = { 0 };

    (void)state;
    start(c, &r, stream_body);
    run(c);
    assert_int_equal(r.done_calls, 1);
    assert_true(r.ok);
    assert_int_equal(r.cls, SH_OAI_OK);
    assert_string_equal(r.content, "Hello w\xC3\xB6rld!");
    assert_true(r.deltas >= 4);
    assert_true(r.delivered);
    assert_int_equal(r.attempts, 1);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.finish, "stop");
    assert_true(r.has_usage);
    assert_int_equal(r.total_tokens, 9);
    assert_string_equal(r.request_id, "req_200");
    pthread_mutex_lock(&srv.mu);
    assert_string_equal(srv.last_auth, "Bearer sk-test");
    assert_non_null(strstr(srv.last_body, "\"stream\":true"));
    pthread_mutex_unlock(&srv.mu);
    assert_int_equal(sh_oai_client_cancel(c, r.id), SH_ENOTFOUND);
    memset(&r, 0, sizeof(r));
    start(c, &r, stream_body);
    run(c);
    assert_true(r.ok);
    assert_int_equal(atomic_load(&srv.accepted), 1);        /* second request reused it */
    sh_oai_client_destroy(c);
}

static void test_many_concurrent(void **state)
{
    struct sh_oai_client *c = client_for("ok", 2, 0);   /* max_transfers 4: the rest queue */
    struct rec r[12];

    (void)state;
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 12; i++)
        start(c, &r[i], stream_body);
    assert_int_equal(sh_oai_client_active(c), 12);
    run(c);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(r[i].done_calls, 1);
        assert_true(r[i].ok);
        assert_string_equal(r[i].content, "Hello w\xC3\xB6rld!");
    }
    assert_int_equal(atomic_load(&srv.hits[S_OK]), 12);
    /* One multi handle keeps connections alive: 4 slots, 4 connections, reused. */
    assert_true(atomic_load(&srv.accepted) <= 4);
    sh_oai_client_destroy(c);
}

static void test_tool_calls(void **state)
{
    struct sh_oai_client *c = client_for("tools", 2, 0);
    struct rec r = { 0 };

    (void)state;
    start(c, &r, stream_body);
    run(c);
    assert_true(r.ok);
    assert_string_equal(r.finish, "tool_calls");
    assert_int_equal(r.n_tools, 2);
    assert_string_equal(r.tool_names, "call_a:get_weather,call_b:get_weather");
    assert_string_equal(r.tool_args, "Oslo,Lima");
    assert_true(r.delivered);
    sh_oai_client_destroy(c);
}

static void test_429_then_ok(void **state)
{
    struct sh_oai_client *c = client_for("r429", 3, 0);
    struct rec r = { 0 };

    (void)state;
    start(c, &r, stream_body);
    run(c);
    assert_true(r.ok);
    assert_int_equal(r.attempts, 2);
    assert_string_equal(r.content, "Hello w\xC3\xB6rld!");
    assert_int_equal(atomic_load(&srv.hits[S_R429]), 2);
    sh_oai_client_destroy(c);
}

static void test_retry_after_ms(void **state)
{
    struct sh_oai_client *c = client_for("r503ms", 3, 0);
    struct rec r = { 0 };
    int64_t t0 = mono_ms();

    (void)state;
    start(c, &r, stream_body);
    run(c);
    assert_true(r.ok);
    assert_int_equal(r.attempts, 2);
    /* retry-after-ms (150) wins over retry-after (30 s), and is waited for. */
    assert_true(r.done_at - t0 >= 150);
    assert_true(r.done_at - t0 < 3000);
    sh_oai_client_destroy(c);
}

static void test_500_forever(void **state)
{
    struct sh_oai_client *c = client_for("e500", 3, 0);
    struct rec r = { 0 };

    (void)state;
    start(c, &r, stream_body);
    run(c);
    assert_false(r.ok);
    assert_int_equal(r.cls, SH_OAI_RETRIES_EXHAUSTED);
    assert_int_equal(r.cause, SH_OAI_HTTP_5XX);
    assert_int_equal(r.status, 500);
    assert_int_equal(r.attempts, 4);
    assert_int_equal(atomic_load(&srv.hits[S_E500]), 4);
    assert_false(r.delivered);
    assert_int_equal(r.deltas, 0);
    assert_int_equal(r.done_calls, 1);
    sh_oai_client_destroy(c);
}

static void test_quota_not_retried(void **state)
{
    struct sh_oai_client *c = client_for("quota", 3, 0);
    struct rec r = { 0 };

    (void)state;
    start(c, &r, stream_body);
    run(c);
    assert_int_equal(r.cls, SH_OAI_QUOTA);
    assert_int_equal(r.status, 429);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.error_code, "insufficient_quota");
    assert_int_equal(atomic_load(&srv.hits[S_QUOTA]), 1);
    sh_oai_client_destroy(c);
}

static void test_401_not_retried(void **state)
{
    struct sh_oai_client *c = client_for("401", 3, 0);
    struct rec r = { 0 };

    (void)state;
    start(c, &r, "{\"model\":\"m\",\"messages\":[]}");
    run(c);
    assert_int_equal(r.cls, SH_OAI_HTTP_4XX);
    assert_int_equal(r.status, 401);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.error_code, "invalid_api_key");
    sh_oai_client_destroy(c);
}

/* A retry-after longer than max_retry_after_ms is not waited for. */
static void test_long_retry_after(void **state)
{
    struct sh_oai_client *c = client_for("long429", 3, 0);
    struct rec r = { 0 };
    int64_t t0 = mono_ms();

    (void)state;
    start(c, &r, stream_body);
    run(c);
    assert_int_equal(r.cls, SH_OAI_RATE_LIMITED);
    assert_int_equal(r.attempts, 1);
    assert_true(mono_ms() - t0 < 3000);
    sh_oai_client_destroy(c);
}

static void test_stream_error_and_bad_chunk(void **state)
{
    struct sh_oai_client *c = client_for("serr", 3, 0);
    struct rec r = { 0 };

    (void)state;
    start(c, &r, stream_body);
    run(c);
    assert_int_equal(r.cls, SH_OAI_SERVER);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.error_code, "overloaded");
    sh_oai_client_destroy(c);

    c = client_for("badchunk", 3, 0);
    memset(&r, 0, sizeof(r));
    start(c, &r, stream_body);
    run(c);
    assert_int_equal(r.cls, SH_OAI_PROTOCOL);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.content, "Hel");        /* nothing after the bad chunk */
    sh_oai_client_destroy(c);
}

static void test_cut_after_tokens(void **state)
{
    struct sh_oai_client *c = client_for("cut", 3, 0);
    struct rec r = { 0 };

    (void)state;
    start(c, &r, stream_body);
    run(c);
    assert_int_equal(r.cls, SH_OAI_CUT);
    assert_int_equal(r.attempts, 1);         /* tokens were shown: no retry */
    assert_true(r.delivered);
    assert_string_equal(r.content, "Hello");
    assert_int_equal(atomic_load(&srv.hits[S_CUT]), 1);
    sh_oai_client_destroy(c);
}

static void test_cancel_inside_callback(void **state)
{
    struct sh_oai_client *c = client_for("hang", 3, 0);
    struct rec r = { .cancel_on_first = true };
    int64_t end = mono_ms() + 3000;

    (void)state;
    start(c, &r, stream_body);
    run(c);
    assert_int_equal(r.done_calls, 1);
    assert_int_equal(r.cls, SH_OAI_CANCELLED);
    assert_int_equal(r.deltas, 1);
    assert_string_equal(r.content, "tick");
    assert_int_equal(r.attempts, 1);
    while (atomic_load(&srv.closed_hangs) < 1 && mono_ms() < end)
        usleep(10000);
    assert_int_equal(atomic_load(&srv.closed_hangs), 1);   /* the transfer really stopped */
    sh_oai_client_destroy(c);
}

static void test_cancel_outside_and_destroy(void **state)
{
    struct sh_oai_client *c = client_for("hang", 3, 0);
    struct rec a = { 0 }, b = { 0 }, q = { 0 };
    int64_t end = mono_ms() + 3000;

    (void)state;
    start(c, &a, stream_body);
    start(c, &b, stream_body);
    while ((a.deltas < 2 || b.deltas < 2) && mono_ms() < end)
        sh_oai_client_poll(c, 20);
    assert_int_equal(a.deltas, 2);
    assert_int_equal(sh_oai_client_cancel(c, a.id), 0);
    assert_int_equal(a.done_calls, 1);       /* synchronous outside callbacks */
    assert_int_equal(a.cls, SH_OAI_CANCELLED);
    assert_string_equal(a.content, "ticktock");
    assert_int_equal(sh_oai_client_active(c), 1);
    start(c, &q, stream_body);               /* queued/not yet polled */
    sh_oai_client_destroy(c);
    assert_int_equal(b.done_calls, 1);
    assert_int_equal(b.cls, SH_OAI_CANCELLED);
    assert_int_equal(q.done_calls, 1);
    assert_int_equal(q.cls, SH_OAI_CANCELLED);
    assert_int_equal(q.deltas, 0);
    sh_oai_client_destroy(NULL);
}

static void test_idle_timeout_after_tokens(void **state)
{
    struct sh_oai_client *c = client_for("stall", 3, 200);
    struct rec r = { 0 };
    int64_t t0 = mono_ms();

    (void)state;
    start(c, &r, stream_body);
    run(c);
    assert_int_equal(r.cls, SH_OAI_TIMEOUT);
    assert_int_equal(r.attempts, 1);
    assert_string_equal(r.content, "ticktock");
    assert_true(r.done_at - t0 >= 200 && r.done_at - t0 < 3000);
    sh_oai_client_destroy(c);
}

static void test_non_stream_and_start_from_done(void **state)
{
    struct sh_oai_client *c = client_for("json", 3, 0);
    struct rec second = { 0 };
    struct rec first = { .start_another = true, .next_rec = &second };

    (void)state;
    second.c = c;
    start(c, &first, "{\"model\":\"m\",\"messages\":[],\"stream\":false}");
    run(c);
    assert_true(first.ok);
    assert_int_equal(first.deltas, 0);
    assert_string_equal(first.content, "Summary.");
    assert_int_equal(first.total_tokens, 12);
    assert_string_equal(first.finish, "stop");
    assert_int_equal(second.done_calls, 1);
    assert_true(second.ok);
    assert_string_equal(second.content, "Summary.");
    sh_oai_client_destroy(c);
}

static void test_connect_refused(void **state)
{
    char url[64];
    struct sh_oai_client_conf conf = { .base_url = url, .max_retries = 2, .backoff_base_ms = 5,
                                       .backoff_max_ms = 10 };
    struct sh_oai_client *c;
    struct rec r = { 0 };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(a);

    (void)state;
    /* A port that was just free: bound, never listened on. */
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", ntohs(a.sin_port));
    c = sh_oai_client_create(&conf);
    assert_non_null(c);
    start(c, &r, stream_body);
    run(c);
    close(fd);
    assert_int_equal(r.cls, SH_OAI_RETRIES_EXHAUSTED);
    assert_int_equal(r.cause, SH_OAI_NETWORK);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(r.status, 0);
    sh_oai_client_destroy(c);
}

static void *wake_later(void *arg)
{
    usleep(100000);
    sh_oai_client_wakeup(arg);
    return NULL;
}

static void test_bad_input_and_wakeup(void **state)
{
    struct sh_oai_client_conf bad = { 0 };
    struct sh_oai_client *c = client_for("ok", 1, 0);
    struct sh_oai_callbacks no_done = { on_delta, NULL };
    uint64_t id = 0;
    pthread_t t;
    int64_t t0;

    (void)state;
    assert_null(sh_oai_client_create(NULL));
    assert_null(sh_oai_client_create(&bad));
    assert_int_equal(sh_oai_client_start(c, "not json", &cbs, NULL, &id), SH_EINVAL);
    assert_int_equal(sh_oai_client_start(c, "{}", &no_done, NULL, &id), SH_EINVAL);
    assert_int_equal(sh_oai_client_active(c), 0);
    assert_int_equal(sh_oai_client_cancel(c, 12345), SH_ENOTFOUND);
    assert_string_equal(sh_oai_class_name(SH_OAI_CUT), "cut");
    t0 = mono_ms();
    assert_int_equal(pthread_create(&t, NULL, wake_later, c), 0);
    assert_int_equal(sh_oai_client_poll(c, 5000), 0);
    assert_true(mono_ms() - t0 < 2000);
    pthread_join(t, NULL);
    t0 = mono_ms();
    assert_int_equal(sh_oai_client_poll(c, 30), 0);          /* idle poll honours the timeout */
    assert_true(mono_ms() - t0 >= 25);
    sh_oai_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_stream_ok, reset_hits),
        cmocka_unit_test_setup(test_many_concurrent, reset_hits),
        cmocka_unit_test_setup(test_tool_calls, reset_hits),
        cmocka_unit_test_setup(test_429_then_ok, reset_hits),
        cmocka_unit_test_setup(test_retry_after_ms, reset_hits),
        cmocka_unit_test_setup(test_500_forever, reset_hits),
        cmocka_unit_test_setup(test_quota_not_retried, reset_hits),
        cmocka_unit_test_setup(test_401_not_retried, reset_hits),
        cmocka_unit_test_setup(test_cut_after_tokens, reset_hits),
        cmocka_unit_test_setup(test_long_retry_after, reset_hits),
        cmocka_unit_test_setup(test_stream_error_and_bad_chunk, reset_hits),
        cmocka_unit_test_setup(test_cancel_inside_callback, reset_hits),
        cmocka_unit_test_setup(test_cancel_outside_and_destroy, reset_hits),
        cmocka_unit_test_setup(test_idle_timeout_after_tokens, reset_hits),
        cmocka_unit_test_setup(test_non_stream_and_start_from_done, reset_hits),
        cmocka_unit_test_setup(test_connect_refused, reset_hits),
        cmocka_unit_test_setup(test_bad_input_and_wakeup, reset_hits),
    };

    return cmocka_run_group_tests_name("sh_oai_client", tests, server_start, server_stop);
}
