/* Unit tests for the Kafka message envelope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "sh_envelope.h"
#include "sh_err.h"

#define SID "0193a5c1-0000-7000-8000-000000000001"

static void test_roundtrip(void **state)
{
    struct sh_env e, d;
    char *buf;
    size_t len;

    (void)state;
    assert_int_equal(sh_env_init(&e, "token", SID, "user_123", "turn-a"), 0);
    e.seq = 7;
    strcpy(e.reply_to, "chat.replies.gw-1");
    json_object_set_new(e.payload, "content", json_string("Hel\"lo\n"));
    assert_int_equal(sh_env_encode(&e, &buf, &len), 0);
    assert_int_equal(sh_env_decode(buf, len, &d), 0);
    assert_string_equal(d.type, "token");
    assert_string_equal(d.id, e.id);
    assert_string_equal(d.session_id, SID);
    assert_string_equal(d.user_id, "user_123");
    assert_string_equal(d.turn_id, "turn-a");
    assert_string_equal(d.reply_to, "chat.replies.gw-1");
    assert_int_equal(d.seq, 7);
    assert_int_equal(d.ts_ms, e.ts_ms);
    assert_string_equal(json_string_value(json_object_get(d.payload, "content")), "Hel\"lo\n");
    free(buf);
    sh_env_free(&e);
    sh_env_free(&d);
}

static void test_optional_fields_omitted(void **state)
{
    struct sh_env e, d;
    char *buf;
    size_t len;

    (void)state;
    assert_int_equal(sh_env_init(&e, "session_open", SID, "u", NULL), 0);
    assert_int_equal(sh_env_encode(&e, &buf, &len), 0);
    assert_null(strstr(buf, "turn_id"));
    assert_null(strstr(buf, "\"seq\""));
    assert_null(strstr(buf, "reply_to"));
    assert_int_equal(sh_env_decode(buf, len, &d), 0);
    assert_int_equal(d.seq, -1);
    assert_string_equal(d.turn_id, "");
    free(buf);
    sh_env_free(&e);
    sh_env_free(&d);
}

static void test_rejects(void **state)
{
    static const char *bad[] = {
        "",
        "not json",
        "[1,2]",
        "{\"v\":1}",
        "{\"v\":0,\"id\":\"x\",\"type\":\"t\",\"ts\":1,\"session_id\":\"" SID "\",\"user_id\":\"u\"}",
        /* 2^32 + 1: would read as version 1 through an (int) cast */
        "{\"v\":4294967297,\"id\":\"x\",\"type\":\"t\",\"ts\":1,\"session_id\":\"" SID "\",\"user_id\":\"u\"}",
        "{\"v\":1,\"id\":\"x\",\"type\":\"t\",\"ts\":1,\"session_id\":\"nope\",\"user_id\":\"u\"}",
        "{\"v\":1,\"id\":\"x\",\"type\":\"\",\"ts\":1,\"session_id\":\"" SID "\",\"user_id\":\"u\"}",
        "{\"v\":1,\"id\":\"x\",\"type\":\"t\",\"ts\":\"1\",\"session_id\":\"" SID "\",\"user_id\":\"u\"}",
        "{\"v\":1,\"id\":\"x\",\"type\":\"t\",\"ts\":1,\"session_id\":\"" SID "\",\"user_id\":\"u\",\"seq\":-2}",
        "{\"v\":1,\"id\":\"x\",\"type\":\"t\",\"ts\":1,\"session_id\":\"" SID "\",\"user_id\":\"u\",\"payload\":[]}",
        "{\"v\":1,\"id\":\"x\",\"type\":\"t\",\"ts\":1,\"session_id\":\"" SID "\",\"user_id\":7}",
        "{\"v\":1,\"v\":1,\"id\":\"x\",\"type\":\"t\",\"ts\":1,\"session_id\":\"" SID "\",\"user_id\":\"u\"}",
    };
    struct sh_env d;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = sh_env_decode(bad[i], strlen(bad[i]), &d);
        assert_true(rc == SH_EINVAL || rc == SH_EPROTO);
        assert_null(d.payload);
    }
}

static void test_too_long_fields(void **state)
{
    struct sh_env e;
    char user[300];

    (void)state;
    memset(user, 'a', sizeof(user) - 1);
    user[sizeof(user) - 1] = '\0';
    assert_int_equal(sh_env_init(&e, "token", SID, user, NULL), SH_EINVAL);
    sh_env_free(&e);
    sh_env_free(NULL);
}

static void test_unknown_fields_ignored(void **state)
{
    const char *j = "{\"v\":2,\"id\":\"x\",\"type\":\"t\",\"ts\":1,\"session_id\":\"" SID
                    "\",\"user_id\":\"u\",\"future\":{\"a\":1}}";
    struct sh_env d;

    (void)state;
    assert_int_equal(sh_env_decode(j, strlen(j), &d), 0);
    assert_int_equal(d.v, 2);
    assert_true(json_is_object(d.payload));
    sh_env_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_optional_fields_omitted),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_too_long_fields),
        cmocka_unit_test(test_unknown_fields_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
