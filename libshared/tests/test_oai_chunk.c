/* Unit tests for chat.completion(.chunk) parsing, the accumulator and the request builder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sh_err.h"
#include "sh_oai_chunk.h"
#include "sh_oai_request.h"

static void parse_ok(const char *s, struct sh_oai_delta *d)
{
    assert_int_equal(sh_oai_chunk_parse(s, strlen(s), d), 0);
}

static void test_content_delta(void **state)
{
    struct sh_oai_delta d;

    (void)state;
    parse_ok("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\","
             "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},"
             "\"finish_reason\":null}]}", &d);
    assert_false(d.done);
    assert_string_equal(d.content, "Hel");
    assert_int_equal(d.content_len, 3);
    assert_string_equal(d.role, "assistant");
    assert_null(d.finish_reason);
    assert_int_equal(d.n_tools, 0);
    assert_false(d.has_usage);
    assert_false(d.error.present);
    assert_string_equal(d.id, "chatcmpl-1");
    assert_string_equal(d.model, "m");
    sh_oai_delta_free(&d);

    /* null content, empty delta and a finish_reason */
    parse_ok("{\"choices\":[{\"index\":0,\"delta\":{\"content\":null}}]}", &d);
    assert_string_equal(d.content, "");
    assert_int_equal(d.content_len, 0);
    sh_oai_delta_free(&d);
    parse_ok("{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}", &d);
    assert_string_equal(d.finish_reason, "stop");
    sh_oai_delta_free(&d);
    sh_oai_delta_free(NULL);
}

static void test_done_and_usage(void **state)
{
    struct sh_oai_delta d;

    (void)state;
    parse_ok(" [DONE]\n", &d);
    assert_true(d.done);
    sh_oai_delta_free(&d);
    parse_ok("{\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,"
             "\"completion_tokens\":7,\"total_tokens\":18}}", &d);
    assert_true(d.has_usage);
    assert_int_equal(d.usage.prompt_tokens, 11);
    assert_int_equal(d.usage.completion_tokens, 7);
    assert_int_equal(d.usage.total_tokens, 18);
    assert_int_equal(d.content_len, 0);
    assert_null(d.finish_reason);
    sh_oai_delta_free(&d);
}

static void test_error_objects(void **state)
{
    struct sh_oai_delta d;
    struct sh_oai_error e;
    json_t *root;
    const char *q;

    (void)state;
    parse_ok("{\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\",\"code\":503}}", &d);
    assert_true(d.error.present);
    assert_string_equal(d.error.message, "overloaded");
    assert_string_equal(d.error.type, "server_error");
    assert_string_equal(d.error.code, "503");
    sh_oai_delta_free(&d);

    q = "{\"error\":{\"message\":\"You exceeded your current quota\","
        "\"type\":\"insufficient_quota\",\"param\":null,\"code\":\"insufficient_quota\"}}";
    assert_int_equal(sh_oai_error_parse(q, strlen(q), &e, &root), 0);
    assert_string_equal(e.code, "insufficient_quota");
    assert_string_equal(e.type, "insufficient_quota");
    assert_null(e.param);
    json_decref(root);

    assert_int_equal(sh_oai_error_parse("{\"detail\":\"Not Found\"}", 22, &e, &root), 0);
    assert_string_equal(e.message, "Not Found");
    json_decref(root);
    q = "[{\"error\":{\"code\":400,\"message\":\"bad\"}}]";
    assert_int_equal(sh_oai_error_parse(q, strlen(q), &e, &root), 0);
    assert_string_equal(e.code, "400");
    json_decref(root);
    assert_int_equal(sh_oai_error_parse("{\"ok\":true}", 11, &e, &root), 1);
    json_decref(root);
    assert_int_equal(sh_oai_error_parse("<html>502</html>", 16, &e, &root), SH_EPROTO);
    assert_null(root);
}

static void test_malformed(void **state)
{
    static const char *const bad[] = {
        "", "{", "{\"choices\":[{\"delta\":{\"content\":\"x\"}}]", "[1,2]", "\"str\"", "42",
        "{\"choices\":{}}", "{\"choices\":[7]}", "{\"choices\":[{\"delta\":7}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[3]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":-1}]}}]}", "{\"id\":\"x\"}",
        "data: {}", "\xff\xfe",
    };
    struct sh_oai_delta d;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sh_oai_chunk_parse(bad[i], strlen(bad[i]), &d), SH_EPROTO);
        sh_oai_delta_free(&d);
    }
}

/* Two parallel tool calls, fragments interleaved and index 1 announced before index 0. */
static const char *const tool_stream[] = {
    "{\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null}}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_B\","
    "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_A\","
    "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"{\\\"locat\"}},{\"index\":1,\"function\":{\"arguments\":\"{\\\"location\"}}]}}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":"
    "{\"arguments\":\"\\\":\\\"Paris\\\"}\"}}]}}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"ion\\\":\\\"Oslo\\\",\\\"unit\\\":\\\"fahrenheit\\\"}\"}}]}}]}",
    "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
    "{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":9,\"total_tokens\":14}}",
    "[DONE]",
};

static void test_acc_parallel_tool_calls(void **state)
{
    struct sh_oai_acc acc;
    struct sh_oai_delta d;

    (void)state;
    assert_int_equal(sh_oai_acc_init(&acc), 0);
    for (size_t i = 0; i < sizeof(tool_stream) / sizeof(tool_stream[0]); i++) {
        parse_ok(tool_stream[i], &d);
        if (i == 3)
            assert_int_equal(d.n_tools, 2);
        assert_int_equal(sh_oai_acc_add(&acc, &d), 0);
        sh_oai_delta_free(&d);
    }
    assert_int_equal(sh_oai_acc_finish(&acc), 0);
    assert_int_equal(sh_oai_acc_finish(&acc), 0);          /* idempotent */
    assert_true(acc.done);
    assert_string_equal(acc.content, "");
    assert_string_equal(acc.finish_reason, "tool_calls");
    assert_true(acc.has_usage);
    assert_int_equal(acc.usage.total_tokens, 14);
    assert_int_equal(acc.n_calls, 2);
    assert_int_equal(acc.calls[0].index, 0);
    assert_string_equal(acc.calls[0].id, "call_A");
    assert_string_equal(acc.calls[0].name, "get_weather");
    assert_string_equal(acc.calls[0].arguments, "{\"location\":\"Oslo\",\"unit\":\"fahrenheit\"}");
    assert_true(acc.calls[0].args_valid);
    assert_string_equal(json_string_value(json_object_get(acc.calls[0].args, "unit")),
                        "fahrenheit");
    assert_string_equal(acc.calls[1].id, "call_B");
    assert_string_equal(json_string_value(json_object_get(acc.calls[1].args, "location")),
                        "Paris");
    sh_oai_acc_free(&acc);
    sh_oai_acc_free(NULL);
}

static void test_acc_content_and_bad_args(void **state)
{
    static const char *const s[] = {
        "{\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}",
        "{\"choices\":[{\"delta\":{\"content\":\", w\\u00f6rld\"}}]}",
        /* no index: id starts a call, later fragments continue it */
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"c1\",\"function\":{\"name\":\"f\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{\"arguments\":\"{oops\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"c2\",\"function\":{\"name\":\"g\"}}]}}]}",
        "{\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}",
    };
    struct sh_oai_acc acc;
    struct sh_oai_delta d;

    (void)state;
    assert_int_equal(sh_oai_acc_init(&acc), 0);
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        parse_ok(s[i], &d);
        assert_int_equal(sh_oai_acc_add(&acc, &d), 0);
        sh_oai_delta_free(&d);
    }
    assert_int_equal(sh_oai_acc_finish(&acc), 0);
    assert_string_equal(acc.content, "Hello, w\xC3\xB6rld");
    assert_int_equal(acc.content_len, strlen("Hello, w\xC3\xB6rld"));
    assert_false(acc.done);
    assert_int_equal(acc.n_calls, 2);
    assert_string_equal(acc.calls[0].name, "f");
    assert_false(acc.calls[0].args_valid);                 /* "{oops": flagged, no crash */
    assert_null(acc.calls[0].args);
    assert_string_equal(acc.calls[1].id, "c2");
    assert_true(acc.calls[1].args_valid);                  /* no arguments at all: {} */
    assert_true(json_is_object(acc.calls[1].args));
    sh_oai_acc_reset(&acc);
    assert_int_equal(acc.n_calls, 0);
    assert_string_equal(acc.content, "");
    assert_null(acc.finish_reason);
    sh_oai_acc_free(&acc);
}

static void test_response_parse(void **state)
{
    const char *body =
        "{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
        "\"message\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\","
        "\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":"
        "\"{\\\"location\\\":\\\"Rome\\\"}\"}},{\"id\":\"call_2\",\"type\":\"function\","
        "\"function\":{\"name\":\"get_weather\",\"arguments\":{\"location\":\"Lima\"}}}]},"
        "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":3,"
        "\"completion_tokens\":4,\"total_tokens\":7}}";
    const char *text = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                       "\"content\":\"A summary.\"},\"finish_reason\":\"stop\"}]}";
    const char *err = "{\"error\":{\"message\":\"bad key\",\"type\":\"invalid_request_error\","
                      "\"code\":\"invalid_api_key\"}}";
    struct sh_oai_acc acc;
    struct sh_oai_error e;
    json_t *root;

    (void)state;
    assert_int_equal(sh_oai_acc_init(&acc), 0);
    assert_int_equal(sh_oai_response_parse(body, strlen(body), &acc, &e, &root), 0);
    json_decref(root);
    assert_int_equal(acc.n_calls, 2);
    assert_string_equal(acc.calls[0].id, "call_1");
    assert_string_equal(json_string_value(json_object_get(acc.calls[0].args, "location")),
                        "Rome");
    assert_string_equal(json_string_value(json_object_get(acc.calls[1].args, "location")),
                        "Lima");
    assert_string_equal(acc.finish_reason, "tool_calls");
    assert_int_equal(acc.usage.completion_tokens, 4);
    sh_oai_acc_reset(&acc);

    assert_int_equal(sh_oai_response_parse(text, strlen(text), &acc, NULL, &root), 0);
    json_decref(root);
    assert_string_equal(acc.content, "A summary.");
    assert_false(acc.has_usage);
    sh_oai_acc_reset(&acc);

    assert_int_equal(sh_oai_response_parse(err, strlen(err), &acc, &e, &root), 1);
    assert_string_equal(e.code, "invalid_api_key");
    json_decref(root);
    assert_int_equal(sh_oai_response_parse("{\"choices\":[{}]}", 16, &acc, &e, &root),
                     SH_EPROTO);
    json_decref(root);
    assert_int_equal(sh_oai_response_parse("nope", 4, &acc, &e, &root), SH_EPROTO);
    sh_oai_acc_free(&acc);
}

static void test_request_build(void **state)
{
    json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", "hi");
    json_t *tools = json_pack("[{s:s}]", "type", "function");
    struct sh_oai_request req = { .model = "gpt-x", .messages = msgs, .tools = tools,
                                  .stream = true, .max_tokens = 64, .has_temperature = true,
                                  .temperature = 0.5 };
    char *body = NULL;
    json_t *got;

    (void)state;
    assert_int_equal(sh_oai_request_build(&req, &body), 0);
    got = json_loads(body, 0, NULL);
    assert_non_null(got);
    assert_string_equal(json_string_value(json_object_get(got, "model")), "gpt-x");
    assert_true(json_equal(json_object_get(got, "messages"), msgs));
    assert_true(json_equal(json_object_get(got, "tools"), tools));
    assert_true(json_is_true(json_object_get(got, "stream")));
    assert_true(json_is_true(json_object_get(json_object_get(got, "stream_options"),
                                             "include_usage")));
    assert_int_equal(json_integer_value(json_object_get(got, "max_tokens")), 64);
    assert_true(json_real_value(json_object_get(got, "temperature")) == 0.5);
    assert_int_equal(sh_oai_request_is_stream(body), 1);
    json_decref(got);
    free(body);

    req = (struct sh_oai_request){ .model = "m", .messages = msgs };
    assert_int_equal(sh_oai_request_build(&req, &body), 0);
    got = json_loads(body, 0, NULL);
    assert_false(json_is_true(json_object_get(got, "stream")));
    assert_null(json_object_get(got, "stream_options"));
    assert_null(json_object_get(got, "tools"));
    assert_null(json_object_get(got, "max_tokens"));
    assert_null(json_object_get(got, "temperature"));
    assert_int_equal(sh_oai_request_is_stream(body), 0);
    json_decref(got);
    free(body);

    req.model = NULL;
    assert_int_equal(sh_oai_request_build(&req, &body), SH_EINVAL);
    assert_null(body);
    req = (struct sh_oai_request){ .model = "m", .messages = msgs, .has_temperature = true,
                                   .temperature = 3.0 };
    assert_int_equal(sh_oai_request_build(&req, &body), SH_EINVAL);
    assert_int_equal(sh_oai_request_is_stream("[true]"), SH_EINVAL);
    assert_int_equal(msgs->refcount, 1);                    /* borrowed, not stolen */
    json_decref(msgs);
    json_decref(tools);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_content_delta),
        cmocka_unit_test(test_done_and_usage),
        cmocka_unit_test(test_error_objects),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_acc_parallel_tool_calls),
        cmocka_unit_test(test_acc_content_and_bad_args),
        cmocka_unit_test(test_response_parse),
        cmocka_unit_test(test_request_build),
    };

    return cmocka_run_group_tests_name("sh_oai_chunk", tests, NULL, NULL);
}
