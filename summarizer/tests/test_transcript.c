/* Unit tests for the summarizer's transcript building, request body and summary clean-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh_err.h"
#include "transcript.h"

static void test_basic_transcript(void **state)
{
    const struct sum_row rows[] = {
        {"user_message", "What's the weather in Paris?", NULL},
        {"tool_call", "{\"call_id\":\"c1\",\"name\":\"get_weather\","
                      "\"arguments\":{\"location\":\"Paris\"}}", NULL},
        {"tool_result", "{\"call_id\":\"c1\",\"name\":\"get_weather\","
                        "\"content\":{\"temp_c\":21,\"condition\":\"sunny\"}}", NULL},
        {"ai_response", "It is 21 °C and sunny.", "{\"finish_reason\":\"stop\"}"},
        {"session_start", "{}", NULL},             /* not part of the conversation */
        {"user_message", "And tomorrow?", NULL},
        {"ai_response", "I can only", "{\"interrupted\":true,\"finish_reason\":\"stopped\"}"},
    };
    struct sum_transcript t;

    (void)state;
    assert_int_equal(sum_transcript_build(rows, 7, 10000, &t), 0);
    assert_string_equal(t.text,
                        "User: What's the weather in Paris?\n"
                        "Tool call: get_weather {\"location\":\"Paris\"}\n"
                        "Tool result (get_weather): {\"temp_c\":21,\"condition\":\"sunny\"}\n"
                        "Assistant: It is 21 °C and sunny.\n"
                        "User: And tomorrow?\n"
                        "Assistant (interrupted): I can only\n");
    assert_int_equal(t.n_user, 2);
    assert_int_equal(t.n_lines, 6);
    assert_int_equal(t.n_omitted, 0);
    assert_int_equal(t.len, strlen(t.text));
    sum_transcript_free(&t);
    sum_transcript_free(&t);   /* safe twice */
}

static void test_no_user_message(void **state)
{
    const struct sum_row rows[] = {
        {"ai_response", "Hello! How can I help?", NULL},
        {"error", "{\"code\":\"llm_unavailable\"}", NULL},
    };
    struct sum_transcript t;

    (void)state;
    assert_int_equal(sum_transcript_build(rows, 2, 1000, &t), 0);
    assert_int_equal(t.n_user, 0);
    sum_transcript_free(&t);
    assert_int_equal(sum_transcript_build(NULL, 0, 1000, &t), 0);
    assert_int_equal(t.n_user, 0);
    assert_string_equal(t.text, "");
    sum_transcript_free(&t);
}

static void test_null_and_odd_content(void **state)
{
    const struct sum_row rows[] = {
        {"user_message", NULL, NULL},
        {"ai_response", NULL, "not json"},
        {"tool_call", "not json either", NULL},
        {"tool_result", "{\"name\":\"x\",\"content\":\"plain text\"}", NULL},
    };
    struct sum_transcript t;

    (void)state;
    assert_int_equal(sum_transcript_build(rows, 4, 1000, &t), 0);
    assert_string_equal(t.text, "User: \nAssistant: \nTool call: not json either\n"
                                "Tool result (x): plain text\n");
    sum_transcript_free(&t);
}

static void test_truncation_keeps_first_question_and_tail(void **state)
{
    struct sum_row rows[60];
    char texts[60][64];
    struct sum_transcript t;

    (void)state;
    for (int i = 0; i < 60; i++) {
        snprintf(texts[i], sizeof(texts[i]), "message number %02d with some padding text", i);
        rows[i] = (struct sum_row){i % 2 ? "ai_response" : "user_message", texts[i], NULL};
    }
    assert_int_equal(sum_transcript_build(rows, 60, 600, &t), 0);
    assert_true(t.len <= 600);
    assert_int_equal(t.n_user, 30);
    assert_true(t.n_omitted > 0);
    /* First question first, then the marker, then the newest lines, newest last. */
    assert_true(strncmp(t.text, "User: message number 00", 23) == 0);
    assert_non_null(strstr(t.text, "earlier lines omitted ...]\n"));
    assert_non_null(strstr(t.text, "Assistant: message number 59 with some padding text\n"));
    assert_null(strstr(t.text, "number 01 "));
    assert_int_equal(t.n_lines + t.n_omitted, 60);
    sum_transcript_free(&t);
}

static void test_long_message_is_cut_on_utf8_boundary(void **state)
{
    char big[3001];
    struct sum_row row = {"user_message", big, NULL};
    struct sum_transcript t;

    (void)state;
    /* 1000 x "é" (2 bytes each): any odd cut would split a character. */
    for (int i = 0; i < 1500; i++) {
        big[2 * i] = (char)0xc3;
        big[2 * i + 1] = (char)0xa9;
    }
    big[3000] = '\0';
    assert_int_equal(sum_transcript_build(&row, 1, 1001, &t), 0);
    assert_true(t.len <= 1001);
    json_t *valid = json_string(t.text);   /* NULL unless valid UTF-8 */
    assert_non_null(valid);
    json_decref(valid);
    assert_non_null(strstr(t.text, "\xe2\x80\xa6\n"));
    sum_transcript_free(&t);
    assert_int_equal(sum_utf8_cut("\xc3\xa9\xc3\xa9", 4, 3), 2);
    assert_int_equal(sum_utf8_cut("abc", 3, 10), 3);
}

static void test_request_body(void **state)
{
    const struct sum_row rows[] = {{"user_message", "Hi \"there\"", NULL}};
    struct sum_transcript t;
    char *body = NULL;
    json_t *o;

    (void)state;
    assert_int_equal(sum_transcript_build(rows, 1, 1000, &t), 0);
    assert_int_equal(sum_request_body("mock-llm", "Summarize in 1-2 sentences.", &t, 150, &body),
                     0);
    o = json_loads(body, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "model")), "mock-llm");
    assert_false(json_is_true(json_object_get(o, "stream")));
    assert_int_equal(json_integer_value(json_object_get(o, "max_tokens")), 150);
    json_t *msgs = json_object_get(o, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
                        "system");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "User: Hi \"there\"\n");
    json_decref(o);
    free(body);
    sum_transcript_free(&t);
}

static void test_summary_clean(void **state)
{
    const char *in = "  \n The user asked about\n\nParis weather.\t ";
    char *s;

    (void)state;
    s = sum_summary_clean(in, strlen(in), 100);
    assert_string_equal(s, "The user asked about Paris weather.");
    free(s);
    s = sum_summary_clean(in, strlen(in), 8);
    assert_string_equal(s, "The user");
    free(s);
    assert_null(sum_summary_clean(" \n\t ", 4, 100));
    assert_null(sum_summary_clean("", 0, 100));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_transcript),
        cmocka_unit_test(test_no_user_message),
        cmocka_unit_test(test_null_and_odd_content),
        cmocka_unit_test(test_truncation_keeps_first_question_and_tail),
        cmocka_unit_test(test_long_message_is_cut_on_utf8_boundary),
        cmocka_unit_test(test_request_body),
        cmocka_unit_test(test_summary_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
