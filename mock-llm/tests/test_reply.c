/* Unit tests for answer decisions: text, multi-turn, markdown/long, summary, weather tool calls, tool results, faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults.h"
#include "reply.h"
#include "sh_err.h"

#define TOOLS "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"," \
              "\"parameters\":{\"type\":\"object\"}}}]"

static int build(const char *body, struct mock_reply *r)
{
    return mock_reply_build(body, strlen(body), r);
}

/* Build a request whose only message is a user message with 'text'. */
static int build_user(const char *extra, const char *text, struct mock_reply *r)
{
    char body[2048];
    snprintf(body, sizeof(body), "{\"model\":\"gpt-x\"%s%s,\"messages\":[{\"role\":\"user\","
             "\"content\":\"%s\"}]}", extra[0] ? "," : "", extra, text);
    return build(body, r);
}

static void assert_pieces_rebuild(const struct mock_reply *r)
{
    assert_int_equal(r->pieces[0], 0);
    assert_int_equal(r->pieces[r->n_pieces], strlen(r->text));
    for (size_t i = 0; i < r->n_pieces; i++)
        assert_true(r->pieces[i] < r->pieces[i + 1]);
}

static void test_plain_text(void **state)
{
    struct mock_reply r;

    (void)state;
    assert_int_equal(build_user("\"stream\":true", "Hello there", &r), 0);
    assert_int_equal(r.kind, MOCK_REPLY_TEXT);
    assert_string_equal(r.model, "gpt-x");
    assert_true(r.stream);
    assert_string_equal(r.finish_reason, "stop");
    assert_non_null(strstr(r.text, "Mock reply to: \"Hello there\"."));
    assert_non_null(strstr(r.text, "(context: 1 messages)"));
    assert_null(strstr(r.text, "Earlier you said"));
    assert_pieces_rebuild(&r);
    assert_int_equal(r.completion_tokens, r.n_pieces);
    assert_true(r.prompt_tokens > 0);
    mock_reply_free(&r);
}

static void test_multi_turn(void **state)
{
    struct mock_reply r;
    const char *body =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
        "{\"role\":\"user\",\"content\":\"My name is Ada.\"},"
        "{\"role\":\"assistant\",\"content\":\"Hi Ada\"},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is my name?\"}]}]}";

    (void)state;
    assert_int_equal(build(body, &r), 0);
    assert_non_null(strstr(r.text, "Mock reply to: \"What is my name?\"."));
    assert_non_null(strstr(r.text, "Earlier you said: \"My name is Ada.\"."));
    assert_non_null(strstr(r.text, "(context: 4 messages)"));
    mock_reply_free(&r);
}

static void test_echo_is_cut_at_80_chars(void **state)
{
    struct mock_reply r;
    char text[300], want[120];

    (void)state;
    memset(text, 'x', 200);
    text[200] = '\0';
    assert_int_equal(build_user("", text, &r), 0);
    snprintf(want, sizeof(want), "Mock reply to: \"%.80s\".", text);
    assert_non_null(strstr(r.text, want));
    mock_reply_free(&r);
}

static void test_markdown_and_long(void **state)
{
    struct mock_reply r;

    (void)state;
    assert_int_equal(build_user("", "answer in markdown please", &r), 0);
    assert_non_null(strstr(r.text, "\n## "));
    assert_non_null(strstr(r.text, "\n- "));
    assert_non_null(strstr(r.text, "| --- |"));
    assert_non_null(strstr(r.text, "```c\n"));
    assert_pieces_rebuild(&r);
    mock_reply_free(&r);

    assert_int_equal(build_user("", "write a long answer", &r), 0);
    assert_true(r.n_pieces >= 300 && r.n_pieces < 340);
    mock_reply_free(&r);

    /* "along" is not "long". */
    assert_int_equal(build_user("", "come along", &r), 0);
    assert_true(r.n_pieces < 60);
    mock_reply_free(&r);
}

static void test_max_tokens(void **state)
{
    struct mock_reply r;

    (void)state;
    assert_int_equal(build_user("\"max_tokens\":50,\"max_completion_tokens\":4", "write a long answer",
                                &r), 0);
    assert_string_equal(r.finish_reason, "length");
    assert_int_equal(r.n_pieces, 4);
    assert_string_equal(r.text, "Mock reply to: \"write");
    mock_reply_free(&r);
}

static void test_summary_only_when_not_streaming(void **state)
{
    struct mock_reply r;
    const char *fmt =
        "{\"model\":\"m\",\"stream\":%s,\"messages\":[{\"role\":\"system\",\"content\":"
        "\"Summarize the conversation.\"},{\"role\":\"user\",\"content\":\"We discussed the "
        "borrow checker, lifetimes and traits.\"},{\"role\":\"assistant\",\"content\":\"ok\"},"
        "{\"role\":\"user\",\"content\":\"and async\"}]}";
    char body[512];

    (void)state;
    snprintf(body, sizeof(body), fmt, "false");
    assert_int_equal(build(body, &r), 0);
    assert_string_equal(r.text, "Mock summary: the user sent 2 messages about We discussed the "
                        "borrow checker, lifetimes.");
    mock_reply_free(&r);
    snprintf(body, sizeof(body), fmt, "true");
    assert_int_equal(build(body, &r), 0);
    assert_non_null(strstr(r.text, "Mock reply to: \"and async\"."));
    mock_reply_free(&r);
}

static void check_args_split(const struct mock_tool_call *c)
{
    char joined[256] = "";

    assert_true(c->n_frags >= 3);
    for (size_t f = 0; f < c->n_frags; f++)
        strncat(joined, c->arguments + c->frag[f], c->frag[f + 1] - c->frag[f]);
    assert_string_equal(joined, c->arguments);
}

static void test_weather_tool_call(void **state)
{
    struct mock_reply r, again;

    (void)state;
    assert_int_equal(build_user(TOOLS ",\"stream\":true", "What's the Weather in Paris today?", &r), 0);
    assert_int_equal(r.kind, MOCK_REPLY_TOOL_CALLS);
    assert_string_equal(r.finish_reason, "tool_calls");
    assert_int_equal(r.n_calls, 1);
    assert_string_equal(r.calls[0].name, "get_weather");
    assert_string_equal(r.calls[0].arguments, "{\"location\": \"Paris\", \"unit\": \"celsius\"}");
    assert_memory_equal(r.calls[0].id, "call_", 5);
    check_args_split(&r.calls[0]);
    /* Deterministic: the same conversation gives the same call id. */
    assert_int_equal(build_user(TOOLS ",\"stream\":true", "What's the Weather in Paris today?",
                                &again), 0);
    assert_string_equal(again.calls[0].id, r.calls[0].id);
    mock_reply_free(&again);
    mock_reply_free(&r);
}

static void test_weather_two_cities_fahrenheit(void **state)
{
    struct mock_reply r;

    (void)state;
    assert_int_equal(build_user(TOOLS, "temperature in New York and Zürich in fahrenheit?", &r), 0);
    assert_int_equal(r.n_calls, 2);
    assert_string_equal(r.calls[0].arguments, "{\"location\": \"New York\", \"unit\": \"fahrenheit\"}");
    assert_string_equal(r.calls[1].arguments, "{\"location\": \"Zürich\", \"unit\": \"fahrenheit\"}");
    assert_string_not_equal(r.calls[0].id, r.calls[1].id);
    check_args_split(&r.calls[1]);
    mock_reply_free(&r);
}

static void test_weather_needs_tool_and_question(void **state)
{
    struct mock_reply r;

    (void)state;
    assert_int_equal(build_user("", "weather in Oslo?", &r), 0);            /* no tools */
    assert_int_equal(r.kind, MOCK_REPLY_TEXT);
    mock_reply_free(&r);
    assert_int_equal(build_user(TOOLS, "hello", &r), 0);                     /* no question */
    assert_int_equal(r.kind, MOCK_REPLY_TEXT);
    mock_reply_free(&r);
    assert_int_equal(build_user(TOOLS ",\"tool_choice\":\"none\"", "forecast?", &r), 0);
    assert_int_equal(r.kind, MOCK_REPLY_TEXT);
    mock_reply_free(&r);
    assert_int_equal(build_user(TOOLS, "What's the forecast?", &r), 0);      /* default city */
    assert_string_equal(r.calls[0].arguments,
                        "{\"location\": \"San Francisco\", \"unit\": \"celsius\"}");
    mock_reply_free(&r);
}

static void test_city_extraction(void **state)
{
    static const struct {
        const char *text, *first, *second;
    } cases[] = {
        {"weather in Paris?", "Paris", NULL},
        {"How is the weather in San Francisco right now, please?", "San Francisco", NULL},
        {"weather in Paris and London", "Paris", "London"},
        {"forecast in Tokyo & Osaka tomorrow", "Tokyo", "Osaka"},
        {"temperature in fahrenheit in Rome", "Rome", NULL},
        {"weather please", "San Francisco", NULL},
    };
    char cities[4][MOCK_CITY_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = mock_weather_cities(cases[i].text, cities, 4);
        assert_string_equal(cities[0], cases[i].first);
        assert_int_equal(n, cases[i].second ? 2 : 1);
        if (cases[i].second)
            assert_string_equal(cities[1], cases[i].second);
    }
}

static void test_tool_result_answer(void **state)
{
    struct mock_reply r;
    const char *body =
        "{\"model\":\"m\"," TOOLS ",\"messages\":["
        "{\"role\":\"user\",\"content\":\"weather in Paris and Oslo?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"location\\\": \\\"Paris\\\"}\"}},"
        "{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":\"{\\\"location\\\": \\\"Oslo\\\", \\\"unit\\\": \\\"fahrenheit\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_a\",\"content\":\"{\\\"location\\\":\\\"Paris\\\","
        "\\\"temperature\\\":18,\\\"unit\\\":\\\"celsius\\\",\\\"condition\\\":\\\"sunny\\\","
        "\\\"humidity\\\":60}\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_b\",\"content\":\"{\\\"temp\\\":41.5,"
        "\\\"description\\\":\\\"snow\\\",\\\"wind\\\":\\\"5 km/h\\\"}\"}]}";

    (void)state;
    assert_int_equal(build(body, &r), 0);
    assert_int_equal(r.kind, MOCK_REPLY_TEXT);
    assert_string_equal(r.text, "The weather in Paris is 18°C and sunny (humidity 60%). "
                        "The weather in Oslo is 41.5°F and snow (wind: 5 km/h).");
    mock_reply_free(&r);
}

static void test_tool_result_not_json(void **state)
{
    struct mock_reply r;
    const char *body =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
        "{\"role\":\"tool\",\"name\":\"lookup\",\"tool_call_id\":\"z\",\"content\":\"plain text\"}]}";

    (void)state;
    assert_int_equal(build(body, &r), 0);
    assert_string_equal(r.text, "The lookup tool returned: \"plain text\".");
    mock_reply_free(&r);
}

static void test_invalid_requests(void **state)
{
    static const struct {
        const char *body, *code;
    } cases[] = {
        {"{\"model\":", "invalid_json"},
        {"[1,2]", "invalid_json"},
        {"{\"model\":\"m\"}", "missing_required_parameter"},
        {"{\"messages\":[]}", "invalid_value"},
        {"{\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}", "invalid_value"},
        {"{\"messages\":[{\"role\":\"user\"}],\"model\":5}", "invalid_type"},
        {"{\"messages\":[{\"role\":\"user\"}],\"stream\":\"yes\"}", "invalid_type"},
        {"{\"messages\":[{\"role\":\"user\"}],\"max_tokens\":0}", "invalid_value"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"[[fault:explode]]\"}]}", "invalid_fault"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mock_reply r;
        assert_int_equal(build(cases[i].body, &r), SH_EINVAL);
        assert_string_equal(r.error_code, cases[i].code);
        assert_true(strlen(r.error) > 10);
        mock_reply_free(&r);
    }
}

static void test_fault_marker_parsing(void **state)
{
    size_t start, end;
    enum mock_fault f;
    char *s;

    (void)state;
    assert_int_equal(mock_fault_marker("hi [[fault:429once]] there", &start, &end, &f), 1);
    assert_int_equal(f, MOCK_FAULT_429_ONCE);
    assert_int_equal(start, 3);
    assert_int_equal(end, 20);
    assert_int_equal(mock_fault_marker("[[FAULT: Cut ]]", &start, &end, &f), 1);
    assert_int_equal(f, MOCK_FAULT_CUT);
    assert_int_equal(mock_fault_marker("no marker [[fault:429", &start, &end, &f), 0);
    assert_int_equal(mock_fault_marker("[[fault:bogus]]", &start, &end, &f), SH_EINVAL);
    s = mock_fault_strip("  hi [[fault:500]] there [[fault:hang]]");
    assert_string_equal(s, "hi there");
    free(s);
}

static void test_marker_in_request(void **state)
{
    struct mock_reply r;

    (void)state;
    assert_int_equal(build_user("", "tell me a story [[fault:cut]]", &r), 0);
    assert_true(r.has_marker);
    assert_int_equal(r.marker_fault, MOCK_FAULT_CUT);
    assert_null(strstr(r.text, "[[fault"));
    assert_non_null(strstr(r.text, "Mock reply to: \"tell me a story\"."));
    mock_reply_free(&r);
    assert_int_equal(build_user("", "plain", &r), 0);
    assert_false(r.has_marker);
    mock_reply_free(&r);
}

static void test_fault_specs(void **state)
{
    struct mock_faults *f = malloc(sizeof(*f));
    char err[200];
    int counts[MOCK_FAULT_HANG + 1] = {0};

    (void)state;
    assert_int_equal(mock_faults_init(f, "", 1, err, sizeof(err)), 0);
    assert_int_equal(mock_faults_draw(f), MOCK_FAULT_NONE);
    assert_int_equal(mock_faults_init(f, "quota", 1, err, sizeof(err)), 0);
    assert_int_equal(mock_faults_draw(f), MOCK_FAULT_QUOTA);
    assert_int_equal(mock_faults_init(f, "429:0.1, 500:0.05,cut:0.02", 7, err, sizeof(err)), 0);
    for (int i = 0; i < 10000; i++)
        counts[mock_faults_draw(f)]++;
    assert_true(counts[MOCK_FAULT_429] > 800 && counts[MOCK_FAULT_429] < 1200);
    assert_true(counts[MOCK_FAULT_500] > 350 && counts[MOCK_FAULT_500] < 650);
    assert_true(counts[MOCK_FAULT_CUT] > 100 && counts[MOCK_FAULT_CUT] < 320);
    assert_int_equal(mock_faults_init(f, "429:0.7,500:0.6", 1, err, sizeof(err)), SH_EINVAL);
    assert_int_equal(mock_faults_init(f, "429:abc", 1, err, sizeof(err)), SH_EINVAL);
    assert_int_equal(mock_faults_init(f, "teapot", 1, err, sizeof(err)), SH_EINVAL);
    assert_non_null(strstr(err, "teapot"));
    free(f);
}

static void test_fault_once(void **state)
{
    struct mock_faults *f = malloc(sizeof(*f));
    char err[64];

    (void)state;
    mock_faults_init(f, NULL, 1, err, sizeof(err));
    assert_int_equal(mock_faults_once(f, MOCK_FAULT_429_ONCE, 42), MOCK_FAULT_429);
    assert_int_equal(mock_faults_once(f, MOCK_FAULT_429_ONCE, 42), MOCK_FAULT_NONE);
    assert_int_equal(mock_faults_once(f, MOCK_FAULT_500_ONCE, 42), MOCK_FAULT_500);
    assert_int_equal(mock_faults_once(f, MOCK_FAULT_429_ONCE, 43), MOCK_FAULT_429);
    assert_int_equal(mock_faults_once(f, MOCK_FAULT_CUT, 42), MOCK_FAULT_CUT);
    free(f);
}

static void test_split(void **state)
{
    size_t offs[8];

    (void)state;
    assert_int_equal(mock_reply_split("Hello  big\nworld", offs, 7), 3);
    assert_int_equal(offs[1], 5);
    assert_int_equal(offs[2], 10);
    assert_int_equal(offs[3], 16);
    assert_int_equal(mock_reply_split("", NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text),
        cmocka_unit_test(test_multi_turn),
        cmocka_unit_test(test_echo_is_cut_at_80_chars),
        cmocka_unit_test(test_markdown_and_long),
        cmocka_unit_test(test_max_tokens),
        cmocka_unit_test(test_summary_only_when_not_streaming),
        cmocka_unit_test(test_weather_tool_call),
        cmocka_unit_test(test_weather_two_cities_fahrenheit),
        cmocka_unit_test(test_weather_needs_tool_and_question),
        cmocka_unit_test(test_city_extraction),
        cmocka_unit_test(test_tool_result_answer),
        cmocka_unit_test(test_tool_result_not_json),
        cmocka_unit_test(test_invalid_requests),
        cmocka_unit_test(test_fault_marker_parsing),
        cmocka_unit_test(test_marker_in_request),
        cmocka_unit_test(test_fault_specs),
        cmocka_unit_test(test_fault_once),
        cmocka_unit_test(test_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
