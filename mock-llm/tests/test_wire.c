/* Unit tests for wire formatting (SSE chunks, completion, errors), the timer heap and the byte buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sh_err.h"
#include "sse.h"
#include "theap.h"

/* Parse the single "data: {...}\n\n" event in 'b' and drop it from the buffer. */
static json_t *take_event(struct mock_buf *b)
{
    const char *p = mock_buf_ptr(b), *end = strstr(p, "\n\n");
    json_error_t jerr;
    json_t *j;

    assert_non_null(end);
    assert_memory_equal(p, "data: ", 6);
    j = json_loadb(p + 6, (size_t)(end - p - 6), 0, &jerr);
    if (!j)
        fail_msg("bad JSON: %s in %.*s", jerr.text, (int)(end - p), p);
    mock_buf_consume(b, (size_t)(end + 2 - p));
    return j;
}

static const json_t *delta_of(const json_t *chunk)
{
    return json_object_get(json_array_get(json_object_get(chunk, "choices"), 0), "delta");
}

static void test_text_chunks(void **state)
{
    struct mock_sse s;
    struct mock_buf b;
    json_t *j;

    (void)state;
    mock_buf_init(&b);
    assert_int_equal(mock_sse_init(&s, "chatcmpl-1", 1700000000, "we\"ird\nmodel", true), 0);
    assert_int_equal(mock_sse_role(&s, &b), 0);
    assert_int_equal(mock_sse_content(&s, &b, " h\u00e9 \"q\"\t\x01", 10), 0);
    assert_int_equal(mock_sse_finish(&s, &b, "stop"), 0);
    assert_int_equal(mock_sse_usage(&s, &b, 10, 5), 0);
    assert_int_equal(mock_sse_done(&b), 0);

    j = take_event(&b);
    assert_string_equal(json_string_value(json_object_get(j, "object")), "chat.completion.chunk");
    assert_string_equal(json_string_value(json_object_get(j, "model")), "we\"ird\nmodel");
    assert_int_equal(json_integer_value(json_object_get(j, "created")), 1700000000);
    assert_string_equal(json_string_value(json_object_get(delta_of(j), "role")), "assistant");
    assert_true(json_is_null(json_object_get(j, "usage")));
    json_decref(j);
    j = take_event(&b);
    assert_string_equal(json_string_value(json_object_get(delta_of(j), "content")),
                        " h\u00e9 \"q\"\t\x01");
    json_decref(j);
    j = take_event(&b);
    assert_int_equal(json_object_size(delta_of(j)), 0);
    assert_string_equal(json_string_value(json_object_get(
        json_array_get(json_object_get(j, "choices"), 0), "finish_reason")), "stop");
    json_decref(j);
    j = take_event(&b);
    assert_int_equal(json_array_size(json_object_get(j, "choices")), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "usage"),
                                                        "total_tokens")), 15);
    json_decref(j);
    assert_string_equal(mock_buf_ptr(&b), "data: [DONE]\n\n");
    mock_sse_free(&s);
    mock_buf_free(&b);
}

static void test_tool_chunks(void **state)
{
    struct mock_sse s;
    struct mock_buf b;
    struct mock_tool_call call = {.id = "call_abc", .name = "get_weather"};
    const json_t *tc;
    json_t *j;

    (void)state;
    mock_buf_init(&b);
    assert_int_equal(mock_sse_init(&s, "chatcmpl-2", 1, "m", false), 0);
    assert_int_equal(mock_sse_tool_start(&s, &b, 1, &call, true), 0);
    assert_int_equal(mock_sse_tool_args(&s, &b, 1, "{\"location\": ", 13), 0);

    j = take_event(&b);
    assert_null(json_object_get(j, "usage"));
    assert_string_equal(json_string_value(json_object_get(delta_of(j), "role")), "assistant");
    tc = json_array_get(json_object_get(delta_of(j), "tool_calls"), 0);
    assert_int_equal(json_integer_value(json_object_get(tc, "index")), 1);
    assert_string_equal(json_string_value(json_object_get(tc, "id")), "call_abc");
    assert_string_equal(json_string_value(json_object_get(tc, "type")), "function");
    assert_string_equal(json_string_value(json_object_get(json_object_get(tc, "function"),
                                                          "arguments")), "");
    json_decref(j);
    j = take_event(&b);
    tc = json_array_get(json_object_get(delta_of(j), "tool_calls"), 0);
    assert_null(json_object_get(tc, "id"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(tc, "function"),
                                                          "arguments")), "{\"location\": ");
    json_decref(j);
    mock_sse_free(&s);
    mock_buf_free(&b);
}

static void test_completion_and_error(void **state)
{
    struct mock_reply r;
    struct mock_buf b;
    const char *body = "{\"model\":\"m1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    json_t *j, *msg;

    (void)state;
    mock_buf_init(&b);
    assert_int_equal(mock_reply_build(body, strlen(body), &r), 0);
    assert_int_equal(mock_completion_json(&r, "chatcmpl-3", 5, &b), 0);
    j = json_loads(mock_buf_ptr(&b), 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "object")), "chat.completion");
    msg = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message");
    assert_string_equal(json_string_value(json_object_get(msg, "content")), r.text);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "usage"),
                                                        "completion_tokens")), r.n_pieces);
    json_decref(j);
    mock_reply_free(&r);

    mock_buf_reset(&b);
    assert_int_equal(mock_error_json(&b, "Rate \"limit\"", "requests", NULL, "rate_limit_exceeded"), 0);
    assert_string_equal(mock_buf_ptr(&b), "{\"error\":{\"message\":\"Rate \\\"limit\\\"\",\"type\":"
                        "\"requests\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}");
    mock_buf_free(&b);
}

static void test_theap_order(void **state)
{
    enum { N = 500 };
    struct mock_timer *t = calloc(N, sizeof(*t));
    struct mock_theap h;
    int64_t last = -1;
    unsigned seed = 12345;

    (void)state;
    mock_theap_init(&h);
    for (int i = 0; i < N; i++) {
        mock_timer_init(&t[i]);
        seed = seed * 1103515245u + 12345u;
        assert_int_equal(mock_theap_arm(&h, &t[i], (int64_t)(seed % 10000)), 0);
    }
    /* Move some, remove some: the heap must stay ordered. */
    for (int i = 0; i < N; i += 3)
        mock_theap_arm(&h, &t[i], (int64_t)((i * 7919) % 10000));
    for (int i = 1; i < N; i += 5)
        mock_theap_disarm(&h, &t[i]);
    while (mock_theap_peek(&h)) {
        struct mock_timer *top = mock_theap_peek(&h);
        assert_true(top->due_us >= last);
        last = top->due_us;
        mock_theap_disarm(&h, top);
        assert_false(mock_timer_armed(top));
    }
    mock_theap_free(&h);
    free(t);
}

static void test_buf(void **state)
{
    struct mock_buf b;
    char *s;

    (void)state;
    mock_buf_init(&b);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(mock_buf_printf(&b, "%04d", i), 0);
    assert_int_equal(mock_buf_size(&b), 4000);
    mock_buf_consume(&b, 3996);
    assert_string_equal(mock_buf_ptr(&b), "0999");
    assert_int_equal(mock_buf_json_str(&b, "a\"\\\n", 4), 0);
    assert_string_equal(mock_buf_ptr(&b), "0999\"a\\\"\\\\\\n\"");
    mock_buf_truncate(&b, 2);
    s = mock_buf_steal(&b);
    assert_string_equal(s, "09");
    free(s);
    assert_int_equal(mock_buf_size(&b), 0);
    mock_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_chunks),
        cmocka_unit_test(test_tool_chunks),
        cmocka_unit_test(test_completion_and_error),
        cmocka_unit_test(test_theap_order),
        cmocka_unit_test(test_buf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
