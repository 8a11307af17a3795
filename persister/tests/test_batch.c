/* Unit tests for the persister's batch building: decoding, poison verdicts, dedupe, the
 * array parameters, and the DLQ record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "dlq.h"
#include "sh_err.h"
#include "sh_map.h"
#include "sh_pg.h"

#define SID_A "0193a5c1-0000-7000-8000-00000000000a"
#define SID_B "0193a5c1-0000-7000-8000-00000000000b"
#define EID_1 "0193a5c2-0000-7000-8000-000000000001"
#define EID_2 "0193a5c2-0000-7000-8000-000000000002"
#define TID_1 "0193a5c3-0000-7000-8000-000000000001"

/* An envelope with the given parts ('turn' NULL = none); static buffer. */
static char *env(const char *id, const char *type, const char *sid, int64_t ts,
                 const char *turn, const char *payload)
{
    static char buf[4096];

    snprintf(buf, sizeof(buf),
             "{\"v\":1,\"id\":\"%s\",\"type\":\"%s\",\"ts\":%lld,\"session_id\":\"%s\","
             "\"user_id\":\"alice\"%s%s%s,\"payload\":%s}",
             id, type, (long long)ts, sid, turn ? ",\"turn_id\":\"" : "", turn ? turn : "",
             turn ? "\"" : "", payload);
    return buf;
}

static int decode(const char *s, struct pst_row *r)
{
    return pst_row_decode(s, strlen(s), r);
}

static void test_user_message_is_text(void **state)
{
    struct pst_row r;

    (void)state;
    assert_int_equal(decode(env(EID_1, "user_message", SID_A, 1764044000123, TID_1,
                                "{\"content\":\"Hi \\\"there\\\"\\n\",\"client_id\":\"c1\"}"),
                            &r), 0);
    assert_int_equal(r.state, PST_ROW_OK);
    assert_string_equal(r.key, EID_1);
    assert_string_equal(r.session_id, SID_A);
    assert_string_equal(r.user_id, "alice");
    assert_string_equal(r.turn_id, TID_1);
    assert_string_equal(r.type, "user_message");
    assert_int_equal(r.ts_ms, 1764044000123);
    assert_string_equal(r.content, "Hi \"there\"\n");
    assert_string_equal(r.meta, "{\"client_id\":\"c1\"}");
    assert_false(r.is_end);
    pst_row_free(&r);
}

static void test_interrupted_answer_keeps_marker(void **state)
{
    struct pst_row r;

    (void)state;
    assert_int_equal(decode(env(EID_1, "ai_response", SID_A, 5, TID_1,
                                "{\"content\":\"Half an ans\",\"finish_reason\":\"stopped\","
                                "\"interrupted\":true}"), &r), 0);
    assert_string_equal(r.content, "Half an ans");
    assert_non_null(strstr(r.meta, "\"interrupted\":true"));
    assert_non_null(strstr(r.meta, "\"finish_reason\":\"stopped\""));
    pst_row_free(&r);
    /* No content at all (stopped before the first token): NULL content, meta kept. */
    assert_int_equal(decode(env(EID_1, "ai_response", SID_A, 5, TID_1,
                                "{\"interrupted\":true,\"finish_reason\":\"error\"}"), &r), 0);
    assert_null(r.content);
    assert_non_null(r.meta);
    pst_row_free(&r);
}

static void test_json_types_keep_payload(void **state)
{
    struct pst_row r;

    (void)state;
    assert_int_equal(decode(env(EID_1, "tool_call", SID_A, 5, TID_1,
                                "{\"call_id\":\"c1\",\"name\":\"get_weather\","
                                "\"arguments\":{\"location\":\"Paris\"}}"), &r), 0);
    assert_string_equal(r.content, "{\"call_id\":\"c1\",\"name\":\"get_weather\","
                                   "\"arguments\":{\"location\":\"Paris\"}}");
    assert_null(r.meta);
    pst_row_free(&r);
    assert_int_equal(decode(env(EID_1, "session_start", SID_A, 5, NULL, "{}"), &r), 0);
    assert_string_equal(r.content, "{}");
    assert_string_equal(r.turn_id, "");
    pst_row_free(&r);
    /* A type this version does not know is still stored, as JSON. */
    assert_int_equal(decode(env(EID_1, "feedback", SID_A, 5, NULL, "{\"stars\":5}"), &r), 0);
    assert_string_equal(r.content, "{\"stars\":5}");
    pst_row_free(&r);
}

static void test_session_end(void **state)
{
    struct pst_row r;

    (void)state;
    assert_int_equal(decode(env(EID_1, "session_end", SID_A, 9000, NULL,
                                "{\"start_ts\":1000,\"end_ts\":8000}"), &r), 0);
    assert_true(r.is_end);
    assert_int_equal(r.end_ts_ms, 8000);
    assert_int_equal(r.start_ts_ms, 1000);
    pst_row_free(&r);
    /* Without a payload the envelope's time is the end, and the start is unknown. */
    assert_int_equal(decode(env(EID_1, "session_end", SID_A, 9000, NULL, "{}"), &r), 0);
    assert_int_equal(r.end_ts_ms, 9000);
    assert_int_equal(r.start_ts_ms, -1);
    pst_row_free(&r);
}

static void expect_poison(const char *value, const char *why_part)
{
    struct pst_row r;

    assert_int_equal(pst_row_decode(value, value ? strlen(value) : 0, &r), SH_EINVAL);
    assert_int_equal(r.state, PST_ROW_POISON);
    if (!strstr(r.why, why_part))
        fail_msg("reason \"%s\" lacks \"%s\"", r.why, why_part);
    pst_row_free(&r);
}

static void test_poison(void **state)
{
    (void)state;
    expect_poison(NULL, "empty message");
    expect_poison("not json", "not valid JSON");
    expect_poison("[1,2]", "missing or invalid");
    expect_poison("{\"v\":1,\"id\":\"" EID_1 "\",\"type\":\"user_message\",\"ts\":1,"
                  "\"user_id\":\"u\",\"payload\":{}}", "missing or invalid");  /* no session */
    expect_poison(env("not-a-uuid", "user_message", SID_A, 1, NULL, "{\"content\":\"x\"}"),
                  "is not a UUID");
    expect_poison(env(EID_1, "user_message", SID_A, 1, "t-1", "{\"content\":\"x\"}"),
                  "turn_id");
    expect_poison(env(EID_1, "user_message", SID_A, 1, NULL, "{\"content\":42}"),
                  "not a string");
    /* jansson refuses \u0000 while parsing: a NUL never reaches a text parameter. */
    expect_poison(env(EID_1, "user_message", SID_A, 1, NULL, "{\"content\":\"a\\u0000b\"}"),
                  "malformed envelope");
}

static void test_dedupe(void **state)
{
    struct pst_row rows[4];
    struct pst_row *p[4] = {&rows[0], &rows[1], &rows[2], &rows[3]};

    (void)state;
    assert_int_equal(decode(env(EID_1, "user_message", SID_A, 1, NULL, "{\"content\":\"a\"}"),
                            &rows[0]), 0);
    assert_int_equal(decode(env(EID_2, "ai_response", SID_A, 2, NULL, "{\"content\":\"b\"}"),
                            &rows[1]), 0);
    assert_int_equal(decode(env(EID_1, "user_message", SID_A, 1, NULL, "{\"content\":\"a\"}"),
                            &rows[2]), 0);
    assert_int_equal(decode("junk", &rows[3]), SH_EINVAL);
    assert_int_equal(pst_rows_dedupe(p, 4), 1);
    assert_int_equal(rows[0].state, PST_ROW_OK);
    assert_int_equal(rows[1].state, PST_ROW_OK);
    assert_int_equal(rows[2].state, PST_ROW_DUP);
    assert_int_equal(rows[3].state, PST_ROW_POISON);
    for (int i = 0; i < 4; i++)
        pst_row_free(&rows[i]);
}

/* Render binary array parameter 'i' of 'p' (batch.h) as a text array literal, checking
 * its header on the way: {"a",NULL,...}; uuids in lower case, int8 in decimal. */
static const char *render(const struct pst_params *p, int i, uint32_t oid)
{
    static char out[8192];
    const unsigned char *b = (const unsigned char *)p->val[i];
    size_t at = 0, o = 0;
    uint32_t ndim, hasnull, n = 0;
    bool nulls = false;

#define U32() (at += 4, (uint32_t)b[at - 4] << 24 | (uint32_t)b[at - 3] << 16 | \
               (uint32_t)b[at - 2] << 8 | b[at - 1])
    assert_non_null(b);
    ndim = U32();
    hasnull = U32();
    assert_int_equal(U32(), oid);
    assert_true(ndim <= 1);
    if (ndim) {
        n = U32();
        assert_int_equal(U32(), 1);   /* lower bound */
    }
    o += (size_t)snprintf(out + o, sizeof(out) - o, "{");
    for (uint32_t e = 0; e < n; e++) {
        uint32_t len = U32();

        if (e)
            out[o++] = ',';
        if (len == UINT32_MAX) {
            nulls = true;
            o += (size_t)snprintf(out + o, sizeof(out) - o, "NULL");
            continue;
        }
        out[o++] = '"';
        if (oid == PST_OID_UUID) {
            assert_int_equal(len, 16);
            for (int k = 0; k < 16; k++)
                o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%02x",
                                      k == 4 || k == 6 || k == 8 || k == 10 ? "-" : "",
                                      b[at + (size_t)k]);
        } else if (oid == PST_OID_INT8) {
            uint64_t v = 0;
            assert_int_equal(len, 8);
            for (int k = 0; k < 8; k++)
                v = v << 8 | b[at + (size_t)k];
            o += (size_t)snprintf(out + o, sizeof(out) - o, "%lld", (long long)(int64_t)v);
        } else {
            for (uint32_t k = 0; k < len; k++) {
                if (b[at + k] == '"' || b[at + k] == '\\')
                    out[o++] = '\\';
                out[o++] = (char)b[at + k];
            }
        }
        out[o++] = '"';
        at += len;
    }
#undef U32
    o += (size_t)snprintf(out + o, sizeof(out) - o, "}");
    assert_int_equal(hasnull, nulls ? 1 : 0);
    assert_int_equal(at, (size_t)p->len[i]);   /* nothing left over */
    return out;
}

static void test_params(void **state)
{
    struct pst_row rows[4];
    struct pst_row *p[4] = {&rows[0], &rows[1], &rows[2], &rows[3]};
    struct pst_params prm;

    (void)state;
    assert_int_equal(decode(env(EID_1, "user_message", SID_B, 300, TID_1,
                                "{\"content\":\"q \\\"x\\\"\"}"), &rows[0]), 0);
    assert_int_equal(decode("junk", &rows[1]), SH_EINVAL);
    assert_int_equal(decode(env(EID_2, "session_start", SID_A, 200, NULL, "{}"), &rows[2]), 0);
    assert_int_equal(decode(env("0193a5c2-0000-7000-8000-000000000003", "ai_response", SID_B,
                                100, TID_1, "{\"content\":\"ok\"}"), &rows[3]), 0);
    assert_int_equal(pst_params_build(p, 4, NULL, &prm), 0);
    /* Sessions: distinct, sorted by id, earliest ts. */
    assert_int_equal(prm.n_sessions, 2);
    assert_string_equal(render(&prm, PST_S_IDS, PST_OID_UUID), "{\"" SID_A "\",\"" SID_B "\"}");
    assert_string_equal(render(&prm, PST_S_USERS, PST_OID_TEXT), "{\"alice\",\"alice\"}");
    assert_string_equal(render(&prm, PST_S_TS, PST_OID_INT8), "{\"200\",\"100\"}");
    /* Events: poison skipped, batch order kept, NULL turn and meta. */
    assert_int_equal(prm.n_events, 3);
    assert_string_equal(render(&prm, PST_E_KEYS, PST_OID_UUID),
                        "{\"" EID_1 "\",\"" EID_2 "\",\"0193a5c2-0000-7000-8000-000000000003\"}");
    assert_string_equal(render(&prm, PST_E_SESSIONS, PST_OID_UUID), "{\"" SID_B "\",\"" SID_A "\",\"" SID_B "\"}");
    assert_string_equal(render(&prm, PST_E_TURNS, PST_OID_UUID), "{\"" TID_1 "\",NULL,\"" TID_1 "\"}");
    assert_string_equal(render(&prm, PST_E_TS, PST_OID_INT8), "{\"300\",\"200\",\"100\"}");
    assert_string_equal(render(&prm, PST_E_TYPES, PST_OID_TEXT), "{\"user_message\",\"session_start\",\"ai_response\"}");
    assert_string_equal(render(&prm, PST_E_CONTENTS, PST_OID_TEXT), "{\"q \\\"x\\\"\",\"{}\",\"ok\"}");
    assert_string_equal(render(&prm, PST_E_METAS, PST_OID_TEXT), "{NULL,NULL,NULL}");
    pst_params_free(&prm);
    pst_params_free(&prm);   /* safe twice */
    /* Known sessions: A stored with start 200 (no earlier row here) is left out; B stored
     * with start 150 stays, its row at 100 is earlier. The events are all kept. */
    struct sh_map *known = sh_map_create();
    assert_non_null(known);
    assert_int_equal(sh_map_set(known, SID_A, (void *)(uintptr_t)200), 0);
    assert_int_equal(sh_map_set(known, SID_B, (void *)(uintptr_t)150), 0);
    assert_int_equal(pst_params_build(p, 4, known, &prm), 0);
    assert_int_equal(prm.n_sessions, 1);
    assert_string_equal(render(&prm, PST_S_IDS, PST_OID_UUID), "{\"" SID_B "\"}");
    assert_string_equal(render(&prm, PST_S_TS, PST_OID_INT8), "{\"100\"}");
    assert_int_equal(prm.n_events, 3);
    pst_params_free(&prm);
    /* B known with start 100: nothing left to upsert. */
    assert_int_equal(sh_map_set(known, SID_B, (void *)(uintptr_t)100), 0);
    assert_int_equal(pst_params_build(p, 4, known, &prm), 0);
    assert_int_equal(prm.n_sessions, 0);
    assert_string_equal(render(&prm, PST_S_IDS, PST_OID_UUID), "{}");
    pst_params_free(&prm);
    sh_map_destroy(known);
    for (int i = 0; i < 4; i++)
        pst_row_free(&rows[i]);
}

/* The exact bytes of array_recv's format for one row, upper-case hex ids included. */
static void test_params_wire_bytes(void **state)
{
    struct pst_row row;
    struct pst_row *p[1] = {&row};
    struct pst_params prm;
    static const unsigned char ts[] = {
        0, 0, 0, 1,  0, 0, 0, 0,  0, 0, 0, 20,    /* ndim 1, no NULL, int8 */
        0, 0, 0, 1,  0, 0, 0, 1,                  /* 1 element, lower bound 1 */
        0, 0, 0, 8,  0, 0, 0x01, 0x9a, 0xb9, 0x37, 0x4b, 0x7b};   /* 1764044000123 */
    static const unsigned char id[] = {
        0, 0, 0, 1,  0, 0, 0, 0,  0, 0, 0x0b, 0x86,   /* uuid = 2950 */
        0, 0, 0, 1,  0, 0, 0, 1,
        0, 0, 0, 16, 0x01, 0x93, 0xa5, 0xc2, 0xab, 0xcd, 0x70, 0x00, 0x80, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0xff};
    static const unsigned char turn[] = {
        0, 0, 0, 1,  0, 0, 0, 1,  0, 0, 0x0b, 0x86,   /* has a NULL */
        0, 0, 0, 1,  0, 0, 0, 1,
        0xff, 0xff, 0xff, 0xff};
    static const unsigned char type[] = {
        0, 0, 0, 1,  0, 0, 0, 0,  0, 0, 0, 25,
        0, 0, 0, 1,  0, 0, 0, 1,
        0, 0, 0, 13, 's', 'e', 's', 's', 'i', 'o', 'n', '_', 's', 't', 'a', 'r', 't'};
    static const unsigned char empty[] = {0, 0, 0, 0,  0, 0, 0, 0,  0, 0, 0x0b, 0x86};

    (void)state;
    assert_int_equal(decode(env("0193A5C2-ABCD-7000-8000-0000000000FF", "session_start", SID_A,
                                1764044000123, NULL, "{\"a\":\"\\\"\"}"), &row), 0);
    assert_int_equal(pst_params_build(p, 1, NULL, &prm), 0);
    assert_int_equal(prm.len[PST_E_TS], sizeof(ts));
    assert_memory_equal(prm.val[PST_E_TS], ts, sizeof(ts));
    assert_int_equal(prm.len[PST_E_KEYS], sizeof(id));
    assert_memory_equal(prm.val[PST_E_KEYS], id, sizeof(id));
    assert_int_equal(prm.len[PST_E_TURNS], sizeof(turn));
    assert_memory_equal(prm.val[PST_E_TURNS], turn, sizeof(turn));
    assert_int_equal(prm.len[PST_E_TYPES], sizeof(type));
    assert_memory_equal(prm.val[PST_E_TYPES], type, sizeof(type));
    /* Text goes as is: no quoting or escaping. */
    static const char content[] = "{\"a\":\"\\\"\"}";   /* {"a":"\""} */
    assert_int_equal(prm.len[PST_E_CONTENTS], 24 + sizeof(content) - 1);
    assert_memory_equal(prm.val[PST_E_CONTENTS] + 24, content, sizeof(content) - 1);
    pst_params_free(&prm);
    /* No row to write: empty arrays, ndim 0. */
    pst_row_poison(&row, "x");
    assert_int_equal(pst_params_build(p, 1, NULL, &prm), 0);
    assert_int_equal(prm.n_events, 0);
    assert_int_equal(prm.len[PST_E_KEYS], sizeof(empty));
    assert_memory_equal(prm.val[PST_E_KEYS], empty, sizeof(empty));
    assert_int_equal(prm.len[PST_S_IDS], sizeof(empty));
    assert_memory_equal(prm.val[PST_S_IDS], empty, sizeof(empty));
    pst_params_free(&prm);
    pst_row_free(&row);
}

static void test_dlq_record(void **state)
{
    struct pst_row r;
    rd_kafka_message_t m;
    char bad[] = {'{', (char)0xff, '}'};
    char *out = NULL;

    (void)state;
    memset(&m, 0, sizeof(m));
    assert_int_equal(decode("junk", &r), SH_EINVAL);
    m.payload = "junk";
    m.len = 4;
    m.key = SID_A;
    m.key_len = strlen(SID_A);
    m.partition = 2;
    m.offset = 41;
    assert_int_equal(pst_dlq_record(&m, "chat.events", &r, &out), 0);
    assert_non_null(strstr(out, "\"original\":\"junk\""));
    assert_non_null(strstr(out, "\"partition\":2"));
    assert_non_null(strstr(out, "\"offset\":41"));
    assert_non_null(strstr(out, "\"key\":\"" SID_A "\""));
    assert_non_null(strstr(out, "\"reason\":\"malformed envelope: not valid JSON\""));
    assert_non_null(strstr(out, "\"event_id\":null"));
    free(out);
    /* Not UTF-8: carried as base64. */
    m.payload = bad;
    m.len = sizeof(bad);
    assert_int_equal(pst_dlq_record(&m, "chat.events", &r, &out), 0);
    assert_non_null(strstr(out, "\"original_base64\":\"e/99\""));
    free(out);
    pst_row_free(&r);
}

static void test_sqlstate_classes(void **state)
{
    (void)state;
    assert_int_equal(sh_pg_classify("08006"), SH_EIO);     /* connection failure */
    assert_int_equal(sh_pg_classify("57P01"), SH_EIO);     /* admin shutdown */
    assert_int_equal(sh_pg_classify("40P01"), SH_EIO);     /* deadlock */
    assert_int_equal(sh_pg_classify("53300"), SH_EIO);     /* too many connections */
    assert_int_equal(sh_pg_classify(""), SH_EIO);
    assert_int_equal(sh_pg_classify(NULL), SH_EIO);
    assert_int_equal(sh_pg_classify("22008"), SH_EINVAL);  /* datetime out of range */
    assert_int_equal(sh_pg_classify("22P05"), SH_EINVAL);  /* untranslatable character */
    assert_int_equal(sh_pg_classify("23503"), SH_EINVAL);  /* foreign key */
    assert_int_equal(sh_pg_classify("42P01"), SH_EPROTO);  /* undefined table: not poison */
    assert_int_equal(sh_pg_classify("42501"), SH_EPROTO);  /* permission denied */
    assert_true(sh_pg_transient(SH_ETIMEDOUT));
    assert_false(sh_pg_transient(SH_EPROTO));
    for (int i = 0; i < 20; i++) {
        int64_t d = sh_backoff_ms(i, 200, 5000);
        assert_true(d >= 100 && d <= 5000);
    }
    assert_true(sh_backoff_ms(0, 200, 5000) <= 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_message_is_text),
        cmocka_unit_test(test_interrupted_answer_keeps_marker),
        cmocka_unit_test(test_json_types_keep_payload),
        cmocka_unit_test(test_session_end),
        cmocka_unit_test(test_poison),
        cmocka_unit_test(test_dedupe),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_params_wire_bytes),
        cmocka_unit_test(test_dlq_record),
        cmocka_unit_test(test_sqlstate_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
