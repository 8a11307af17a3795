/* Unit tests for frames.c: client-frame parsing (every error code of
 * docs/PROTOCOL.md), raw text, UTF-8 validation, URL parts, size limits and
 * the frames the gateway sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "sh_err.h"

/* Parse 'text' and expect SH_EPROTO with 'code'. */
static void expect_error(const char *text, size_t len, const char *code)
{
    struct gw_client_frame f;
    int rc = gw_frame_parse(text, len, &f);

    if (rc != SH_EPROTO || strcmp(f.err_code, code) != 0)
        fail_msg("\"%.*s\": rc=%d code=%s, want %s", (int)len, text, rc,
                 rc == SH_EPROTO ? f.err_code : "-", code);
    assert_non_null(f.err_msg);
    assert_null(f.content);
    gw_client_frame_free(&f);
}

#define EXPECT_ERROR(lit, code) expect_error(lit, sizeof(lit) - 1, code)

/* Parse 'text' as a user message and check content and id. */
static void expect_message(const char *text, const char *content, const char *id)
{
    struct gw_client_frame f;

    assert_int_equal(gw_frame_parse(text, strlen(text), &f), SH_OK);
    assert_int_equal(f.type, GW_CF_USER_MESSAGE);
    assert_string_equal(json_string_value(f.content), content);
    assert_string_equal(f.id, id);
    gw_client_frame_free(&f);
}

static void test_user_message(void **state)
{
    (void)state;
    expect_message("{\"type\":\"user_message\",\"content\":\"Hi\",\"id\":\"c-1\"}", "Hi", "c-1");
    expect_message("{\"type\":\"user_message\",\"content\":\"Hi\"}", "Hi", "");
    expect_message("{\"type\":\"user_message\",\"content\":\"Hi\",\"id\":null}", "Hi", "");
    expect_message("{\"content\":\" x \",\"type\":\"user_message\",\"extra\":[1]}", " x ", "");
    expect_message("  \n{\"type\":\"user_message\",\"content\":\"\\u00e9\\ud83d\\ude00\"}",
                   "\xc3\xa9\xf0\x9f\x98\x80", "");
}

static void test_raw_text(void **state)
{
    (void)state;
    expect_message("hello there", "hello there", "");
    expect_message("  padded  ", "  padded  ", "");
    /* JSON that is not an object is text too. */
    expect_message("[1,2]", "[1,2]", "");
    expect_message("42", "42", "");
    expect_message("\"quoted\"", "\"quoted\"", "");
    expect_message("caf\xc3\xa9", "caf\xc3\xa9", "");
}

/* No service could decode an envelope holding a NUL (jansson without
 * JSON_ALLOW_NUL), so raw text with one is refused rather than acked. */
static void test_raw_text_rejects_nul(void **state)
{
    (void)state;
    expect_error("a\0b", 3, "invalid_message");
    expect_error("hello \0", 7, "invalid_message");
}

static void test_stop_ping(void **state)
{
    struct gw_client_frame f;

    (void)state;
    assert_int_equal(gw_frame_parse("{\"type\":\"stop\"}", 15, &f), SH_OK);
    assert_int_equal(f.type, GW_CF_STOP);
    gw_client_frame_free(&f);
    assert_int_equal(gw_frame_parse("{\"type\":\"ping\",\"x\":1}", 21, &f), SH_OK);
    assert_int_equal(f.type, GW_CF_PING);
    gw_client_frame_free(&f);
}

static void test_invalid_json(void **state)
{
    (void)state;
    EXPECT_ERROR("{", "invalid_json");
    EXPECT_ERROR("{bad json", "invalid_json");
    EXPECT_ERROR("  {\"type\":", "invalid_json");
    EXPECT_ERROR("{\"type\":\"ping\"} trailing", "invalid_json");
    EXPECT_ERROR("{\"type\":\"ping\",}", "invalid_json");
    EXPECT_ERROR("{\"type\":\"user_message\",\"content\":\"a\\u0000b\"}", "invalid_json");
}

static void test_invalid_message(void **state)
{
    char long_id[256];

    (void)state;
    EXPECT_ERROR("{}", "invalid_message");
    EXPECT_ERROR("{\"content\":\"x\"}", "invalid_message");
    EXPECT_ERROR("{\"type\":5}", "invalid_message");
    EXPECT_ERROR("{\"type\":null}", "invalid_message");
    EXPECT_ERROR("{\"type\":[\"user_message\"]}", "invalid_message");
    EXPECT_ERROR("{\"type\":\"user_message\"}", "invalid_message");
    EXPECT_ERROR("{\"type\":\"user_message\",\"content\":5}", "invalid_message");
    EXPECT_ERROR("{\"type\":\"user_message\",\"content\":null}", "invalid_message");
    EXPECT_ERROR("{\"type\":\"user_message\",\"content\":{\"a\":1}}", "invalid_message");
    EXPECT_ERROR("{\"type\":\"user_message\",\"content\":\"x\",\"id\":7}", "invalid_message");
    EXPECT_ERROR("{\"type\":\"user_message\",\"content\":\"x\",\"id\":\"a\\u0000b\"}",
                 "invalid_json");   /* jansson refuses NUL in strings before we look */
    /* 129-byte ids are refused (128 pass: test_id_128) */
    snprintf(long_id, sizeof(long_id),
             "{\"type\":\"user_message\",\"content\":\"x\",\"id\":\"%0129d\"}", 0);
    expect_error(long_id, strlen(long_id), "invalid_message");
}

static void test_id_128(void **state)
{
    char text[256], id[129];
    struct gw_client_frame f;

    (void)state;
    memset(id, 'k', 128);
    id[128] = '\0';
    snprintf(text, sizeof(text), "{\"type\":\"user_message\",\"content\":\"x\",\"id\":\"%s\"}", id);
    assert_int_equal(gw_frame_parse(text, strlen(text), &f), SH_OK);
    assert_string_equal(f.id, id);
    gw_client_frame_free(&f);
}

static void test_unknown_type(void **state)
{
    (void)state;
    EXPECT_ERROR("{\"type\":\"nope\"}", "unknown_type");
    EXPECT_ERROR("{\"type\":\"\"}", "unknown_type");
    EXPECT_ERROR("{\"type\":\"USER_MESSAGE\",\"content\":\"x\"}", "unknown_type");
    EXPECT_ERROR("{\"type\":\"session\"}", "unknown_type");
}

static void test_empty_message(void **state)
{
    (void)state;
    EXPECT_ERROR("", "empty_message");
    EXPECT_ERROR("   ", "empty_message");
    EXPECT_ERROR("\t\r\n \f\v", "empty_message");
    EXPECT_ERROR("{\"type\":\"user_message\",\"content\":\"\"}", "empty_message");
    EXPECT_ERROR("{\"type\":\"user_message\",\"content\":\" \\n\\t \"}", "empty_message");
}

static void test_utf8(void **state)
{
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"", true},
        {"plain ascii", true},
        {"\xc2\x80", true},                    /* U+0080 */
        {"\xdf\xbf", true},                    /* U+07FF */
        {"\xe0\xa0\x80", true},                /* U+0800 */
        {"\xef\xbf\xbf", true},                /* U+FFFF */
        {"\xed\x9f\xbf", true},                /* U+D7FF */
        {"\xee\x80\x80", true},                /* U+E000 */
        {"\xf0\x90\x80\x80", true},            /* U+10000 */
        {"\xf4\x8f\xbf\xbf", true},            /* U+10FFFF */
        {"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", true},
        {"\x80", false},                       /* stray continuation */
        {"\xbf", false},
        {"\xc0\x80", false},                   /* overlong NUL */
        {"\xc1\xbf", false},                   /* overlong */
        {"\xe0\x80\x80", false},               /* overlong 3-byte */
        {"\xe0\x9f\xbf", false},
        {"\xf0\x80\x80\x80", false},           /* overlong 4-byte */
        {"\xf0\x8f\xbf\xbf", false},
        {"\xed\xa0\x80", false},               /* U+D800 surrogate */
        {"\xed\xbf\xbf", false},               /* U+DFFF surrogate */
        {"\xf4\x90\x80\x80", false},           /* U+110000 */
        {"\xf5\x80\x80\x80", false},
        {"\xfe", false},
        {"\xff", false},
        {"\xc3", false},                       /* truncated */
        {"\xe2\x82", false},
        {"\xf0\x9f\x98", false},
        {"ok\xc3(", false},                    /* bad continuation */
        {"\xe2\x28\xa1", false},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (gw_utf8_valid(cases[i].s, strlen(cases[i].s)) != cases[i].ok)
            fail_msg("case %zu: want %d", i, cases[i].ok);
    assert_true(gw_utf8_valid("a\0b", 3));    /* NUL is valid UTF-8 */
}

static void test_rx_too_big(void **state)
{
    (void)state;
    assert_false(gw_rx_too_big(0, 65536, 0, 65536));
    assert_true(gw_rx_too_big(0, 65537, 0, 65536));
    assert_false(gw_rx_too_big(0, 2048, 63488, 65536));     /* frame announces the rest */
    assert_true(gw_rx_too_big(0, 2048, 63489, 65536));
    assert_false(gw_rx_too_big(60000, 5536, 0, 65536));     /* fragments add up */
    assert_true(gw_rx_too_big(60000, 5537, 0, 65536));
    assert_true(gw_rx_too_big(65537, 0, 0, 65536));
    assert_true(gw_rx_too_big(10, 10, SIZE_MAX, 65536));    /* no wrap-around */
    assert_true(gw_rx_too_big(10, SIZE_MAX - 5, 0, 65536));
    assert_true(gw_rx_too_big(SIZE_MAX, SIZE_MAX, SIZE_MAX, 65536));
}

static void test_user_id(void **state)
{
    char uid[200];

    (void)state;
    assert_true(gw_user_id_valid("user_123", 8));
    assert_true(gw_user_id_valid("A.b-c@d_9", 9));
    assert_false(gw_user_id_valid("", 0));
    assert_false(gw_user_id_valid("a b", 3));
    assert_false(gw_user_id_valid("a/b", 3));
    assert_false(gw_user_id_valid("a%20b", 5));
    assert_false(gw_user_id_valid("caf\xc3\xa9", 5));
    memset(uid, 'u', sizeof(uid));
    assert_true(gw_user_id_valid(uid, 128));
    assert_false(gw_user_id_valid(uid, 129));
}

static void test_ws_path(void **state)
{
    char uid[129];

    (void)state;
    assert_int_equal(gw_ws_path_parse("/ws/session", uid, sizeof(uid)), SH_OK);
    assert_string_equal(uid, "");
    assert_int_equal(gw_ws_path_parse("/ws/session/", uid, sizeof(uid)), SH_OK);
    assert_string_equal(uid, "");
    assert_int_equal(gw_ws_path_parse("/ws/session/alice@example.com", uid, sizeof(uid)), SH_OK);
    assert_string_equal(uid, "alice@example.com");
    assert_int_equal(gw_ws_path_parse("/ws/session/a/b", uid, sizeof(uid)), SH_EINVAL);
    assert_int_equal(gw_ws_path_parse("/ws/session/a b", uid, sizeof(uid)), SH_EINVAL);
    assert_int_equal(gw_ws_path_parse("/ws/sessionx", uid, sizeof(uid)), SH_ENOTFOUND);
    assert_int_equal(gw_ws_path_parse("/ws/other", uid, sizeof(uid)), SH_ENOTFOUND);
    assert_int_equal(gw_ws_path_parse("/", uid, sizeof(uid)), SH_ENOTFOUND);
    assert_int_equal(gw_ws_path_parse("/ws/session/x", NULL, 0), SH_EINVAL);   /* probe only */
    assert_int_equal(gw_ws_path_parse("/ws/session", NULL, 0), SH_OK);
}

static void test_last_seq(void **state)
{
    int64_t v = 99;

    (void)state;
    assert_int_equal(gw_last_seq_parse("-1", &v), SH_OK);
    assert_int_equal(v, -1);
    assert_int_equal(gw_last_seq_parse("0", &v), SH_OK);
    assert_int_equal(v, 0);
    assert_int_equal(gw_last_seq_parse("123456789012", &v), SH_OK);
    assert_int_equal(v, 123456789012LL);
    assert_int_equal(gw_last_seq_parse("-2", &v), SH_EINVAL);
    assert_int_equal(gw_last_seq_parse("", &v), SH_EINVAL);
    assert_int_equal(gw_last_seq_parse("abc", &v), SH_EINVAL);
    assert_int_equal(gw_last_seq_parse("12x", &v), SH_EINVAL);
    assert_int_equal(gw_last_seq_parse("99999999999999999999999", &v), SH_EINVAL);
    assert_int_equal(gw_last_seq_parse(NULL, &v), SH_EINVAL);
}

/* Decode 'text' (freed here) and return the object. '*len' is read after
 * the builder that filled it has run. */
static json_t *parsed(char *text, const size_t *len)
{
    json_t *o;

    assert_non_null(text);
    assert_int_equal(strlen(text), *len);
    o = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(o);
    return o;
}

static void test_builders(void **state)
{
    size_t len;
    json_t *o;

    (void)state;
    o = parsed(gw_frame_session("sid", "alice", true, "mock", &len), &len);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "session");
    assert_true(json_is_true(json_object_get(o, "resumed")));
    assert_string_equal(json_string_value(json_object_get(o, "llm")), "mock");
    json_decref(o);

    o = parsed(gw_frame_error("busy", "too many", "c1", NULL, &len), &len);
    assert_string_equal(json_string_value(json_object_get(o, "code")), "busy");
    assert_string_equal(json_string_value(json_object_get(o, "id")), "c1");
    assert_null(json_object_get(o, "turn_id"));
    json_decref(o);
    o = parsed(gw_frame_error("invalid_json", "bad", "", NULL, &len), &len);
    assert_null(json_object_get(o, "id"));
    json_decref(o);

    o = parsed(gw_frame_ack("", "t1", &len), &len);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "ack");
    assert_string_equal(json_string_value(json_object_get(o, "id")), "");
    assert_string_equal(json_string_value(json_object_get(o, "turn_id")), "t1");
    json_decref(o);

    o = parsed(gw_frame_pong(1764044000123LL, &len), &len);
    assert_int_equal(json_integer_value(json_object_get(o, "ts")), 1764044000123LL);
    json_decref(o);
}

static void test_reply_frame(void **state)
{
    struct sh_env e;
    size_t len;
    char *text;
    json_t *o;

    (void)state;
    assert_int_equal(sh_env_init(&e, "token", "0193a5c1-0000-7000-8000-000000000000", "u",
                                 "0193a5c2-0000-7000-8000-000000000000"), SH_OK);
    e.seq = 7;
    json_object_set_new(e.payload, "content", json_string("Hel"));
    json_object_set_new(e.payload, "seq", json_integer(999));      /* envelope wins */
    json_object_set_new(e.payload, "type", json_string("bogus"));
    text = gw_frame_reply(&e, &len);
    assert_non_null(text);
    assert_int_equal(strncmp(text, "{\"type\":\"token\"", 15), 0);  /* type first */
    o = parsed(text, &len);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "token");
    assert_string_equal(json_string_value(json_object_get(o, "content")), "Hel");
    assert_string_equal(json_string_value(json_object_get(o, "turn_id")), e.turn_id);
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 7);
    json_decref(o);
    sh_env_free(&e);

    /* No turn, no seq: neither key appears. */
    assert_int_equal(sh_env_init(&e, "error", "0193a5c1-0000-7000-8000-000000000000", "u",
                                 NULL), SH_OK);
    json_object_set_new(e.payload, "code", json_string("llm_error"));
    o = parsed(gw_frame_reply(&e, &len), &len);
    assert_null(json_object_get(o, "seq"));
    assert_null(json_object_get(o, "turn_id"));
    assert_string_equal(json_string_value(json_object_get(o, "code")), "llm_error");
    json_decref(o);
    sh_env_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_message),
        cmocka_unit_test(test_raw_text),
        cmocka_unit_test(test_raw_text_rejects_nul),
        cmocka_unit_test(test_stop_ping),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_invalid_message),
        cmocka_unit_test(test_id_128),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_empty_message),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_rx_too_big),
        cmocka_unit_test(test_user_id),
        cmocka_unit_test(test_ws_path),
        cmocka_unit_test(test_last_seq),
        cmocka_unit_test(test_builders),
        cmocka_unit_test(test_reply_frame),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
