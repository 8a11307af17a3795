/* Growable byte buffer with a read offset, plus JSON string escaping; used by every writer. */
#ifndef MOCK_BUF_H
#define MOCK_BUF_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* Bytes [off, len) of 'data' are live; [0, off) was consumed and is reclaimed lazily.
 * When data != NULL it is always NUL-terminated at data[len]. Embedded: init/free. */
struct mock_buf {
    char *data;
    size_t off;
    size_t len;
    size_t cap;
};

/* Start empty; allocates nothing. */
void mock_buf_init(struct mock_buf *b);
/* Release the storage and leave 'b' empty; NULL-safe, may be called twice. */
void mock_buf_free(struct mock_buf *b);
/* Live bytes and their count. */
static inline const char *mock_buf_ptr(const struct mock_buf *b) { return b->data ? b->data + b->off : ""; }
static inline size_t mock_buf_size(const struct mock_buf *b) { return b->len - b->off; }
/* Make room for 'extra' more bytes (+1 for the NUL). Returns 0 or SH_ENOMEM. */
int mock_buf_reserve(struct mock_buf *b, size_t extra);
/* Append bytes / a C string / formatted text. Return 0 or SH_ENOMEM. */
int mock_buf_append(struct mock_buf *b, const void *p, size_t n);
int mock_buf_puts(struct mock_buf *b, const char *s);
int mock_buf_printf(struct mock_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop 'n' live bytes from the front (n > size empties the buffer). */
void mock_buf_consume(struct mock_buf *b, size_t n);
/* Keep only the first 'size' live bytes (no-op when size >= the live size). */
void mock_buf_truncate(struct mock_buf *b, size_t size);
/* Forget everything but keep the storage for reuse. */
void mock_buf_reset(struct mock_buf *b);
/* Append 'n' bytes of 's' as a quoted JSON string (UTF-8 passes through, control bytes are
 * escaped). Returns 0 or SH_ENOMEM. */
int mock_buf_json_str(struct mock_buf *b, const char *s, size_t n);
/* Hand the live bytes over as a malloc'd NUL-terminated string (caller frees) and leave 'b'
 * empty. Returns NULL on allocation failure. */
char *mock_buf_steal(struct mock_buf *b);

#endif
