/* From event_log rows to what the LLM reads, free of I/O: a plain-text transcript
 * ("User: ...", "Assistant: ...", "Tool call: ...", "Tool result (...): ..."), the JSON body
 * of the non-streaming summary request, and a cleaned-up summary from the answer. */
#ifndef SUM_TRANSCRIPT_H
#define SUM_TRANSCRIPT_H
#include <stdbool.h>
#include <stddef.h>

/* One event_log row, borrowed: event_type, content (text or JSON), meta (JSON or NULL). */
struct sum_row {
    const char *type;
    const char *content;
    const char *meta;
};

struct sum_transcript {
    char *text;          /* owned; "" when nothing to say */
    size_t len;
    int n_user;          /* user_message rows seen (0: no LLM call for this session) */
    int n_lines;         /* lines in 'text' */
    int n_omitted;       /* lines dropped to stay under the size limit */
};

/* Build the transcript of 'rows' (in conversation order) in at most 'max_chars' bytes of
 * UTF-8. Rows of other types are skipped; one very long message is cut. When it all does
 * not fit, the first user message and the latest lines are kept with a marker between
 * them. Returns 0 or SH_ENOMEM. Free with sum_transcript_free() in every case. */
int sum_transcript_build(const struct sum_row *rows, size_t n, size_t max_chars,
                         struct sum_transcript *t);
/* Release the text and zero 't'. NULL-safe. */
void sum_transcript_free(struct sum_transcript *t);

/* The request body: [system 'prompt', user "Conversation:\n<transcript>"], not streamed.
 * '*body' is malloc'd; the caller frees it. Returns 0, SH_EINVAL or SH_ENOMEM. */
int sum_request_body(const char *model, const char *prompt, const struct sum_transcript *t,
                     int max_tokens, char **body);

/* The summary to store from the model's answer: whitespace trimmed, runs of whitespace
 * (newlines included) folded into one space, at most 'max_bytes' bytes, cut on a UTF-8
 * boundary. Returns a malloc'd string, or NULL when nothing is left (or no memory). */
char *sum_summary_clean(const char *s, size_t len, size_t max_bytes);

/* The number of leading bytes of 's' (of length 'len') that fit in 'max' bytes without
 * splitting a UTF-8 sequence. */
size_t sum_utf8_cut(const char *s, size_t len, size_t max);

#endif
