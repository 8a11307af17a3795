/* Deciding the answer to a chat request: text, tool calls or summary, from the request JSON only (pure). */
#ifndef MOCK_REPLY_H
#define MOCK_REPLY_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "faults.h"

#define MOCK_MAX_TOOL_CALLS 4
#define MOCK_MAX_FRAGS 8
#define MOCK_CITY_MAX 64

/* One function call the assistant makes. */
struct mock_tool_call {
    char id[32];                        /* "call_" + 16 hex digits, from the conversation */
    char name[MOCK_CITY_MAX];           /* function name */
    char *arguments;                    /* owned JSON text */
    size_t frag[MOCK_MAX_FRAGS + 1];    /* streamed pieces: arguments[frag[i], frag[i+1]) */
    size_t n_frags;
};

enum mock_reply_kind { MOCK_REPLY_TEXT, MOCK_REPLY_TOOL_CALLS };

/* The full answer to one request, computed up front; streaming only paces it out. Embedded:
 * filled by mock_reply_build(), released with mock_reply_free(). */
struct mock_reply {
    enum mock_reply_kind kind;
    char *model;                        /* owned echo of the request's model */
    bool stream;
    bool include_usage;                 /* stream_options.include_usage */
    char *text;                         /* owned, TEXT: the content actually sent */
    size_t *pieces;                     /* owned, TEXT: n_pieces + 1 offsets into text */
    size_t n_pieces;
    struct mock_tool_call calls[MOCK_MAX_TOOL_CALLS];
    size_t n_calls;
    const char *finish_reason;          /* static: "stop", "length" or "tool_calls" */
    unsigned prompt_tokens;
    unsigned completion_tokens;
    uint64_t fingerprint;               /* hash of the messages, for "once" faults and ids */
    bool has_marker;                    /* last user message held [[fault:SPEC]] */
    enum mock_fault marker_fault;       /* ... naming this fault */
    /* Filled when mock_reply_build() returns SH_EINVAL (answer 400): */
    char error[256];
    const char *error_code;             /* static */
    const char *error_param;            /* static or NULL */
};

/* Read-only view of a validated request, shared by the answer composers. Embedded. */
struct mock_convo {
    const json_t *req;                  /* whole request object (borrowed) */
    const json_t *messages;             /* non-empty array of message objects (borrowed) */
    size_t n_messages;
    size_t n_user;                      /* messages with role "user" */
    const char *last_role;              /* role of the final message (borrowed) */
    char *last_user;                    /* owned: last user text, markers stripped ("" if none) */
    char *prev_user;                    /* owned: the user text before it, or NULL */
    char *first_user;                   /* owned: first user text ("" if none) */
    bool stream;
};

/* Build the answer to the chat request body[0, len). Returns 0 with 'r' filled, SH_EINVAL with
 * r->error/error_code/error_param set for a request to refuse with 400, or SH_ENOMEM. Always
 * release 'r' with mock_reply_free(), also on error. */
int mock_reply_build(const char *body, size_t len, struct mock_reply *r);
/* Release what 'r' owns and zero it; NULL-safe, may be called twice. */
void mock_reply_free(struct mock_reply *r);

/* Split 'text' into token-ish pieces: a run of whitespace then a run of non-whitespace, so that
 * pieces concatenate back to the text exactly. Writes up to 'max' + 1 boundary offsets into
 * 'offs' (may be NULL to count) and returns the number of pieces. */
size_t mock_reply_split(const char *text, size_t *offs, size_t max);

/* Text of a message's "content": a string, or the "text" parts of an array joined, or "" for
 * null. Returns a malloc'd string (caller frees) or NULL on allocation failure. */
char *mock_msg_text(const json_t *msg);

/* compose.c: the plain text answer (echo, earlier turn, context size, markdown, long). */
int mock_compose_text(const struct mock_convo *c, struct mock_buf *out);
/* compose.c: "Mock summary: the user sent N messages about <first words>." */
int mock_compose_summary(const struct mock_convo *c, struct mock_buf *out);
/* compose.c: true when the request asks for a summary (system or last user message). */
bool mock_compose_wants_summary(const struct mock_convo *c);

/* weather.c: true when the answer must be a get_weather tool call. */
bool mock_weather_applies(const struct mock_convo *c);
/* weather.c: the cities named after " in " in 'text' (up to 'max', "San Francisco" when none);
 * returns how many were written to 'cities'. */
size_t mock_weather_cities(const char *text, char cities[][MOCK_CITY_MAX], size_t max);
/* weather.c: fill r->calls with one get_weather call per city. Returns 0 or SH_ENOMEM. */
int mock_weather_calls(const struct mock_convo *c, struct mock_reply *r);
/* weather.c: the text answer built from the trailing "tool" messages' results. */
int mock_weather_answer(const struct mock_convo *c, struct mock_buf *out);

#endif
