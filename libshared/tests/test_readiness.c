/* Unit tests for the Kafka + database readiness state (sh_readiness) and for
 * sh_admin_start(), which serves it on /readyz. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "sh_admin.h"
#include "sh_err.h"
#include "sh_readiness.h"
#include "sh_time.h"

static void test_starts_not_ready(void **state)
{
    struct sh_readiness r;
    char why[64] = "";

    (void)state;
    memset(&r, 0xff, sizeof(r));                /* init must not rely on a zeroed struct */
    sh_readiness_init(&r);
    assert_int_equal(r.next_probe_ms, 0);
    assert_int_equal(sh_readiness_check(&r, why, sizeof(why)), 1);
    assert_string_equal(why, "kafka not reachable");
    sh_readiness_init(NULL);                    /* NULL-safe */
    sh_readiness_probe(NULL, NULL, true);
    assert_int_equal(sh_readiness_check(NULL, why, sizeof(why)), 1);
    assert_string_equal(why, "no readiness state");
}

static void test_check_order(void **state)
{
    struct sh_readiness r;
    char why[64];

    (void)state;
    sh_readiness_init(&r);
    /* Kafka down is reported first, whatever the database does. */
    atomic_store(&r.db_up, true);
    assert_int_equal(sh_readiness_check(&r, why, sizeof(why)), 1);
    assert_string_equal(why, "kafka not reachable");
    atomic_store(&r.kafka_up, true);
    atomic_store(&r.db_up, false);
    assert_int_equal(sh_readiness_check(&r, why, sizeof(why)), 1);
    assert_string_equal(why, "database not connected");
    atomic_store(&r.db_up, true);
    strcpy(why, "untouched");
    assert_int_equal(sh_readiness_check(&r, why, sizeof(why)), 0);
    assert_string_equal(why, "untouched");      /* a ready answer writes no reason */
    /* A short buffer gets a truncated, terminated reason. */
    atomic_store(&r.kafka_up, false);
    assert_int_equal(sh_readiness_check(&r, why, 6), 1);
    assert_string_equal(why, "kafka");
}

static void test_probe_without_kafka_handle(void **state)
{
    struct sh_readiness r;
    char why[64];

    (void)state;
    sh_readiness_init(&r);
    sh_readiness_probe(&r, NULL, true);         /* records the database, leaves Kafka alone */
    assert_true(atomic_load(&r.db_up));
    assert_false(atomic_load(&r.kafka_up));
    assert_int_equal(r.next_probe_ms, 0);       /* no Kafka probe was made */
    atomic_store(&r.kafka_up, true);
    sh_readiness_probe(&r, NULL, true);
    assert_int_equal(sh_readiness_check(&r, why, sizeof(why)), 0);
    sh_readiness_probe(&r, NULL, false);        /* the database went away */
    assert_int_equal(sh_readiness_check(&r, why, sizeof(why)), 1);
    assert_string_equal(why, "database not connected");
    assert_true(atomic_load(&r.kafka_up));
}

/* A client whose only broker refuses connections: every metadata request fails. */
static rd_kafka_t *unreachable_client(void)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;

    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", "127.0.0.1:1", errstr,
                                       sizeof(errstr)), RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)),
                     RD_KAFKA_CONF_OK);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    assert_non_null(rk);                        /* conf is now owned by rk */
    return rk;
}

static void test_probe_is_rate_limited(void **state)
{
    struct sh_readiness r;
    rd_kafka_t *rk = unreachable_client();
    int64_t t0, took;

    (void)state;
    sh_readiness_init(&r);
    atomic_store(&r.kafka_up, true);            /* believed up: the first probe corrects it */
    t0 = sh_mono_ms();
    sh_readiness_probe(&r, rk, true);
    took = sh_mono_ms() - t0;
    assert_false(atomic_load(&r.kafka_up));
    assert_true(took <= SH_READINESS_PROBE_TIMEOUT_MS + 200);
    assert_true(r.next_probe_ms >= t0 + SH_READINESS_PROBE_EVERY_MS);
    /* Within the interval the probe does not ask Kafka again: the state stays as set, and
     * the call does not block. */
    atomic_store(&r.kafka_up, true);
    t0 = sh_mono_ms();
    sh_readiness_probe(&r, rk, false);
    assert_true(sh_mono_ms() - t0 < 100);
    assert_true(atomic_load(&r.kafka_up));
    assert_false(atomic_load(&r.db_up));        /* the database is recorded every time */
    /* Once it is due, it asks again. */
    r.next_probe_ms = sh_mono_ms();
    sh_readiness_probe(&r, rk, true);
    assert_false(atomic_load(&r.kafka_up));
    rd_kafka_destroy(rk);
}

/* ---- sh_admin_start ---------------------------------------------------------------- */

struct answer {
    char text[4096];
    size_t len;
};

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    struct answer *ans = ctx;
    size_t take = size * n;

    if (take > sizeof(ans->text) - 1 - ans->len)
        take = sizeof(ans->text) - 1 - ans->len;
    memcpy(ans->text + ans->len, data, take);
    ans->len += take;
    ans->text[ans->len] = '\0';
    return size * n;
}

/* GET http://127.0.0.1:'port''path' with libcurl; the body lands in 'ans'. Returns the
 * status, or -1 when there was no answer. */
static int get(int port, const char *path, struct answer *ans)
{
    char url[128];
    long status = -1;
    CURL *h = curl_easy_init();

    assert_non_null(h);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    ans->len = 0;
    ans->text[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, ans);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return (int)status;
}

static void test_admin_start_serves_readiness(void **state)
{
    struct sh_readiness r;
    struct sh_metrics *reg = sh_metrics_create();
    struct sh_admin *a = (struct sh_admin *)&r, *b = (struct sh_admin *)&r;
    struct answer ans;
    int port;

    (void)state;
    assert_non_null(reg);
    sh_counter_add(sh_metrics_counter(reg, "readiness_test_total", "t", NULL), 3);
    sh_readiness_init(&r);
    assert_int_equal(sh_admin_start("127.0.0.1", 0, reg, sh_readiness_check, &r, &a), SH_OK);
    assert_non_null(a);
    port = sh_admin_port(a);
    assert_true(port > 0);

    assert_int_equal(get(port, "/healthz", &ans), 200);
    assert_string_equal(ans.text, "ok\n");
    assert_int_equal(get(port, "/readyz", &ans), 503);
    assert_string_equal(ans.text, "not ready: kafka not reachable\n");
    atomic_store(&r.kafka_up, true);
    assert_int_equal(get(port, "/readyz", &ans), 503);
    assert_string_equal(ans.text, "not ready: database not connected\n");
    sh_readiness_probe(&r, NULL, true);
    assert_int_equal(get(port, "/readyz", &ans), 200);
    assert_string_equal(ans.text, "ready\n");
    assert_int_equal(get(port, "/metrics", &ans), 200);
    assert_non_null(strstr(ans.text, "readiness_test_total 3\n"));

    /* The port is taken: an error, and no server handed out. */
    assert_int_equal(sh_admin_start("127.0.0.1", port, reg, sh_readiness_check, &r, &b),
                     SH_EIO);
    assert_null(b);
    sh_admin_destroy(a);
    sh_metrics_destroy(reg);
}

static void test_admin_start_disabled(void **state)
{
    struct sh_readiness r;
    struct sh_admin *a = (struct sh_admin *)&r;

    (void)state;
    /* A negative port turns the admin server off: no error, no server. */
    assert_int_equal(sh_admin_start(NULL, -1, NULL, sh_readiness_check, &r, &a), SH_OK);
    assert_null(a);
    a = (struct sh_admin *)&r;
    assert_int_equal(sh_admin_start("127.0.0.1", 70000, NULL, NULL, NULL, &a), SH_EIO);
    assert_null(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_not_ready),
        cmocka_unit_test(test_check_order),
        cmocka_unit_test(test_probe_without_kafka_handle),
        cmocka_unit_test(test_probe_is_rate_limited),
        cmocka_unit_test(test_admin_start_serves_readiness),
        cmocka_unit_test(test_admin_start_disabled),
    };
    int failed;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    failed = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return failed;
}
