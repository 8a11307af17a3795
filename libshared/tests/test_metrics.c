/* Unit tests for the metrics registry (format, errors, threads) and the admin HTTP server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "sh_admin.h"
#include "sh_err.h"
#include "sh_metrics.h"
#include "sh_time.h"

static char *render(struct sh_metrics *reg)
{
    char *out = NULL;
    size_t len = 0;

    assert_int_equal(sh_metrics_render(reg, &out, &len), SH_OK);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    return out;
}

static void test_render_format(void **state)
{
    struct sh_metrics *reg = sh_metrics_create();
    struct sh_metric *req, *frames, *inflight, *lat, *by_code;
    static const double b[] = {0.25, 1};
    char *out;
    static const char *const want =
        "# HELP chat_requests_total Requests handled.\n"
        "# TYPE chat_requests_total counter\n"
        "chat_requests_total 3\n"
        "# HELP chat_frames_total Frames by type, with a \\\\ and a\\nnewline.\n"
        "# TYPE chat_frames_total counter\n"
        "chat_frames_total{type=\"token\"} 41\n"
        "chat_frames_total{type=\"a \\\"q\\\" \\\\ \\n\"} 1\n"
        "# HELP chat_inflight Turns in flight.\n"
        "# TYPE chat_inflight gauge\n"
        "chat_inflight 1.5\n"
        "# HELP chat_latency_seconds Latency.\n"
        "# TYPE chat_latency_seconds histogram\n"
        "chat_latency_seconds_bucket{le=\"0.25\"} 2\n"
        "chat_latency_seconds_bucket{le=\"1\"} 3\n"
        "chat_latency_seconds_bucket{le=\"+Inf\"} 4\n"
        "chat_latency_seconds_sum 3.8125\n"
        "chat_latency_seconds_count 4\n"
        "# HELP chat_db_seconds \n"
        "# TYPE chat_db_seconds histogram\n"
        "chat_db_seconds_bucket{code=\"ok\",le=\"0.25\"} 0\n"
        "chat_db_seconds_bucket{code=\"ok\",le=\"1\"} 1\n"
        "chat_db_seconds_bucket{code=\"ok\",le=\"+Inf\"} 1\n"
        "chat_db_seconds_sum{code=\"ok\"} 0.5\n"
        "chat_db_seconds_count{code=\"ok\"} 1\n";

    (void)state;
    assert_non_null(reg);
    assert_non_null(req = sh_metrics_counter(reg, "chat_requests_total", "Requests handled.",
                                             NULL));
    assert_non_null(frames = sh_metrics_counter(reg, "chat_frames_total",
                                                "Frames by type, with a \\ and a\nnewline.",
                                                "type"));
    assert_non_null(inflight = sh_metrics_gauge(reg, "chat_inflight", "Turns in flight.", NULL));
    assert_non_null(lat = sh_metrics_histogram(reg, "chat_latency_seconds", "Latency.", NULL,
                                               b, 2));
    assert_non_null(by_code = sh_metrics_histogram(reg, "chat_db_seconds", NULL, "code", b, 2));

    sh_counter_inc(req);
    sh_counter_add(req, 2);
    sh_counter_add(sh_metric_child(frames, "token"), 40);
    sh_counter_inc(sh_metric_child(frames, "a \"q\" \\ \n"));
    sh_counter_inc(sh_metric_child(frames, "token"));  /* same child again */
    sh_gauge_set(inflight, 3);
    sh_gauge_add(inflight, -1.5);
    sh_histogram_observe(lat, 0.0625);
    sh_histogram_observe(lat, 0.25);                   /* le is inclusive */
    sh_histogram_observe(lat, 0.5);
    sh_histogram_observe(lat, 3);
    sh_histogram_observe(lat, NAN);                    /* ignored */
    sh_histogram_observe(sh_metric_child(by_code, "ok"), 0.5);

    out = render(reg);
    assert_string_equal(out, want);
    free(out);
    assert_int_equal(sh_counter_value(req), 3);
    assert_true(sh_gauge_value(inflight) == 1.5);
    assert_int_equal(sh_histogram_count(lat), 4);
    sh_metrics_destroy(reg);
}

static void test_default_buckets_and_values(void **state)
{
    struct sh_metrics *reg = sh_metrics_create();
    struct sh_metric *h = sh_metrics_histogram(reg, "h_seconds", "h", NULL, NULL, 0);
    struct sh_metric *g = sh_metrics_gauge(reg, "g", "g", NULL);
    char *out;

    (void)state;
    assert_non_null(h);
    sh_histogram_observe(h, 0.003);
    sh_gauge_set(g, 1e21);
    sh_gauge_add(g, 0.0);
    out = render(reg);
    assert_non_null(strstr(out, "h_seconds_bucket{le=\"0.005\"} 1\n"));
    assert_non_null(strstr(out, "h_seconds_bucket{le=\"0.025\"} 1\n"));
    assert_non_null(strstr(out, "h_seconds_bucket{le=\"10\"} 1\n"));
    assert_non_null(strstr(out, "h_seconds_bucket{le=\"+Inf\"} 1\n"));
    assert_non_null(strstr(out, "h_seconds_sum 0.003\n"));
    assert_non_null(strstr(out, "g 1e+21\n"));
    free(out);
    sh_gauge_set(g, INFINITY);
    out = render(reg);
    assert_non_null(strstr(out, "g +Inf\n"));
    free(out);
    sh_metrics_destroy(reg);
}

static void test_registration_errors(void **state)
{
    struct sh_metrics *reg = sh_metrics_create();
    struct sh_metric *c, *l, *g;
    static const double bad1[] = {1, 1}, bad2[] = {2, 1};
    double many[SH_METRICS_MAX_BUCKETS + 1];
    char v[16];

    (void)state;
    for (int i = 0; i <= SH_METRICS_MAX_BUCKETS; i++)
        many[i] = i + 1;
    assert_non_null(c = sh_metrics_counter(reg, "ok_total", "x", NULL));
    assert_null(sh_metrics_counter(reg, "ok_total", "dup", NULL));
    assert_null(sh_metrics_gauge(reg, "ok_total", "dup of another type", NULL));
    assert_null(sh_metrics_counter(reg, "9lives", "x", NULL));
    assert_null(sh_metrics_counter(reg, "has-dash", "x", NULL));
    assert_null(sh_metrics_counter(reg, "", "x", NULL));
    assert_null(sh_metrics_counter(reg, NULL, "x", NULL));
    assert_null(sh_metrics_counter(NULL, "x", "x", NULL));
    assert_null(sh_metrics_counter(reg, "l1", "x", "le"));
    assert_null(sh_metrics_counter(reg, "l2", "x", "__reserved"));
    assert_null(sh_metrics_counter(reg, "l3", "x", "a:b"));
    assert_null(sh_metrics_histogram(reg, "h1", "x", NULL, bad1, 2));
    assert_null(sh_metrics_histogram(reg, "h2", "x", NULL, bad2, 2));
    assert_null(sh_metrics_histogram(reg, "h3", "x", NULL, NULL, 3));
    assert_null(sh_metrics_histogram(reg, "h4", "x", NULL, many, SH_METRICS_MAX_BUCKETS + 1));
    assert_non_null(sh_metrics_histogram(reg, "h5", "x", NULL, many, SH_METRICS_MAX_BUCKETS));
    assert_non_null(sh_metrics_counter(reg, "ns:sub_total", "colons are fine in names", NULL));

    /* Children only for labelled families, and only so many of them. */
    assert_null(sh_metric_child(c, "x"));
    assert_null(sh_metric_child(NULL, "x"));
    assert_non_null(l = sh_metrics_counter(reg, "lab_total", "x", "k"));
    assert_null(sh_metric_child(l, NULL));
    for (int i = 0; i < SH_METRICS_MAX_CHILDREN; i++) {
        snprintf(v, sizeof(v), "v%d", i);
        assert_non_null(sh_metric_child(l, v));
    }
    assert_null(sh_metric_child(l, "one-too-many"));
    assert_non_null(sh_metric_child(l, "v7"));          /* existing ones still found */

    /* Updates are NULL-safe and ignore the wrong type. */
    sh_counter_inc(NULL);
    sh_gauge_set(NULL, 1);
    sh_gauge_add(NULL, 1);
    sh_histogram_observe(NULL, 1);
    assert_non_null(g = sh_metrics_gauge(reg, "gg", "x", NULL));
    sh_counter_inc(g);
    sh_gauge_set(c, 5);
    sh_histogram_observe(c, 5);
    assert_true(sh_gauge_value(g) == 0);
    assert_int_equal(sh_counter_value(c), 0);
    assert_int_equal(sh_counter_value(NULL), 0);
    assert_int_equal(sh_histogram_count(NULL), 0);
    assert_int_equal(sh_metrics_render(NULL, NULL, NULL), SH_EINVAL);
    sh_metrics_destroy(reg);
    sh_metrics_destroy(NULL);
}

/* ---- two threads updating while a third renders --------------------------------- */

#define ROUNDS 50000

struct hammer {
    struct sh_metric *c, *g, *h, *fam;
};

static void *hammer_main(void *arg)
{
    struct hammer *hm = arg;
    struct sh_metric *child = sh_metric_child(hm->fam, "shared");

    for (int i = 0; i < ROUNDS; i++) {
        sh_counter_inc(hm->c);
        sh_gauge_add(hm->g, 1);
        sh_histogram_observe(hm->h, (i & 1) ? 0.5 : 2.0);
        sh_counter_inc(child);
    }
    return NULL;
}

static void test_concurrency(void **state)
{
    struct sh_metrics *reg = sh_metrics_create();
    static const double b[] = {1};
    struct hammer hm;
    pthread_t t[2];
    char *out;

    (void)state;
    hm.c = sh_metrics_counter(reg, "c_total", "c", NULL);
    hm.g = sh_metrics_gauge(reg, "g", "g", NULL);
    hm.h = sh_metrics_histogram(reg, "h", "h", NULL, b, 1);
    hm.fam = sh_metrics_counter(reg, "f_total", "f", "k");
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer_main, &hm), 0);
    for (int i = 0; i < 5; i++)
        free(render(reg));                      /* renders race the updates safely */
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(sh_counter_value(hm.c), 2 * ROUNDS);
    assert_true(sh_gauge_value(hm.g) == 2.0 * ROUNDS);
    assert_int_equal(sh_histogram_count(hm.h), 2 * ROUNDS);
    assert_int_equal(sh_counter_value(sh_metric_child(hm.fam, "shared")), 2 * ROUNDS);
    out = render(reg);
    assert_non_null(strstr(out, "h_bucket{le=\"1\"} 50000\n"));
    assert_non_null(strstr(out, "h_sum 125000\n"));     /* 50000 * 0.5 + 50000 * 2 */
    assert_non_null(strstr(out, "f_total{k=\"shared\"} 100000\n"));
    free(out);
    sh_metrics_destroy(reg);
}

/* ---- admin server ------------------------------------------------------------------ */

static int client_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Send 'req' (len bytes) and read the whole answer into 'resp'; returns the status. */
static int http(int port, const char *req, size_t len, char *resp, size_t cap)
{
    int fd = client_connect(port), status = 0;
    size_t n = 0;
    ssize_t r;

    assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    while (n + 1 < cap && (r = recv(fd, resp + n, cap - 1 - n, 0)) > 0)
        n += (size_t)r;
    resp[n] = '\0';
    close(fd);
    if (sscanf(resp, "HTTP/1.1 %d ", &status) != 1)
        return -1;
    return status;
}

static int get(int port, const char *path, char *resp, size_t cap)
{
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);

    return http(port, req, (size_t)n, resp, cap);
}

static const char *body(const char *resp)
{
    const char *p = strstr(resp, "\r\n\r\n");

    return p ? p + 4 : "";
}

struct readiness {
    int ready;
};

static int ready_cb(void *ctx, char *reason, size_t len)
{
    struct readiness *r = ctx;

    if (r->ready)
        return 0;
    snprintf(reason, len, "kafka not connected\r\nX-Injected: 1");
    return 1;
}

static void test_admin_endpoints(void **state)
{
    struct sh_metrics *reg = sh_metrics_create();
    struct readiness rd = {.ready = 1};
    struct sh_admin *a;
    char err[200], resp[16384];
    int port;
    static const char post[] = "POST /healthz HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
    static const char headreq[] = "HEAD /healthz HTTP/1.0\r\n\r\n";

    (void)state;
    sh_counter_add(sh_metrics_counter(reg, "admin_test_total", "t", NULL), 7);
    a = sh_admin_create("127.0.0.1", 0, reg, ready_cb, &rd, err, sizeof(err));
    assert_non_null(a);
    port = sh_admin_port(a);
    assert_true(port > 0 && port < 65536);

    assert_int_equal(get(port, "/healthz", resp, sizeof(resp)), 200);
    assert_string_equal(body(resp), "ok\n");
    assert_non_null(strstr(resp, "Connection: close\r\n"));
    assert_non_null(strstr(resp, "Content-Length: 3\r\n"));
    assert_int_equal(get(port, "/healthz?verbose=1", resp, sizeof(resp)), 200);

    assert_int_equal(get(port, "/readyz", resp, sizeof(resp)), 200);
    assert_string_equal(body(resp), "ready\n");
    rd.ready = 0;
    assert_int_equal(get(port, "/readyz", resp, sizeof(resp)), 503);
    assert_string_equal(body(resp), "not ready: kafka not connected  X-Injected: 1\n");
    assert_null(strstr(resp, "\r\nX-Injected"));

    assert_int_equal(get(port, "/metrics", resp, sizeof(resp)), 200);
    assert_non_null(strstr(resp, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert_non_null(strstr(body(resp), "# TYPE admin_test_total counter\nadmin_test_total 7\n"));

    assert_int_equal(get(port, "/nope", resp, sizeof(resp)), 404);
    assert_int_equal(get(port, "/", resp, sizeof(resp)), 404);
    assert_int_equal(http(port, post, sizeof(post) - 1, resp, sizeof(resp)), 405);
    assert_non_null(strstr(resp, "Allow: GET, HEAD\r\n"));
    assert_int_equal(http(port, headreq, sizeof(headreq) - 1, resp, sizeof(resp)), 200);
    assert_string_equal(body(resp), "");
    assert_int_equal(http(port, "garbage\r\n\r\n", 11, resp, sizeof(resp)), 400);

    sh_admin_destroy(a);
    sh_metrics_destroy(reg);
}

static void test_admin_oversized(void **state)
{
    struct sh_admin *a;
    char err[200], resp[4096];
    size_t len = SH_ADMIN_MAX_REQUEST + 2000;
    char *big = malloc(len);

    (void)state;
    assert_non_null(big);
    a = sh_admin_create("127.0.0.1", 0, NULL, NULL, NULL, err, sizeof(err));
    assert_non_null(a);
    /* A request head that never ends within the limit. */
    memcpy(big, "GET /healthz HTTP/1.1\r\nX-Pad: ", 30);
    memset(big + 30, 'a', len - 30);
    assert_int_equal(http(sh_admin_port(a), big, len, resp, sizeof(resp)), 431);
    /* The server still answers afterwards; without a registry or callback: */
    assert_int_equal(get(sh_admin_port(a), "/metrics", resp, sizeof(resp)), 404);
    assert_int_equal(get(sh_admin_port(a), "/readyz", resp, sizeof(resp)), 200);
    free(big);
    sh_admin_destroy(a);
}

static void test_admin_lifecycle(void **state)
{
    struct sh_admin *a, *b;
    char err[200];
    int idle;
    int64_t t0;

    (void)state;
    sh_admin_destroy(NULL);
    assert_int_equal(sh_admin_port(NULL), -1);
    assert_null(sh_admin_create("127.0.0.1", 70000, NULL, NULL, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "70000"));
    a = sh_admin_create("127.0.0.1", 0, NULL, NULL, NULL, err, sizeof(err));
    assert_non_null(a);
    /* The same port again: in use. */
    b = sh_admin_create("127.0.0.1", sh_admin_port(a), NULL, NULL, NULL, err, sizeof(err));
    assert_null(b);
    assert_non_null(strstr(err, "cannot listen"));
    /* A client that connects and sends nothing must not hold up the shutdown. */
    idle = client_connect(sh_admin_port(a));
    usleep(50 * 1000);
    t0 = sh_mono_ms();
    sh_admin_destroy(a);
    assert_true(sh_mono_ms() - t0 < 1000);
    close(idle);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render_format),
        cmocka_unit_test(test_default_buckets_and_values),
        cmocka_unit_test(test_registration_errors),
        cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_admin_endpoints),
        cmocka_unit_test(test_admin_oversized),
        cmocka_unit_test(test_admin_lifecycle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
