/* OpenAI chat.completion(.chunk) parsing and the accumulator that joins deltas into one message. */
#include "sh_oai_chunk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh_err.h"

static const char *str_or_null(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static long long int_or_zero(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);

    return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

static void fill_usage(json_t *u, struct sh_oai_usage *usage)
{
    usage->prompt_tokens = int_or_zero(u, "prompt_tokens");
    usage->completion_tokens = int_or_zero(u, "completion_tokens");
    usage->total_tokens = int_or_zero(u, "total_tokens");
}

/* 'e' is the value of an "error" member, or an object that is itself the error. */
static void fill_error(json_t *e, struct sh_oai_error *err)
{
    json_t *code;

    memset(err, 0, sizeof(*err));
    err->present = true;
    if (json_is_string(e)) {
        err->message = json_string_value(e);
        return;
    }
    if (!json_is_object(e))
        return;
    err->message = str_or_null(e, "message");
    err->type = str_or_null(e, "type");
    err->param = str_or_null(e, "param");
    code = json_object_get(e, "code");
    if (json_is_string(code)) {
        err->code = json_string_value(code);
    } else if (json_is_integer(code)) {
        snprintf(err->code_buf, sizeof(err->code_buf), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(code));
        err->code = err->code_buf;
    }
}

/* Finds an error in a parsed body; 1 when there is none. */
static int find_error(json_t *root, struct sh_oai_error *err)
{
    json_t *e;

    if (json_is_array(root))                /* some gateways wrap the error in a list */
        root = json_array_get(root, 0);
    if (!json_is_object(root))
        return 1;
    e = json_object_get(root, "error");
    if (e && !json_is_null(e)) {
        fill_error(e, err);
        return 0;
    }
    if (json_is_string(json_object_get(root, "message")) && !json_object_get(root, "choices")) {
        fill_error(root, err);
        return 0;
    }
    e = json_object_get(root, "detail");
    if (json_is_string(e)) {
        fill_error(e, err);
        return 0;
    }
    return 1;
}

int sh_oai_error_parse(const char *body, size_t len, struct sh_oai_error *err, json_t **root_out)
{
    json_t *root;

    memset(err, 0, sizeof(*err));
    *root_out = NULL;
    root = json_loadb(body, len, 0, NULL);
    if (!root)
        return SH_EPROTO;
    *root_out = root;
    return find_error(root, err);
}

/* The choice to read: index 0 (n=1 is all we ask for), else the first one. */
static json_t *pick_choice(json_t *choices)
{
    size_t i;
    json_t *c;

    json_array_foreach(choices, i, c) {
        json_t *idx = json_object_get(c, "index");

        if (!idx || (json_is_integer(idx) && json_integer_value(idx) == 0))
            return c;
    }
    return json_array_get(choices, 0);
}

static int parse_tool_deltas(json_t *arr, struct sh_oai_delta *d)
{
    size_t i, n = json_array_size(arr);
    json_t *tc;

    if (n == 0)
        return 0;
    d->tools = calloc(n, sizeof(*d->tools));
    if (!d->tools)
        return SH_ENOMEM;
    json_array_foreach(arr, i, tc) {
        struct sh_oai_tool_delta *t = &d->tools[d->n_tools];
        json_t *idx = json_object_get(tc, "index");
        json_t *fn = json_object_get(tc, "function");

        if (!json_is_object(tc))
            return SH_EPROTO;
        /* -1: the server left the index out; the accumulator works it out. */
        t->index = json_is_integer(idx) ? (int)json_integer_value(idx) : -1;
        if (json_is_integer(idx) && (json_integer_value(idx) < 0 || json_integer_value(idx) > 4096))
            return SH_EPROTO;
        t->id = str_or_null(tc, "id");
        t->name = json_is_object(fn) ? str_or_null(fn, "name") : NULL;
        t->arguments = json_is_object(fn) ? str_or_null(fn, "arguments") : NULL;
        if (!t->arguments)
            t->arguments = "";
        d->n_tools++;
    }
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int sh_oai_chunk_parse(const char *data, size_t len, struct sh_oai_delta *d)
{
    json_t *root, *usage, *choices, *choice, *delta, *err;
    const char *s = data;
    size_t n = len;

    memset(d, 0, sizeof(*d));
    d->content = "";
    while (n && is_space(*s)) {
        s++;
        n--;
    }
    while (n && is_space(s[n - 1]))
        n--;
    if (n == 6 && memcmp(s, "[DONE]", 6) == 0) {
        d->done = true;
        return 0;
    }
    root = json_loadb(s, n, 0, NULL);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return SH_EPROTO;
    }
    d->root = root;
    err = json_object_get(root, "error");
    if (err && !json_is_null(err)) {
        fill_error(err, &d->error);
        return 0;
    }
    d->id = str_or_null(root, "id");
    d->model = str_or_null(root, "model");
    usage = json_object_get(root, "usage");
    if (json_is_object(usage)) {
        d->has_usage = true;
        fill_usage(usage, &d->usage);
    }
    choices = json_object_get(root, "choices");
    if (!choices || json_is_null(choices))
        return d->has_usage ? 0 : SH_EPROTO;
    if (!json_is_array(choices))
        return SH_EPROTO;
    if (json_array_size(choices) == 0)
        return 0;                           /* the usage-only chunk */
    choice = pick_choice(choices);
    if (!json_is_object(choice))
        return SH_EPROTO;
    d->finish_reason = str_or_null(choice, "finish_reason");
    delta = json_object_get(choice, "delta");
    if (!json_is_object(delta))
        return delta && !json_is_null(delta) ? SH_EPROTO : 0;
    if (json_is_string(json_object_get(delta, "content"))) {
        json_t *c = json_object_get(delta, "content");

        d->content = json_string_value(c);
        d->content_len = json_string_length(c);
    }
    d->role = str_or_null(delta, "role");
    if (json_is_array(json_object_get(delta, "tool_calls")))
        return parse_tool_deltas(json_object_get(delta, "tool_calls"), d);
    return 0;
}

void sh_oai_delta_free(struct sh_oai_delta *d)
{
    if (!d)
        return;
    free(d->tools);
    json_decref(d->root);
    memset(d, 0, sizeof(*d));
    d->content = "";
}

/* ---- accumulator ---- */

/* Append to a NUL-terminated buffer with geometric growth. */
static int grow_append(char **buf, size_t *len, size_t *cap, const char *src, size_t n)
{
    size_t need = *len + n + 1;

    if (need > *cap) {
        size_t c = *cap ? *cap : 32;
        char *p;

        while (c < need)
            c *= 2;
        p = realloc(*buf, c);
        if (!p)
            return SH_ENOMEM;
        *buf = p;
        *cap = c;
    }
    if (n)
        memcpy(*buf + *len, src, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

int sh_oai_acc_init(struct sh_oai_acc *acc)
{
    memset(acc, 0, sizeof(*acc));
    acc->last_index = -1;
    return grow_append(&acc->content, &acc->content_len, &acc->content_cap, "", 0);
}

static void call_free(struct sh_oai_tool_call *c)
{
    free(c->id);
    free(c->name);
    free(c->arguments);
    json_decref(c->args);
}

void sh_oai_acc_reset(struct sh_oai_acc *acc)
{
    size_t i;

    for (i = 0; i < acc->n_calls; i++)
        call_free(&acc->calls[i]);
    acc->n_calls = 0;
    free(acc->finish_reason);
    acc->finish_reason = NULL;
    acc->content_len = 0;
    if (acc->content)
        acc->content[0] = '\0';
    acc->has_usage = false;
    memset(&acc->usage, 0, sizeof(acc->usage));
    acc->done = false;
    acc->finished = false;
    acc->last_index = -1;
}

void sh_oai_acc_free(struct sh_oai_acc *acc)
{
    if (!acc)
        return;
    sh_oai_acc_reset(acc);
    free(acc->calls);
    free(acc->content);
    memset(acc, 0, sizeof(*acc));
}

/* The call with 'index', inserted in index order if new; NULL on ENOMEM. */
static struct sh_oai_tool_call *call_at(struct sh_oai_acc *acc, int index)
{
    struct sh_oai_tool_call *c;
    size_t pos = 0;

    while (pos < acc->n_calls && acc->calls[pos].index < index)
        pos++;
    if (pos < acc->n_calls && acc->calls[pos].index == index)
        return &acc->calls[pos];
    if (acc->n_calls == acc->cap_calls) {
        size_t cap = acc->cap_calls ? acc->cap_calls * 2 : 4;
        struct sh_oai_tool_call *p = realloc(acc->calls, cap * sizeof(*p));

        if (!p)
            return NULL;
        acc->calls = p;
        acc->cap_calls = cap;
    }
    memmove(&acc->calls[pos + 1], &acc->calls[pos], (acc->n_calls - pos) * sizeof(*c));
    c = &acc->calls[pos];
    memset(c, 0, sizeof(*c));
    c->index = index;
    c->id = strdup("");
    c->name = strdup("");
    if (!c->id || !c->name ||
        grow_append(&c->arguments, &c->arguments_len, &c->arguments_cap, "", 0)) {
        call_free(c);
        memmove(&acc->calls[pos], &acc->calls[pos + 1], (acc->n_calls - pos) * sizeof(*c));
        return NULL;
    }
    acc->n_calls++;
    return c;
}

static int set_str(char **dst, const char *src)
{
    char *p = strdup(src);

    if (!p)
        return SH_ENOMEM;
    free(*dst);
    *dst = p;
    return 0;
}

/* Which call an index-less fragment belongs to: a new id starts a new call, anything else
 * continues the last one. */
static int resolve_index(const struct sh_oai_acc *acc, const struct sh_oai_tool_delta *t)
{
    const struct sh_oai_tool_call *last = NULL;
    size_t i;

    for (i = 0; i < acc->n_calls; i++)
        if (acc->calls[i].index == acc->last_index)
            last = &acc->calls[i];
    if (!last)
        return acc->n_calls ? acc->calls[acc->n_calls - 1].index + 1 : 0;
    if (t->id && *t->id && *last->id && strcmp(t->id, last->id) != 0)
        return acc->calls[acc->n_calls - 1].index + 1;
    return last->index;
}

static int add_tool_delta(struct sh_oai_acc *acc, const struct sh_oai_tool_delta *t)
{
    int index = t->index >= 0 ? t->index : resolve_index(acc, t);
    struct sh_oai_tool_call *c = call_at(acc, index);
    int rc = 0;

    if (!c)
        return SH_ENOMEM;
    acc->last_index = index;
    if (t->id && *t->id && !*c->id)
        rc = set_str(&c->id, t->id);
    /* Names normally come once; a server that repeats the whole name must not double it, one
     * that splits it gets the pieces joined. */
    if (!rc && t->name && *t->name && strcmp(c->name, t->name) != 0) {
        size_t len = strlen(c->name), cap = len + 1;

        rc = grow_append(&c->name, &len, &cap, t->name, strlen(t->name));
    }
    if (!rc && t->arguments && *t->arguments)
        rc = grow_append(&c->arguments, &c->arguments_len, &c->arguments_cap, t->arguments,
                         strlen(t->arguments));
    return rc;
}

int sh_oai_acc_add(struct sh_oai_acc *acc, const struct sh_oai_delta *d)
{
    size_t i;
    int rc;

    if (d->done) {
        acc->done = true;
        return 0;
    }
    if (d->error.present)
        return 0;
    if (d->content_len) {
        rc = grow_append(&acc->content, &acc->content_len, &acc->content_cap, d->content,
                         d->content_len);
        if (rc)
            return rc;
    }
    for (i = 0; i < d->n_tools; i++) {
        rc = add_tool_delta(acc, &d->tools[i]);
        if (rc)
            return rc;
    }
    if (d->finish_reason) {
        rc = set_str(&acc->finish_reason, d->finish_reason);
        if (rc)
            return rc;
    }
    if (d->has_usage) {
        acc->has_usage = true;
        acc->usage = d->usage;
    }
    return 0;
}

int sh_oai_acc_finish(struct sh_oai_acc *acc)
{
    size_t i, k;

    if (acc->finished)
        return 0;
    for (i = 0; i < acc->n_calls; i++) {
        struct sh_oai_tool_call *c = &acc->calls[i];

        for (k = 0; k < c->arguments_len && is_space(c->arguments[k]); k++)
            ;
        /* Tools without parameters may stream no argument bytes at all. */
        c->args = k == c->arguments_len ? json_object()
                                        : json_loadb(c->arguments, c->arguments_len,
                                                     JSON_DECODE_ANY, NULL);
        if (k == c->arguments_len && !c->args)
            return SH_ENOMEM;
        c->args_valid = c->args != NULL;
    }
    acc->finished = true;
    return 0;
}

/* One message.tool_calls[] entry of a whole response. */
static int add_full_call(struct sh_oai_acc *acc, int index, json_t *tc)
{
    json_t *fn = json_object_get(tc, "function");
    json_t *args = json_is_object(fn) ? json_object_get(fn, "arguments") : NULL;
    struct sh_oai_tool_delta t = { .index = index, .arguments = "" };
    char *dumped = NULL;
    int rc;

    if (!json_is_object(tc))
        return SH_EPROTO;
    t.id = str_or_null(tc, "id");
    t.name = json_is_object(fn) ? str_or_null(fn, "name") : NULL;
    if (json_is_string(args)) {
        t.arguments = json_string_value(args);
    } else if (args && !json_is_null(args)) {
        dumped = json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);   /* some servers send an object */
        if (!dumped)
            return SH_ENOMEM;
        t.arguments = dumped;
    }
    rc = add_tool_delta(acc, &t);
    free(dumped);
    return rc;
}

int sh_oai_response_parse(const char *body, size_t len, struct sh_oai_acc *acc,
                          struct sh_oai_error *err, json_t **root_out)
{
    struct sh_oai_error scratch;
    json_t *root, *choice, *msg, *content, *calls, *tc, *usage;
    size_t i;
    int rc;

    *root_out = NULL;
    root = json_loadb(body, len, 0, NULL);
    if (!root)
        return SH_EPROTO;
    *root_out = root;
    if (find_error(root, err ? err : &scratch) == 0)
        return 1;
    if (!json_is_object(root) || !json_is_array(json_object_get(root, "choices")))
        return SH_EPROTO;
    usage = json_object_get(root, "usage");
    if (json_is_object(usage)) {
        acc->has_usage = true;
        fill_usage(usage, &acc->usage);
    }
    choice = pick_choice(json_object_get(root, "choices"));
    if (!json_is_object(choice))
        return SH_EPROTO;
    if (str_or_null(choice, "finish_reason") &&
        set_str(&acc->finish_reason, str_or_null(choice, "finish_reason")))
        return SH_ENOMEM;
    msg = json_object_get(choice, "message");
    if (!json_is_object(msg))
        return SH_EPROTO;
    content = json_object_get(msg, "content");
    if (json_is_string(content)) {
        rc = grow_append(&acc->content, &acc->content_len, &acc->content_cap,
                         json_string_value(content), json_string_length(content));
        if (rc)
            return rc;
    }
    calls = json_object_get(msg, "tool_calls");
    json_array_foreach(calls, i, tc) {
        rc = add_full_call(acc, (int)i, tc);
        if (rc)
            return rc;
    }
    acc->done = true;
    return sh_oai_acc_finish(acc);
}
