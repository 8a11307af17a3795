/* Incremental Server-Sent-Events parser (WHATWG EventSource framing) fed arbitrary byte chunks. */
#ifndef SH_SSE_H
#define SH_SSE_H

#include <stdbool.h>
#include <stddef.h>

/* Default limit on one event: pending line + data + event type, in bytes. */
#define SH_SSE_DEFAULT_MAX_EVENT ((size_t)1024 * 1024)

/* One dispatched event. Every pointer is borrowed from the parser, NUL-terminated and valid only
 * during the callback. */
struct sh_sse_event {
    const char *type;     /* "event:" field, or "message" when the event had none */
    const char *data;     /* data: lines joined with "\n" (no trailing "\n"); may be "" */
    size_t data_len;      /* strlen(data) unless the data itself holds NUL bytes */
    const char *id;       /* last event id seen on this stream, "" if none */
};

/* Called once per dispatched event. Return 0 to go on; any other value stops sh_sse_feed() at
 * once, which then returns that value (use > 0 for "stop, not an error"). */
typedef int (*sh_sse_cb)(void *user, const struct sh_sse_event *ev);

/* Growable byte buffer used inside the parser; always NUL-terminated when data != NULL. */
struct sh_sse_buf {
    char *data;
    size_t len;
    size_t cap;
};

/* Parser state; embed it and use sh_sse_init()/sh_sse_free(). Fields are private. */
struct sh_sse_parser {
    sh_sse_cb cb;
    void *user;
    size_t max_event;         /* SH_ETOOBIG past this many pending bytes */
    struct sh_sse_buf line;   /* current, not yet terminated line */
    struct sh_sse_buf data;   /* data buffer of the pending event, each line + "\n" */
    struct sh_sse_buf type;   /* event type of the pending event */
    struct sh_sse_buf id;     /* last event id (survives dispatch, as the spec says) */
    long retry_ms;            /* last valid "retry:" value, -1 if none */
    bool cr_pending;          /* previous byte was '\r': a following '\n' belongs to it */
    bool bom_checked;         /* leading UTF-8 BOM already handled */
    int err;                  /* sticky error: once set, every feed returns it */
};

/* Set up 'p' to call 'cb(user, ev)' for each event. max_event 0 means
 * SH_SSE_DEFAULT_MAX_EVENT. Allocates nothing; pair with sh_sse_free(). */
void sh_sse_init(struct sh_sse_parser *p, size_t max_event, sh_sse_cb cb, void *user);

/* Feed 'len' bytes, split anywhere (inside "\r\n" or a UTF-8 sequence is fine). Dispatches every
 * event completed by these bytes. Returns 0; SH_ETOOBIG when an event or line grows past the
 * limit, SH_ENOMEM (both sticky: reset before reuse); or the callback's non-zero return, in which
 * case the rest of 'buf' is not consumed. */
int sh_sse_feed(struct sh_sse_parser *p, const void *buf, size_t len);

/* End of input. Deliberately lenient: a pending event whose lines were all terminated is
 * dispatched even without the closing blank line (some servers omit it after "[DONE]"). An
 * unterminated last line is dropped, as the spec says. Returns 1 when bytes were dropped, 0 when
 * nothing was, or what sh_sse_feed() would return for an error / callback stop. */
int sh_sse_finish(struct sh_sse_parser *p);

/* Forget all stream state (pending event, last id, retry, error) but keep the buffers, so the
 * parser can read a new stream. */
void sh_sse_reset(struct sh_sse_parser *p);

/* Last valid "retry:" field in milliseconds, or -1 if the stream sent none. */
long sh_sse_retry_ms(const struct sh_sse_parser *p);

/* Release the buffers. NULL-safe; 'p' may be re-initialised afterwards. */
void sh_sse_free(struct sh_sse_parser *p);

#endif
