/* Unit tests for the pure parts of admission: the Origin policy, the
 * subprotocol token, and the connection caps and message bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "frames.h"
#include "quota.h"
#include "sh_err.h"

static void test_origin_default(void **state)
{
    (void)state;
    assert_true(gw_origin_allowed(NULL, "chat.example.com", ""));         /* not a browser */
    assert_true(gw_origin_allowed("", "chat.example.com", ""));
    assert_true(gw_origin_allowed("https://chat.example.com", "chat.example.com", ""));
    assert_true(gw_origin_allowed("http://Chat.Example.com:8000", "chat.example.com:8000", ""));
    assert_false(gw_origin_allowed("http://chat.example.com:8001", "chat.example.com:8000", ""));
    assert_true(gw_origin_allowed("http://localhost:3000", "chat.example.com", ""));
    assert_true(gw_origin_allowed("http://127.0.0.1", "x", ""));
    assert_true(gw_origin_allowed("http://[::1]:3000", "x", ""));
    assert_false(gw_origin_allowed("http://localhost.evil.example", "x", ""));
    assert_false(gw_origin_allowed("http://127.0.0.1.evil.example:80", "x", ""));
    assert_false(gw_origin_allowed("https://evil.example", "chat.example.com", ""));
    assert_false(gw_origin_allowed("null", "chat.example.com", ""));
    assert_false(gw_origin_allowed("file://", "chat.example.com", ""));
}

static void test_origin_list(void **state)
{
    const char *list = "https://a.example, https://b.example:8443 ,http://c.example";

    (void)state;
    assert_true(gw_origin_allowed("https://a.example", "gw", list));
    assert_true(gw_origin_allowed("https://B.example:8443", "gw", list));
    assert_true(gw_origin_allowed("http://c.example", "gw", list));
    assert_false(gw_origin_allowed("https://b.example", "gw", list));
    assert_false(gw_origin_allowed("https://a.example.evil", "gw", list));
    assert_false(gw_origin_allowed("https://a.exampl", "gw", list));
    assert_false(gw_origin_allowed("http://localhost:3000", "gw", list));  /* list replaces */
    assert_false(gw_origin_allowed("https://gw", "gw", list));
    assert_true(gw_origin_allowed("https://anything", "gw", "*"));
    assert_true(gw_origin_allowed("null", "gw", "https://a.example,*"));
    assert_true(gw_origin_allowed(NULL, "gw", list));
}

static void test_subprotocol_token(void **state)
{
    char out[32];

    (void)state;
    assert_int_equal(gw_auth_subprotocol_token("bearer, abc.def.ghi", out, sizeof(out)), 11);
    assert_string_equal(out, "abc.def.ghi");
    assert_int_equal(gw_auth_subprotocol_token("chat,bearer,tok", out, sizeof(out)), 3);
    assert_string_equal(out, "tok");
    assert_int_equal(gw_auth_subprotocol_token("bearer", out, sizeof(out)), 0);
    assert_int_equal(gw_auth_subprotocol_token("chat, tok", out, sizeof(out)), 0);
    assert_int_equal(gw_auth_subprotocol_token("bearerx, tok", out, sizeof(out)), 0);
    assert_int_equal(gw_auth_subprotocol_token("", out, sizeof(out)), 0);
    assert_int_equal(gw_auth_subprotocol_token("bearer, , tok ", out, sizeof(out)), 3);
    assert_int_equal(gw_auth_subprotocol_token("bearer, 0123456789012345678901234567890123",
                                               out, sizeof(out)), SH_ETOOBIG);
}

static void test_connection_caps(void **state)
{
    struct gw_quota *l = gw_quota_create(2, 3, 0, 1);
    const char *which = NULL;

    (void)state;
    assert_non_null(l);
    assert_int_equal(gw_quota_conn_add(l, "u1", "1.1.1.1", &which), SH_OK);
    assert_int_equal(gw_quota_conn_add(l, "u1", "1.1.1.1", &which), SH_OK);
    assert_int_equal(gw_quota_conn_add(l, "u1", "1.1.1.1", &which), SH_EFULL);
    assert_string_equal(which, "user");
    assert_int_equal(gw_quota_conn_add(l, "u2", "1.1.1.1", &which), SH_OK);
    assert_int_equal(gw_quota_conn_check(l, "u3", "1.1.1.1", &which), SH_EFULL);
    assert_string_equal(which, "ip");
    assert_int_equal(gw_quota_conn_check(l, "u3", "2.2.2.2", &which), SH_OK);
    assert_int_equal(gw_quota_conn_check(l, "", "", &which), SH_OK);      /* not counted */
    gw_quota_conn_remove(l, "u1", "1.1.1.1");
    assert_int_equal(gw_quota_conn_add(l, "u1", "1.1.1.1", &which), SH_OK);
    gw_quota_conn_remove(l, "u1", "1.1.1.1");
    gw_quota_conn_remove(l, "u1", "1.1.1.1");
    gw_quota_conn_remove(l, "u2", "1.1.1.1");
    assert_int_equal(gw_quota_conn_check(l, "u1", "1.1.1.1", &which), SH_OK);
    gw_quota_destroy(l);
    gw_quota_destroy(NULL);

    l = gw_quota_create(0, 0, 0, 1);                   /* caps off */
    for (int i = 0; i < 100; i++)
        assert_int_equal(gw_quota_conn_add(l, "u", "ip", &which), SH_OK);
    gw_quota_destroy(l);
}

static void test_message_bucket(void **state)
{
    struct gw_quota *l = gw_quota_create(0, 0, 60, 3);   /* 1 per second, burst 3 */
    const char *which = NULL;
    int64_t t = 1000000;

    (void)state;
    assert_int_equal(gw_quota_take(l, "nobody", t), 0);       /* no connection: not tracked */
    assert_int_equal(gw_quota_conn_add(l, "u", "ip", &which), SH_OK);
    assert_int_equal(gw_quota_take(l, "u", t), 0);
    assert_int_equal(gw_quota_take(l, "u", t), 0);
    assert_int_equal(gw_quota_take(l, "u", t), 0);
    assert_in_range(gw_quota_take(l, "u", t), 999, 1001);
    assert_in_range(gw_quota_take(l, "u", t + 400), 599, 601);
    assert_int_equal(gw_quota_take(l, "u", t + 1000), 0);
    assert_true(gw_quota_take(l, "u", t + 1000) > 0);
    /* Reconnecting does not refill the bucket. */
    gw_quota_conn_remove(l, "u", "ip");
    assert_int_equal(gw_quota_conn_add(l, "u", "ip", &which), SH_OK);
    assert_true(gw_quota_take(l, "u", t + 1001) > 0);
    /* Time refills it, up to the burst only. */
    assert_int_equal(gw_quota_take(l, "u", t + 100000), 0);
    assert_int_equal(gw_quota_take(l, "u", t + 100000), 0);
    assert_int_equal(gw_quota_take(l, "u", t + 100000), 0);
    assert_true(gw_quota_take(l, "u", t + 100000) > 0);
    gw_quota_conn_remove(l, "u", "ip");
    gw_quota_destroy(l);
}

static void test_idle_records_are_swept(void **state)
{
    struct gw_quota *l = gw_quota_create(0, 0, 60, 1);
    const char *which = NULL;
    char user[32];

    (void)state;
    /* Many users who drained their bucket and left; then one active user keeps sending. */
    for (int i = 0; i < 300; i++) {
        snprintf(user, sizeof(user), "gone%d", i);
        assert_int_equal(gw_quota_conn_add(l, user, "ip", &which), SH_OK);
        assert_int_equal(gw_quota_take(l, user, 1000), 0);
        gw_quota_conn_remove(l, user, "ip");
    }
    assert_int_equal(gw_quota_users(l), 300);          /* kept: buckets not full yet */
    assert_int_equal(gw_quota_conn_add(l, "busy", "ip", &which), SH_OK);
    for (int i = 0; i < 600; i++)
        gw_quota_take(l, "busy", 1000000 + i);
    assert_int_equal(gw_quota_users(l), 1);            /* refilled by then: swept */
    assert_int_equal(gw_quota_conn_add(l, "gone1", "ip", &which), SH_OK);
    assert_int_equal(gw_quota_take(l, "gone1", 1000700), 0);
    assert_int_equal(gw_quota_users(l), 2);
    gw_quota_destroy(l);
}

static void test_rate_limited_frame(void **state)
{
    size_t len = 0;
    char *f = gw_frame_rate_limited("m1", 2841, &len);
    json_t *o = f ? json_loads(f, 0, NULL) : NULL;

    (void)state;
    assert_non_null(o);
    assert_int_equal(len, strlen(f));
    assert_string_equal(json_string_value(json_object_get(o, "type")), "error");
    assert_string_equal(json_string_value(json_object_get(o, "code")), "rate_limited");
    assert_int_equal(json_integer_value(json_object_get(o, "retry_after_ms")), 2841);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "m1");
    json_decref(o);
    free(f);
    f = gw_frame_rate_limited("", 1, &len);
    o = json_loads(f, 0, NULL);
    assert_null(json_object_get(o, "id"));
    json_decref(o);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin_default),
        cmocka_unit_test(test_origin_list),
        cmocka_unit_test(test_subprotocol_token),
        cmocka_unit_test(test_connection_caps),
        cmocka_unit_test(test_message_bucket),
        cmocka_unit_test(test_idle_records_are_swept),
        cmocka_unit_test(test_rate_limited_frame),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
