/* Wire formatting of OpenAI objects: chat.completion.chunk SSE events, chat.completion, errors, model list. */
#ifndef MOCK_SSE_H
#define MOCK_SSE_H
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "reply.h"

/* Per-stream formatter: the chunk header shared by every event is built once. Embedded:
 * mock_sse_init() / mock_sse_free(). */
struct mock_sse {
    struct mock_buf head;      /* 'data: {"id":...,"choices":' */
    bool include_usage;        /* adds "usage":null to every chunk, then a usage chunk */
};

/* Prepare a formatter for completion 'id'. Returns 0 or SH_ENOMEM (free 's' either way). */
int mock_sse_init(struct mock_sse *s, const char *id, long long created, const char *model,
                  bool include_usage);
void mock_sse_free(struct mock_sse *s);

/* Each appends one complete "data: ...\n\n" event to 'out' and returns 0 or SH_ENOMEM. */
/* First text event: delta {"role":"assistant","content":""}. */
int mock_sse_role(const struct mock_sse *s, struct mock_buf *out);
/* Text delta with content[0, n). */
int mock_sse_content(const struct mock_sse *s, struct mock_buf *out, const char *content, size_t n);
/* Start of tool call 'index': id, type, function name, empty arguments; 'with_role' puts
 * role "assistant" and content null in the same delta (the stream's first event). */
int mock_sse_tool_start(const struct mock_sse *s, struct mock_buf *out, size_t index,
                        const struct mock_tool_call *call, bool with_role);
/* Arguments fragment frag[0, n) of tool call 'index'. */
int mock_sse_tool_args(const struct mock_sse *s, struct mock_buf *out, size_t index,
                       const char *frag, size_t n);
/* Empty delta with finish_reason. */
int mock_sse_finish(const struct mock_sse *s, struct mock_buf *out, const char *reason);
/* choices [] with usage (only send when include_usage). */
int mock_sse_usage(const struct mock_sse *s, struct mock_buf *out, unsigned prompt,
                   unsigned completion);
/* "data: [DONE]\n\n". */
int mock_sse_done(struct mock_buf *out);

/* Non-streaming chat.completion object for 'r'. Returns 0 or SH_ENOMEM. */
int mock_completion_json(const struct mock_reply *r, const char *id, long long created,
                         struct mock_buf *out);
/* {"error":{"message":...,"type":...,"param":...,"code":...}}; 'param'/'code' may be NULL
 * (JSON null). Returns 0 or SH_ENOMEM. */
int mock_error_json(struct mock_buf *out, const char *message, const char *type,
                    const char *param, const char *code);
/* The GET /v1/models list (one model: "mock-llm"). Returns 0 or SH_ENOMEM. */
int mock_models_json(struct mock_buf *out);

#endif
