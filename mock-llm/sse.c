/* Wire formatting of OpenAI objects: chat.completion.chunk SSE events, chat.completion, errors, model list. */
#include "sse.h"
#include "sh_err.h"

#include <stdlib.h>
#include <string.h>

#define FINGERPRINT "fp_mock"

/* Hand-formatted rather than built with jansson: thousands of streams each send tens of
 * chunks per second, and the chunk layout is fixed. */
int mock_sse_init(struct mock_sse *s, const char *id, long long created, const char *model,
                  bool include_usage)
{
    mock_buf_init(&s->head);
    s->include_usage = include_usage;
    if (mock_buf_puts(&s->head, "data: {\"id\":") ||
        mock_buf_json_str(&s->head, id, strlen(id)) ||
        mock_buf_printf(&s->head, ",\"object\":\"chat.completion.chunk\",\"created\":%lld,"
                        "\"model\":", created) ||
        mock_buf_json_str(&s->head, model, strlen(model)) ||
        mock_buf_puts(&s->head, ",\"system_fingerprint\":\"" FINGERPRINT "\",\"choices\":"))
        return SH_ENOMEM;
    return SH_OK;
}

void mock_sse_free(struct mock_sse *s)
{
    if (s)
        mock_buf_free(&s->head);
}

static int open_choice(const struct mock_sse *s, struct mock_buf *out)
{
    if (mock_buf_append(out, mock_buf_ptr(&s->head), mock_buf_size(&s->head)) ||
        mock_buf_puts(out, "[{\"index\":0,\"delta\":"))
        return SH_ENOMEM;
    return SH_OK;
}

/* Close the choice with finish_reason ('reason' NULL = null) and end the event. */
static int close_choice(const struct mock_sse *s, struct mock_buf *out, const char *reason)
{
    if (mock_buf_puts(out, ",\"logprobs\":null,\"finish_reason\":") ||
        (reason ? mock_buf_printf(out, "\"%s\"", reason) : mock_buf_puts(out, "null")) ||
        mock_buf_puts(out, "}]") ||
        (s->include_usage && mock_buf_puts(out, ",\"usage\":null")) ||
        mock_buf_puts(out, "}\n\n"))
        return SH_ENOMEM;
    return SH_OK;
}

int mock_sse_role(const struct mock_sse *s, struct mock_buf *out)
{
    if (open_choice(s, out) || mock_buf_puts(out, "{\"role\":\"assistant\",\"content\":\"\"}"))
        return SH_ENOMEM;
    return close_choice(s, out, NULL);
}

int mock_sse_content(const struct mock_sse *s, struct mock_buf *out, const char *content, size_t n)
{
    if (open_choice(s, out) || mock_buf_puts(out, "{\"content\":") ||
        mock_buf_json_str(out, content, n) || mock_buf_puts(out, "}"))
        return SH_ENOMEM;
    return close_choice(s, out, NULL);
}

int mock_sse_tool_start(const struct mock_sse *s, struct mock_buf *out, size_t index,
                        const struct mock_tool_call *call, bool with_role)
{
    if (open_choice(s, out) ||
        mock_buf_puts(out, with_role ? "{\"role\":\"assistant\",\"content\":null," : "{") ||
        mock_buf_printf(out, "\"tool_calls\":[{\"index\":%zu,\"id\":", index) ||
        mock_buf_json_str(out, call->id, strlen(call->id)) ||
        mock_buf_puts(out, ",\"type\":\"function\",\"function\":{\"name\":") ||
        mock_buf_json_str(out, call->name, strlen(call->name)) ||
        mock_buf_puts(out, ",\"arguments\":\"\"}}]}"))
        return SH_ENOMEM;
    return close_choice(s, out, NULL);
}

int mock_sse_tool_args(const struct mock_sse *s, struct mock_buf *out, size_t index,
                       const char *frag, size_t n)
{
    if (open_choice(s, out) ||
        mock_buf_printf(out, "{\"tool_calls\":[{\"index\":%zu,\"function\":{\"arguments\":", index) ||
        mock_buf_json_str(out, frag, n) || mock_buf_puts(out, "}}]}"))
        return SH_ENOMEM;
    return close_choice(s, out, NULL);
}

int mock_sse_finish(const struct mock_sse *s, struct mock_buf *out, const char *reason)
{
    if (open_choice(s, out) || mock_buf_puts(out, "{}"))
        return SH_ENOMEM;
    return close_choice(s, out, reason);
}

int mock_sse_usage(const struct mock_sse *s, struct mock_buf *out, unsigned prompt,
                   unsigned completion)
{
    if (mock_buf_append(out, mock_buf_ptr(&s->head), mock_buf_size(&s->head)) ||
        mock_buf_printf(out, "[],\"usage\":{\"prompt_tokens\":%u,\"completion_tokens\":%u,"
                        "\"total_tokens\":%u}}\n\n", prompt, completion, prompt + completion))
        return SH_ENOMEM;
    return SH_OK;
}

int mock_sse_done(struct mock_buf *out)
{
    return mock_buf_puts(out, "data: [DONE]\n\n");
}

static json_t *message_json(const struct mock_reply *r)
{
    json_t *calls, *msg = json_pack("{s:s}", "role", "assistant");

    if (!msg)
        return NULL;
    if (r->kind == MOCK_REPLY_TEXT) {
        if (json_object_set_new(msg, "content", json_string(r->text)) ||
            json_object_set_new(msg, "refusal", json_null()))
            goto fail;
        return msg;
    }
    if (json_object_set_new(msg, "content", json_null()) ||
        json_object_set_new(msg, "refusal", json_null()) ||
        json_object_set_new(msg, "tool_calls", calls = json_array()) || !calls)
        goto fail;
    for (size_t i = 0; i < r->n_calls; i++) {
        const struct mock_tool_call *c = &r->calls[i];
        if (json_array_append_new(calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", c->id,
                                                   "type", "function", "function", "name",
                                                   c->name, "arguments", c->arguments)))
            goto fail;
    }
    return msg;
fail:
    json_decref(msg);
    return NULL;
}

int mock_completion_json(const struct mock_reply *r, const char *id, long long created,
                         struct mock_buf *out)
{
    json_t *msg = message_json(r), *root;
    char *s = NULL;
    int rc = SH_ENOMEM;

    if (!msg)
        return SH_ENOMEM;
    /* json_pack's "o" steals 'msg', also when packing fails. */
    root = json_pack("{s:s, s:s, s:I, s:s, s:s, s:[{s:i, s:o, s:n, s:s}], "
                     "s:{s:i, s:i, s:i}}",
                     "id", id, "object", "chat.completion", "created", (json_int_t)created,
                     "model", r->model, "system_fingerprint", FINGERPRINT,
                     "choices", "index", 0, "message", msg, "logprobs", "finish_reason",
                     r->finish_reason,
                     "usage", "prompt_tokens", (int)r->prompt_tokens, "completion_tokens",
                     (int)r->completion_tokens, "total_tokens",
                     (int)(r->prompt_tokens + r->completion_tokens));
    if (root && (s = json_dumps(root, JSON_COMPACT)))
        rc = mock_buf_puts(out, s);
    free(s);
    json_decref(root);
    return rc;
}

int mock_error_json(struct mock_buf *out, const char *message, const char *type,
                    const char *param, const char *code)
{
    if (mock_buf_puts(out, "{\"error\":{\"message\":") ||
        mock_buf_json_str(out, message, strlen(message)) ||
        mock_buf_puts(out, ",\"type\":") || mock_buf_json_str(out, type, strlen(type)) ||
        mock_buf_puts(out, ",\"param\":") ||
        (param ? mock_buf_json_str(out, param, strlen(param)) : mock_buf_puts(out, "null")) ||
        mock_buf_puts(out, ",\"code\":") ||
        (code ? mock_buf_json_str(out, code, strlen(code)) : mock_buf_puts(out, "null")) ||
        mock_buf_puts(out, "}}"))
        return SH_ENOMEM;
    return SH_OK;
}

int mock_models_json(struct mock_buf *out)
{
    return mock_buf_puts(out, "{\"object\":\"list\",\"data\":[{\"id\":\"mock-llm\",\"object\":"
                         "\"model\",\"created\":1700000000,\"owned_by\":\"mock-llm\"}]}");
}
