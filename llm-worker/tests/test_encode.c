/* Unit tests for the hand-written JSON (encode.c) and the snapshot writer: every output must be
 * the bytes jansson's JSON_COMPACT makes for the same value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "session.h"
#include "sh_envelope.h"
#include "sh_err.h"
#include "sh_oai_request.h"

#define SID "0193a5c1-0000-7000-8000-000000000001"
#define TID "0193a5c1-0000-7000-8000-0000000000aa"

/* Strings that exercise the escaper: quotes, backslashes, every control character, slash,
 * DEL and multi-byte UTF-8 (passed through, as jansson does without JSON_ENSURE_ASCII). */
static const char *const samples[] = {
    "", "plain", "quote \" and backslash \\ and slash /", "tab\tnl\ncr\rbs\bff\f",
    "\x01\x02\x1f\x7f end", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
    "{\"json\":[1,2]}", "</script>",
};
#define N_SAMPLES (sizeof(samples) / sizeof(samples[0]))

static void assert_same_as_jansson(const struct llm_jbuf *b, json_t *v)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    assert_non_null(want);
    assert_false(b->oom);
    assert_int_equal(b->len, strlen(want));
    assert_string_equal(b->p, want);
    free(want);
}

static void test_strings_and_ints(void **state)
{
    static const int64_t ints[] = {0, 1, -1, 42, 1764044000123, INT64_MAX, INT64_MIN};
    struct llm_jbuf b = {0};

    (void)state;
    for (size_t i = 0; i < N_SAMPLES; i++) {
        json_t *v = json_string(samples[i]);
        llm_jbuf_reset(&b);
        assert_int_equal(llm_jbuf_cstr(&b, samples[i]), 0);
        assert_same_as_jansson(&b, v);
        json_decref(v);
    }
    /* every byte below 0x20 */
    for (int c = 1; c < 0x20; c++) {
        char s[2] = {(char)c, 0};
        json_t *v = json_string(s);
        llm_jbuf_reset(&b);
        llm_jbuf_cstr(&b, s);
        assert_same_as_jansson(&b, v);
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        json_t *v = json_integer((json_int_t)ints[i]);
        llm_jbuf_reset(&b);
        llm_jbuf_int(&b, ints[i]);
        assert_same_as_jansson(&b, v);
        json_decref(v);
    }
    llm_jbuf_free(&b);
}

/* llm_env_encode() against sh_env_encode(), with and without the optional fields, and a
 * payload larger than the buffer's first allocation. */
static void test_envelope(void **state)
{
    struct llm_jbuf b = {0};
    char *big = malloc(5000);

    (void)state;
    memset(big, 'x', 4999);
    big[4999] = '\0';
    for (int variant = 0; variant < 4; variant++) {
        for (size_t i = 0; i < N_SAMPLES; i++) {
            struct sh_env e;
            char *want = NULL;
            size_t len = 0;
            assert_int_equal(sh_env_init(&e, "ai_response", SID, samples[i],
                                         variant & 1 ? TID : NULL), 0);
            if (variant & 2) {
                e.seq = (int64_t)i * 1000;
                snprintf(e.reply_to, sizeof(e.reply_to), "chat.replies.gw-%zu", i);
            }
            json_object_set_new(e.payload, "content", json_string(variant == 3 ? big : samples[i]));
            json_object_set_new(e.payload, "interrupted", json_false());
            json_object_set_new(e.payload, "usage", json_pack("{s:i}", "total_tokens", 7));
            assert_int_equal(sh_env_encode(&e, &want, &len), 0);
            llm_jbuf_reset(&b);
            assert_int_equal(llm_env_encode(&b, &e), 0);
            assert_int_equal(b.len, len);
            assert_memory_equal(b.p, want, len);
            free(want);
            sh_env_free(&e);
        }
    }
    free(big);
    llm_jbuf_free(&b);
}

/* llm_request_body() against sh_oai_request_build() with the same messages. */
static void test_request_body(void **state)
{
    json_t *tools = json_pack("[{s:s, s:{s:s, s:{s:s}}}]", "type", "function", "function",
                              "name", "get_weather", "parameters", "type", "object");
    json_t *empty = json_array();

    (void)state;
    for (int n_hist = 0; n_hist <= 3; n_hist++) {
        for (int with_tools = 0; with_tools < 3; with_tools++) {
            struct llm_session *s = llm_session_create(SID, "alice", 0);
            json_t *msgs = json_array();
            struct sh_oai_request req = {
                .model = "mock-\"llm\"", .messages = msgs,
                .tools = with_tools == 1 ? tools : with_tools == 2 ? empty : NULL,
                .stream = true, .max_tokens = n_hist == 2 ? 0 : 512,
            };
            char *want = NULL, *tools_json = req.tools ? json_dumps(req.tools, JSON_COMPACT)
                                                       : NULL;
            struct llm_jbuf b = {0};
            const char *user = samples[(n_hist + 2) % N_SAMPLES];

            assert_non_null(s);
            json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content",
                                                  "You are\n\"helpful\"."));
            for (int i = 0; i < n_hist; i++)
                llm_session_history_add(s, i % 2 ? "assistant" : "user", samples[i + 3], 40);
            json_array_extend(msgs, s->history);
            json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", user));
            assert_int_equal(sh_oai_request_build(&req, &want), 0);
            assert_int_equal(llm_request_body(&b, req.model, "You are\n\"helpful\".",
                                              s->hist_enc.p, s->hist_enc.len, user, strlen(user),
                                              tools_json, req.max_tokens), 0);
            assert_string_equal(b.p, want);
            free(want);
            free(tools_json);
            llm_jbuf_free(&b);
            json_decref(msgs);
            llm_session_destroy(s);
        }
    }
    json_decref(tools);
    json_decref(empty);
}

static void assert_snapshot_same(const struct llm_session *s)
{
    json_t *snap = llm_session_snapshot(s);
    json_t *hist = json_deep_copy(s->history);
    struct llm_jbuf b = {0}, h = {0};

    assert_non_null(snap);
    assert_int_equal(llm_session_snapshot_write(s, &b), 0);
    assert_same_as_jansson(&b, snap);
    /* the encoded history is exactly the array's items */
    llm_jbuf_put(&h, "[", 1);
    llm_jbuf_put(&h, s->hist_enc.p ? s->hist_enc.p : "", s->hist_enc.len);
    llm_jbuf_put(&h, "]", 1);
    assert_same_as_jansson(&h, hist);
    json_decref(hist);
    json_decref(snap);
    llm_jbuf_free(&b);
    llm_jbuf_free(&h);
}

/* The snapshot writer against json_dumps(llm_session_snapshot()), while the history grows past
 * its bound (oldest messages dropped from both forms) and after a restore. */
static void test_snapshot_write(void **state)
{
    struct llm_session *s = llm_session_create(SID, "al\"ice", 5), *r;
    json_t *snap;

    (void)state;
    assert_non_null(s);
    assert_snapshot_same(s);
    s->next_seq = 17;
    s->seq_reserved = 2017;
    s->applied_offset = 99;
    s->closed_ms = 1764044000123;
    snprintf(s->running_turn, sizeof(s->running_turn), "%s", TID);
    for (int i = 0; i < 13; i++) {
        char turn[40], client[40];
        assert_int_equal(llm_session_history_add(s, i % 2 ? "assistant" : "user",
                                                 samples[i % N_SAMPLES], 6), 0);
        snprintf(turn, sizeof(turn), "turn-%d", i);
        snprintf(client, sizeof(client), i % 3 ? "client-%d" : "", i);
        llm_session_mark_done(s, turn, client);
        assert_true(json_array_size(s->history) <= 6);
        assert_snapshot_same(s);
    }
    llm_session_route_add(s, "chat.replies.gw-a");
    llm_session_route_add(s, "chat.replies.gw-b");
    llm_session_route_touch(s, "chat.replies.gw-b", 1764044000999);
    assert_snapshot_same(s);
    snap = llm_session_snapshot(s);
    r = llm_session_restore(SID, 5, snap);
    assert_non_null(r);
    assert_int_equal(r->hist_enc.len, s->hist_enc.len);
    assert_memory_equal(r->hist_enc.p, s->hist_enc.p, s->hist_enc.len);
    assert_snapshot_same(r);
    /* the restored session keeps both forms in step as it goes on */
    for (int i = 0; i < 4; i++) {
        llm_session_history_add(r, "user", samples[i], 6);
        assert_snapshot_same(r);
    }
    json_decref(snap);
    llm_session_destroy(s);
    llm_session_destroy(r);
}

/* Text jansson refuses (invalid UTF-8) is added to neither form. */
static void test_history_refused(void **state)
{
    struct llm_session *s = llm_session_create(SID, "alice", 0);

    (void)state;
    assert_int_equal(llm_session_history_add(s, "user", "ok", 40), 0);
    assert_int_equal(llm_session_history_add(s, "assistant", "bad \xff\xfe", 40), SH_ENOMEM);
    assert_int_equal(json_array_size(s->history), 1);
    assert_snapshot_same(s);
    llm_session_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_and_ints),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_request_body),
        cmocka_unit_test(test_snapshot_write),
        cmocka_unit_test(test_history_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
