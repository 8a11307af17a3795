/* Deciding the answer to a chat request: text, tool calls or summary, from the request JSON only (pure). */
#include "reply.h"
#include "sh_err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const roles[] = {"system", "developer", "user", "assistant", "tool", "function"};

static int refuse(struct mock_reply *r, const char *code, const char *param, const char *fmt,
                  const char *arg)
{
    snprintf(r->error, sizeof(r->error), fmt, arg);
    r->error_code = code;
    r->error_param = param;
    return SH_EINVAL;
}

size_t mock_reply_split(const char *text, size_t *offs, size_t max)
{
    size_t n = 0, i = 0;

    if (offs)
        offs[0] = 0;
    while (text[i] && (!offs || n < max)) {
        while (text[i] && isspace((unsigned char)text[i]))
            i++;
        while (text[i] && !isspace((unsigned char)text[i]))
            i++;
        n++;
        if (offs)
            offs[n] = i;
    }
    return n;
}

char *mock_msg_text(const json_t *msg)
{
    const json_t *content = json_object_get(msg, "content");
    struct mock_buf b;
    size_t i;
    json_t *part;

    if (json_is_string(content))
        return strdup(json_string_value(content));
    mock_buf_init(&b);
    json_array_foreach(content, i, part) {
        const char *t = json_string_value(json_object_get(part, "text"));
        if (!t)
            continue;
        if ((mock_buf_size(&b) && mock_buf_puts(&b, "\n")) || mock_buf_puts(&b, t)) {
            mock_buf_free(&b);
            return NULL;
        }
    }
    return mock_buf_steal(&b);
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Check the request's fields and fill the scalar parts of 'r'. */
static int check_request(const json_t *req, struct mock_reply *r, long *max_tokens)
{
    const json_t *msgs = json_object_get(req, "messages");
    const json_t *v, *m;
    size_t i;

    if (!json_is_object(req))
        return refuse(r, "invalid_json", NULL, "%s", "The request body must be a JSON object.");
    if (!msgs)
        return refuse(r, "missing_required_parameter", "messages", "%s",
                      "Missing required parameter: 'messages'.");
    if (!json_is_array(msgs) || !json_array_size(msgs))
        return refuse(r, "invalid_value", "messages", "%s",
                      "Invalid 'messages': expected a non-empty array of message objects.");
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        size_t k;

        for (k = 0; role && k < sizeof(roles) / sizeof(roles[0]); k++)
            if (!strcmp(role, roles[k]))
                break;
        if (!json_is_object(m) || !role || k == sizeof(roles) / sizeof(roles[0]))
            return refuse(r, "invalid_value", "messages", "%s",
                          "Invalid 'messages': every message needs a known string 'role'.");
    }
    v = json_object_get(req, "model");
    if (v && !json_is_string(v))
        return refuse(r, "invalid_type", "model", "%s", "Invalid type for 'model': expected a string.");
    r->model = strdup(v ? json_string_value(v) : "mock-llm");
    if (!r->model)
        return SH_ENOMEM;
    v = json_object_get(req, "stream");
    if (v && !json_is_boolean(v) && !json_is_null(v))
        return refuse(r, "invalid_type", "stream", "%s", "Invalid type for 'stream': expected a boolean.");
    r->stream = json_is_true(v);
    r->include_usage = json_is_true(json_object_get(json_object_get(req, "stream_options"),
                                                    "include_usage"));
    *max_tokens = 0;
    for (int k = 0; k < 2; k++) {
        const char *key = k ? "max_completion_tokens" : "max_tokens";
        v = json_object_get(req, key);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 1)
            return refuse(r, "invalid_value", k ? "max_completion_tokens" : "max_tokens",
                          "Invalid '%s': expected an integer of at least 1.", key);
        if (!*max_tokens || json_integer_value(v) < *max_tokens)
            *max_tokens = (long)json_integer_value(v);
    }
    return SH_OK;
}

/* Fill the conversation view; the user texts have their fault markers removed. */
static int load_convo(const json_t *req, struct mock_convo *c)
{
    const json_t *m;
    size_t i, last = SIZE_MAX, prev = SIZE_MAX, first = SIZE_MAX;

    c->req = req;
    c->messages = json_object_get(req, "messages");
    c->n_messages = json_array_size(c->messages);
    c->last_role = json_string_value(json_object_get(json_array_get(c->messages,
                                                                    c->n_messages - 1), "role"));
    json_array_foreach(c->messages, i, m) {
        if (strcmp(json_string_value(json_object_get(m, "role")), "user"))
            continue;
        c->n_user++;
        if (first == SIZE_MAX)
            first = i;
        prev = last;
        last = i;
    }
    for (int k = 0; k < 3; k++) {
        size_t idx = k == 0 ? last : k == 1 ? prev : first;
        char **dst = k == 0 ? &c->last_user : k == 1 ? &c->prev_user : &c->first_user;
        char *raw;

        if (idx == SIZE_MAX) {
            if (k != 1 && !(*dst = strdup("")))
                return SH_ENOMEM;
            continue;
        }
        raw = mock_msg_text(json_array_get(c->messages, idx));
        *dst = raw ? mock_fault_strip(raw) : NULL;
        free(raw);
        if (!*dst)
            return SH_ENOMEM;
    }
    return SH_OK;
}

static void free_convo(struct mock_convo *c)
{
    free(c->last_user);
    free(c->prev_user);
    free(c->first_user);
}

/* The [[fault:SPEC]] marker of the last user message, if any. */
static int find_marker(const struct mock_convo *c, struct mock_reply *r)
{
    const json_t *m = NULL;
    size_t i, start, end;
    char *raw;
    int rc;

    for (i = c->n_messages; i-- > 0;) {
        m = json_array_get(c->messages, i);
        if (!strcmp(json_string_value(json_object_get(m, "role")), "user"))
            break;
    }
    if (i == SIZE_MAX)
        return SH_OK;
    if (!(raw = mock_msg_text(m)))
        return SH_ENOMEM;
    rc = mock_fault_marker(raw, &start, &end, &r->marker_fault);
    if (rc == SH_EINVAL) {
        char spec[64];
        snprintf(spec, sizeof(spec), "%.*s", (int)(end - start), raw + start);
        free(raw);
        return refuse(r, "invalid_fault", "messages", "Unknown fault marker %s (mock-llm knows "
                      "429, 429once, 500, 500once, quota, cut, slow, hang, none).", spec);
    }
    free(raw);
    r->has_marker = rc == 1;
    return SH_OK;
}

/* Rough but deterministic prompt size: words of every message plus per-message overhead. */
static unsigned count_prompt(const struct mock_convo *c)
{
    const json_t *m, *tools = json_object_get(c->req, "tools");
    unsigned n = 3;
    size_t i;

    json_array_foreach(c->messages, i, m) {
        char *t = mock_msg_text(m);
        const json_t *calls = json_object_get(m, "tool_calls");
        n += 4 + (t ? (unsigned)mock_reply_split(t, NULL, 0) : 0);
        free(t);
        if (calls) {
            char *s = json_dumps(calls, JSON_COMPACT);
            n += s ? (unsigned)(strlen(s) / 4) : 0;
            free(s);
        }
    }
    if (tools) {
        char *s = json_dumps(tools, JSON_COMPACT);
        n += s ? (unsigned)(strlen(s) / 4) : 0;
        free(s);
    }
    return n;
}

/* Keep the text and its piece offsets, cut to 'max_tokens' pieces when that is set. */
static int set_text(struct mock_reply *r, char *text, long max_tokens)
{
    size_t n = mock_reply_split(text, NULL, 0);

    r->text = text;
    r->finish_reason = "stop";
    if (max_tokens > 0 && n > (size_t)max_tokens) {
        n = (size_t)max_tokens;
        r->finish_reason = "length";
    }
    if (!(r->pieces = malloc((n + 1) * sizeof(*r->pieces))))
        return SH_ENOMEM;
    r->n_pieces = mock_reply_split(text, r->pieces, n);
    r->text[r->pieces[r->n_pieces]] = '\0';   /* drop what max_tokens cut off */
    r->completion_tokens = (unsigned)r->n_pieces;
    return SH_OK;
}

int mock_reply_build(const char *body, size_t len, struct mock_reply *r)
{
    struct mock_convo c = {0};
    struct mock_buf out;
    json_error_t jerr;
    json_t *req = NULL;
    char *dump = NULL;
    long max_tokens;
    int rc;

    memset(r, 0, sizeof(*r));
    mock_buf_init(&out);
    req = json_loadb(body, len, 0, &jerr);
    if (!req) {
        rc = refuse(r, "invalid_json", NULL, "We could not parse the JSON body of your request "
                    "(%s). (mock-llm)", jerr.text);
        goto out;
    }
    if ((rc = check_request(req, r, &max_tokens)) || (rc = load_convo(req, &c)) ||
        (rc = find_marker(&c, r)))
        goto out;
    c.stream = r->stream;
    rc = SH_ENOMEM;
    if (!(dump = json_dumps(c.messages, JSON_COMPACT | JSON_SORT_KEYS)))
        goto out;
    r->fingerprint = fnv1a(dump, strlen(dump));
    r->prompt_tokens = count_prompt(&c);
    /* Order matters: a tool result is answered before anything else looks at the text, and a
     * summary only when not streaming (the summarizer's call), so chat prompts that merely
     * mention a summary still stream ordinary replies. */
    if (c.last_role && !strcmp(c.last_role, "tool")) {
        rc = mock_weather_answer(&c, &out);
    } else if (!r->stream && mock_compose_wants_summary(&c)) {
        rc = mock_compose_summary(&c, &out);
    } else if (mock_weather_applies(&c)) {
        r->kind = MOCK_REPLY_TOOL_CALLS;
        r->finish_reason = "tool_calls";
        rc = mock_weather_calls(&c, r);
        goto out;
    } else {
        rc = mock_compose_text(&c, &out);
    }
    if (rc)
        goto out;
    char *text = mock_buf_steal(&out);
    rc = text ? set_text(r, text, max_tokens) : SH_ENOMEM;
out:
    free(dump);
    free_convo(&c);
    mock_buf_free(&out);
    json_decref(req);
    return rc;
}

void mock_reply_free(struct mock_reply *r)
{
    if (!r)
        return;
    free(r->model);
    free(r->text);
    free(r->pieces);
    for (size_t i = 0; i < r->n_calls; i++)
        free(r->calls[i].arguments);
    memset(r, 0, sizeof(*r));
}
