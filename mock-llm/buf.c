/* Growable byte buffer with a read offset, plus JSON string escaping; used by every writer. */
#include "buf.h"
#include "sh_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mock_buf_init(struct mock_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void mock_buf_free(struct mock_buf *b)
{
    if (!b)
        return;
    free(b->data);
    memset(b, 0, sizeof(*b));
}

int mock_buf_reserve(struct mock_buf *b, size_t extra)
{
    size_t live = b->len - b->off;
    size_t need = live + extra + 1;
    char *p;

    if (b->data && b->len + extra + 1 <= b->cap)
        return SH_OK;
    /* Reclaim the consumed prefix before growing: a write buffer that drains slowly would
     * otherwise creep towards the end of its storage. */
    if (b->data && need <= b->cap) {
        memmove(b->data, b->data + b->off, live);
        b->off = 0;
        b->len = live;
        b->data[live] = '\0';
        return SH_OK;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (b->off) {
        memmove(b->data, b->data + b->off, live);
        b->off = 0;
        b->len = live;
    }
    p = realloc(b->data, cap);
    if (!p)
        return SH_ENOMEM;
    b->data = p;
    b->cap = cap;
    b->data[b->len] = '\0';
    return SH_OK;
}

int mock_buf_append(struct mock_buf *b, const void *p, size_t n)
{
    if (mock_buf_reserve(b, n))
        return SH_ENOMEM;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SH_OK;
}

int mock_buf_puts(struct mock_buf *b, const char *s)
{
    return mock_buf_append(b, s, strlen(s));
}

int mock_buf_printf(struct mock_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || mock_buf_reserve(b, (size_t)n))
        return SH_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return SH_OK;
}

void mock_buf_consume(struct mock_buf *b, size_t n)
{
    if (n >= b->len - b->off) {
        mock_buf_reset(b);
        return;
    }
    b->off += n;
}

void mock_buf_truncate(struct mock_buf *b, size_t size)
{
    if (size >= b->len - b->off)
        return;
    b->len = b->off + size;
    b->data[b->len] = '\0';
}

void mock_buf_reset(struct mock_buf *b)
{
    b->off = 0;
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

int mock_buf_json_str(struct mock_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;

    if (mock_buf_reserve(b, n + 2))
        return SH_ENOMEM;
    b->data[b->len++] = '"';
    /* Copy runs of plain bytes in one go; only quote, backslash and controls need work. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t elen = 2;

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (mock_buf_append(b, s + start, i - start))
            return SH_ENOMEM;
        esc[0] = '\\';
        switch (c) {
        case '"':  esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            elen = 6;
        }
        if (mock_buf_append(b, esc, elen))
            return SH_ENOMEM;
        start = i + 1;
    }
    if (mock_buf_append(b, s + start, n - start) || mock_buf_append(b, "\"", 1))
        return SH_ENOMEM;
    return SH_OK;
}

char *mock_buf_steal(struct mock_buf *b)
{
    char *s;

    if (!b->data)
        return strdup("");
    if (b->off) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        b->data[b->len] = '\0';
    }
    s = b->data;
    memset(b, 0, sizeof(*b));
    return s;
}
