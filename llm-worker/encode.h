/* Hand-written JSON for the worker's per-turn messages: a growable buffer, a JSON string escaper,
 * the Kafka envelope and the chat-completion request body. Each writes the same bytes jansson
 * writes with JSON_COMPACT (tests/test_encode.c checks them against it), without building a
 * jansson tree per message. */
#ifndef LLM_ENCODE_H
#define LLM_ENCODE_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sh_envelope.h"

/* A growable byte buffer, reused between messages. Zero-initialise; free with llm_jbuf_free().
 * Every append returns 0 or SH_ENOMEM; after a failure 'oom' is set and further appends do
 * nothing, so a writer checks once at the end. */
struct llm_jbuf {
    char *p;            /* owned; NUL-terminated after every append */
    size_t len, cap;
    bool oom;
};

void llm_jbuf_free(struct llm_jbuf *b);
/* Empty the buffer, keeping its memory (and clearing 'oom'). */
void llm_jbuf_reset(struct llm_jbuf *b);
/* Make room for 'n' more bytes (plus the NUL). */
int llm_jbuf_reserve(struct llm_jbuf *b, size_t n);
int llm_jbuf_put(struct llm_jbuf *b, const char *s, size_t n);
/* A string literal, its length counted by the compiler. */
#define LLM_JBUF_LIT(b, lit) llm_jbuf_put((b), "" lit, sizeof(lit) - 1)
/* A C string literal or other NUL-terminated text, unescaped. */
int llm_jbuf_puts(struct llm_jbuf *b, const char *s);
/* 'n' bytes of UTF-8 as a quoted JSON string (escaped like jansson's JSON_COMPACT). */
int llm_jbuf_str(struct llm_jbuf *b, const char *s, size_t n);
/* A NUL-terminated string as a quoted JSON string; NULL writes "". */
int llm_jbuf_cstr(struct llm_jbuf *b, const char *s);
int llm_jbuf_int(struct llm_jbuf *b, int64_t v);
/* 'v' as jansson dumps it (JSON_COMPACT); NULL writes {}. */
int llm_jbuf_json(struct llm_jbuf *b, const json_t *v);

/* Append 'len' bytes of UTF-8 'src' as the inside of a JSON string, escaped as jansson does
 * with JSON_COMPACT (quote, backslash and control characters; UTF-8 passes through). 'dst'
 * must have room for 6 * len bytes. Returns the bytes written. */
size_t llm_json_escape(char *dst, const char *src, size_t len);

/* The envelope 'e' up to and including "payload": (the caller writes the payload and the
 * closing brace). Same fields, order and omissions as sh_env_encode(). */
int llm_env_head(struct llm_jbuf *b, const struct sh_env *e);
/* The whole envelope 'e' with its payload: the bytes sh_env_encode() makes. */
int llm_env_encode(struct llm_jbuf *b, const struct sh_env *e);

/* The body sh_oai_request_build() makes for {model, messages = [system, history..., user],
 * tools, stream: true, max_tokens}, with the history already encoded: 'history' holds the
 * JSON messages joined by commas, without brackets ('history_len' 0 for none), and 'tools' the
 * encoded tools array or NULL (omitted, as is "[]"). 'max_tokens' <= 0 is omitted. */
int llm_request_body(struct llm_jbuf *b, const char *model, const char *system,
                     const char *history, size_t history_len, const char *user, size_t user_len,
                     const char *tools, int64_t max_tokens);

#endif
