/* Unit tests for api.c's pure parts: routing and session-id checks, the
 * caller id rules, timestamps, cursor encode/decode (round trip and
 * garbage), ?limit= parsing and the JSON bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "frames.h"
#include "sh_err.h"

#define SID "0193a5c1-7e2f-7abc-8def-0123456789ab"
#define TS1 "2025-11-25T10:11:12.123456Z"

static void test_route(void **state)
{
    char sid[SH_UUID_LEN + 1];

    (void)state;
    assert_int_equal(gw_api_route("/api/sessions", sid), GW_API_LIST);
    assert_int_equal(gw_api_route("/api/sessions/" SID "/events", sid), GW_API_EVENTS);
    assert_string_equal(sid, SID);
    assert_int_equal(gw_api_route("/api/sessions/0193A5C1-7E2F-7ABC-8DEF-0123456789AB/events",
                                  sid), GW_API_EVENTS);
    assert_string_equal(sid, SID);                       /* lower-cased */
    assert_int_equal(gw_api_route("/api/sessions/not-a-uuid/events", sid), GW_API_BAD_UUID);
    assert_int_equal(gw_api_route("/api/sessions//events", sid), GW_API_BAD_UUID);
    assert_int_equal(gw_api_route("/api/sessions/0193a5c1-7e2f-7abc-8def-0123456789az/events",
                                  sid), GW_API_BAD_UUID);
    assert_int_equal(gw_api_route("/api/sessions/" SID, sid), GW_API_NOT_FOUND);
    assert_int_equal(gw_api_route("/api/sessions/" SID "/events/x", sid), GW_API_NOT_FOUND);
    assert_int_equal(gw_api_route("/api/sessions/", sid), GW_API_NOT_FOUND);
    assert_int_equal(gw_api_route("/api/sessionsx", sid), GW_API_NOT_FOUND);
    assert_int_equal(gw_api_route("/api/other", sid), GW_API_NOT_FOUND);
    assert_int_equal(gw_api_route("/", sid), GW_API_NOT_FOUND);
}

static void test_user_id(void **state)
{
    char long_id[130];

    (void)state;
    assert_true(gw_user_id_valid("user_1.a@b-c", 12));
    assert_false(gw_user_id_valid("", 0));
    assert_false(gw_user_id_valid("a b", 3));
    assert_false(gw_user_id_valid("a/b", 3));
    memset(long_id, 'a', sizeof(long_id));
    assert_true(gw_user_id_valid(long_id, 128));
    assert_false(gw_user_id_valid(long_id, 129));
}

static void test_ts(void **state)
{
    (void)state;
    assert_true(gw_api_ts_valid(TS1));
    assert_true(gw_api_ts_valid("1999-01-01T00:00:00.000000Z"));
    assert_false(gw_api_ts_valid("2025-13-25T10:11:12.123456Z"));
    assert_false(gw_api_ts_valid("2025-11-00T10:11:12.123456Z"));
    assert_false(gw_api_ts_valid("2025-11-25T24:11:12.123456Z"));
    assert_false(gw_api_ts_valid("2025-11-25 10:11:12.123456Z"));
    assert_false(gw_api_ts_valid("2025-11-25T10:11:12.12345Z"));
    assert_false(gw_api_ts_valid("2025-11-25T10:11:12.1234567"));
    assert_false(gw_api_ts_valid("2025-11-25T10:11:12.12345xZ"));
    assert_false(gw_api_ts_valid(NULL));
}

static void test_cursor_round_trip(void **state)
{
    char cur[GW_API_CURSOR_MAX], ts[GW_API_TS_LEN + 1], sid[SH_UUID_LEN + 1];

    (void)state;
    assert_int_equal(gw_api_cursor_encode(TS1, SID, cur, sizeof(cur)), SH_OK);
    assert_int_equal(strlen(cur), 86);
    assert_null(strpbrk(cur, "+/="));                     /* URL-safe, unpadded */
    assert_int_equal(gw_api_cursor_decode(cur, ts, sid), SH_OK);
    assert_string_equal(ts, TS1);
    assert_string_equal(sid, SID);
    assert_int_equal(gw_api_cursor_encode(TS1, SID, cur, 86), SH_EINVAL);   /* too small */
    assert_int_equal(gw_api_cursor_encode("yesterday", SID, cur, sizeof(cur)), SH_EINVAL);
    assert_int_equal(gw_api_cursor_encode(TS1, "x", cur, sizeof(cur)), SH_EINVAL);
}

static void test_cursor_garbage(void **state)
{
    char cur[GW_API_CURSOR_MAX], bad[GW_API_CURSOR_MAX], ts[GW_API_TS_LEN + 1];
    char sid[SH_UUID_LEN + 1];

    (void)state;
    assert_int_equal(gw_api_cursor_decode("", ts, sid), SH_EINVAL);
    assert_int_equal(gw_api_cursor_decode("garbage", ts, sid), SH_EINVAL);
    assert_int_equal(gw_api_cursor_decode(NULL, ts, sid), SH_EINVAL);
    assert_int_equal(gw_api_cursor_encode(TS1, SID, cur, sizeof(cur)), SH_OK);
    /* a character outside the alphabet */
    memcpy(bad, cur, sizeof(cur));
    bad[10] = '+';
    assert_int_equal(gw_api_cursor_decode(bad, ts, sid), SH_EINVAL);
    /* non-canonical last character (unused low bits set) */
    memcpy(bad, cur, sizeof(cur));
    bad[85] = bad[85] == 'A' ? 'B' : 'A';
    assert_int_equal(gw_api_cursor_decode(bad, ts, sid), SH_EINVAL);
    /* a flipped character changes the text: bad timestamp or uuid */
    memcpy(bad, cur, sizeof(cur));
    bad[0] = '_';
    assert_int_equal(gw_api_cursor_decode(bad, ts, sid), SH_EINVAL);
    /* too long / too short */
    memcpy(bad, cur, sizeof(cur));
    strcat(bad, "AA");
    assert_int_equal(gw_api_cursor_decode(bad, ts, sid), SH_EINVAL);
    bad[80] = '\0';
    assert_int_equal(gw_api_cursor_decode(bad, ts, sid), SH_EINVAL);
}

static void test_limit(void **state)
{
    int v = 0;

    (void)state;
    assert_int_equal(gw_api_limit_parse("1", 50, &v), SH_OK);
    assert_int_equal(v, 1);
    assert_int_equal(gw_api_limit_parse("50", 50, &v), SH_OK);
    assert_int_equal(v, 50);
    assert_int_equal(gw_api_limit_parse("51", 50, &v), SH_EINVAL);
    assert_int_equal(gw_api_limit_parse("0", 50, &v), SH_EINVAL);
    assert_int_equal(gw_api_limit_parse("-1", 50, &v), SH_EINVAL);
    assert_int_equal(gw_api_limit_parse("+5", 50, &v), SH_EINVAL);
    assert_int_equal(gw_api_limit_parse(" 5", 50, &v), SH_EINVAL);
    assert_int_equal(gw_api_limit_parse("5x", 50, &v), SH_EINVAL);
    assert_int_equal(gw_api_limit_parse("", 50, &v), SH_EINVAL);
    assert_int_equal(gw_api_limit_parse("99999999999999999999", 50, &v), SH_EINVAL);
}

/* Check and parse a body a builder returned with its length in '*len'. */
static json_t *parse(char *s, const size_t *lenp)
{
    size_t len = *lenp;
    json_t *j;

    assert_non_null(s);
    assert_int_equal(strlen(s), len);
    j = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(j);
    return j;
}

static void test_sessions_json(void **state)
{
    struct gw_api_session_row rows[2] = {
        {.session_id = SID, .start_time = TS1, .end_time = "2025-11-25T10:20:00.000000Z",
         .duration_seconds = "528", .summary = "Weather \"talk\"", .summary_status = "ok",
         .first_message = "What's the weather in Paris?"},
        {.session_id = SID, .start_time = TS1},
    };
    size_t len = 0;
    json_t *j, *s0, *s1;

    (void)state;
    j = parse(gw_api_sessions_json(rows, 2, "CUR", &len), &len);
    assert_string_equal(json_string_value(json_object_get(j, "next_cursor")), "CUR");
    assert_int_equal(json_array_size(json_object_get(j, "sessions")), 2);
    s0 = json_array_get(json_object_get(j, "sessions"), 0);
    s1 = json_array_get(json_object_get(j, "sessions"), 1);
    assert_string_equal(json_string_value(json_object_get(s0, "session_id")), SID);
    assert_int_equal(json_integer_value(json_object_get(s0, "duration_seconds")), 528);
    assert_string_equal(json_string_value(json_object_get(s0, "summary")), "Weather \"talk\"");
    assert_string_equal(json_string_value(json_object_get(s0, "first_message")),
                        "What's the weather in Paris?");
    assert_true(json_is_null(json_object_get(s1, "end_time")));
    assert_true(json_is_null(json_object_get(s1, "duration_seconds")));
    assert_true(json_is_null(json_object_get(s1, "summary_status")));
    assert_true(json_is_null(json_object_get(s1, "first_message")));
    json_decref(j);

    j = parse(gw_api_sessions_json(NULL, 0, NULL, &len), &len);
    assert_int_equal(json_array_size(json_object_get(j, "sessions")), 0);
    assert_true(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);
}

static void test_events_json(void **state)
{
    struct gw_api_session_row s = {.session_id = SID, .user_id = "u1", .start_time = TS1};
    struct gw_api_event_row ev[2] = {
        {.event_type = "session_start", .timestamp = TS1},
        {.event_type = "ai_response", .content = "Hi", .timestamp = TS1, .turn_id = SID,
         .meta = "{\"finish_reason\": \"stop\", \"usage\": {\"total_tokens\": 3}}"},
    };
    size_t len = 0;
    json_t *j, *e0, *e1;

    (void)state;
    j = parse(gw_api_events_json(&s, ev, 2, &len), &len);
    assert_string_equal(json_string_value(json_object_get(j, "user_id")), "u1");
    assert_true(json_is_null(json_object_get(j, "summary")));
    e0 = json_array_get(json_object_get(j, "events"), 0);
    e1 = json_array_get(json_object_get(j, "events"), 1);
    assert_string_equal(json_string_value(json_object_get(e0, "event_type")), "session_start");
    assert_true(json_is_null(json_object_get(e0, "content")));
    assert_true(json_is_null(json_object_get(e0, "meta")));
    assert_string_equal(json_string_value(json_object_get(e1, "turn_id")), SID);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e1, "meta"),
                                                          "finish_reason")), "stop");
    json_decref(j);

    j = parse(gw_api_error_json("forbidden", &len), &len);
    assert_string_equal(json_string_value(json_object_get(j, "error")), "forbidden");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_user_id),
        cmocka_unit_test(test_ts),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_cursor_garbage),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_sessions_json),
        cmocka_unit_test(test_events_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
