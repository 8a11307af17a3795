/* OpenAI chat.completion(.chunk) parsing and a stream accumulator that assembles the final message. */
#ifndef SH_OAI_CHUNK_H
#define SH_OAI_CHUNK_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Token counts; a field the server did not send stays 0. */
struct sh_oai_usage {
    long long prompt_tokens;
    long long completion_tokens;
    long long total_tokens;
};

/* An error object ({"error":{"message","type","code","param"}}) from a body or a stream. The
 * strings are NULL when absent; a numeric code is rendered into code_buf. */
struct sh_oai_error {
    bool present;
    const char *message;
    const char *type;
    const char *code;
    const char *param;
    char code_buf[24];
};

/* One tool-call fragment of a chunk. */
struct sh_oai_tool_delta {
    int index;                /* tool_calls[].index (position in the final tool call list) */
    const char *id;           /* set only on the fragment that carries it, else NULL */
    const char *name;         /* function.name, else NULL */
    const char *arguments;    /* function.arguments fragment, "" when absent */
};

/* One parsed data: payload. Strings point into 'root' and live until sh_oai_delta_free(). */
struct sh_oai_delta {
    bool done;                /* the "[DONE]" sentinel; nothing else is set */
    const char *content;      /* delta.content, "" when absent or null */
    size_t content_len;
    const char *role;         /* delta.role or NULL */
    const char *finish_reason;/* choices[0].finish_reason or NULL */
    struct sh_oai_tool_delta *tools;
    size_t n_tools;
    bool has_usage;           /* "usage" object present (the last chunk, with "choices": []) */
    struct sh_oai_usage usage;
    struct sh_oai_error error;/* in-stream error object */
    const char *id;           /* chunk id or NULL */
    const char *model;        /* model or NULL */
    json_t *root;             /* owned parse tree */
};

/* Parse one SSE data payload (a chat.completion.chunk or "[DONE]") into 'd', which the caller
 * provides and must free with sh_oai_delta_free(), also on error. Returns 0; SH_EPROTO for
 * malformed JSON or a payload of the wrong shape; SH_ENOMEM. */
int sh_oai_chunk_parse(const char *data, size_t len, struct sh_oai_delta *d);

/* Release what sh_oai_chunk_parse() put in 'd' and zero it. NULL-safe. */
void sh_oai_delta_free(struct sh_oai_delta *d);

/* Parse an error body. Accepts {"error":{...}}, {"error":"text"}, a bare {"message":...} object
 * and {"detail":"text"}. Strings point into '*root_out', which the caller json_decref()s (also
 * when 1 is returned). Returns 0 when an error was found, 1 when the body holds none, SH_EPROTO
 * when it is not JSON. */
int sh_oai_error_parse(const char *body, size_t len, struct sh_oai_error *err, json_t **root_out);

/* One assembled tool call. */
struct sh_oai_tool_call {
    int index;
    char *id;                 /* "" if the server never sent one */
    char *name;               /* "" if the server never sent one */
    char *arguments;          /* concatenated argument fragments, "" if none */
    size_t arguments_len;
    size_t arguments_cap;     /* private */
    json_t *args;             /* parsed arguments (owned) when args_valid, else NULL */
    bool args_valid;          /* arguments are valid JSON (any value; "" counts as {}) */
};

/* Accumulates a stream (or one whole response) into the final assistant message. Embed it;
 * sh_oai_acc_init()/sh_oai_acc_free(). Fields are readable by the caller. */
struct sh_oai_acc {
    char *content;            /* all content deltas joined; NUL-terminated, never NULL after init */
    size_t content_len;
    size_t content_cap;
    struct sh_oai_tool_call *calls;   /* sorted by index */
    size_t n_calls;
    size_t cap_calls;
    char *finish_reason;      /* NULL until one arrives */
    bool has_usage;
    struct sh_oai_usage usage;
    bool done;                /* "[DONE]" seen */
    bool finished;            /* sh_oai_acc_finish() ran */
    int last_index;           /* index used for fragments that omit "index" */
};

/* Prepare an empty accumulator. Returns 0 or SH_ENOMEM. */
int sh_oai_acc_init(struct sh_oai_acc *acc);

/* Fold one parsed chunk in: append content, merge tool fragments by index (any order, several
 * calls in parallel, id/name first and argument pieces later), keep finish_reason and usage.
 * Returns 0 or SH_ENOMEM. Error chunks are ignored here; look at d->error. */
int sh_oai_acc_add(struct sh_oai_acc *acc, const struct sh_oai_delta *d);

/* Complete the tool calls: parse every call's arguments into 'args' (or set args_valid false).
 * Idempotent. Returns 0 or SH_ENOMEM. */
int sh_oai_acc_finish(struct sh_oai_acc *acc);

/* Parse a non-streaming chat.completion body into the empty accumulator 'acc' (content, tool
 * calls, finish_reason, usage) and finish it. If the body is an error object, fills 'err' (which
 * may be NULL) and returns 1; 'err' strings then point into '*root_out'. The caller json_decref()s
 * '*root_out' in every case. Returns 0, 1, SH_EPROTO or SH_ENOMEM. */
int sh_oai_response_parse(const char *body, size_t len, struct sh_oai_acc *acc,
                          struct sh_oai_error *err, json_t **root_out);

/* Empty the accumulator for a new attempt, keeping its content buffer. */
void sh_oai_acc_reset(struct sh_oai_acc *acc);

/* Release everything the accumulator owns. NULL-safe. */
void sh_oai_acc_free(struct sh_oai_acc *acc);

#endif
