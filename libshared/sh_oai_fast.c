/* Fast path for plain content chunks of a streamed chat completion.
 *
 * Nearly every chunk of a streamed answer is {"id":…,"choices":[{"index":0,"delta":{"content":
 * "…"},"finish_reason":null}]}. Building a jansson tree for each one was the worker's largest
 * cost per token, so such chunks are scanned in place: the scanner validates the whole JSON text
 * (syntax, escapes, UTF-8) and takes delta.content; anything else (roles, tool calls, a
 * finish_reason, usage, errors, several choices, duplicate keys) goes to sh_oai_chunk_parse(). */

#include "sh_oai_fast.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct jscan {
    const unsigned char *p, *end;
};

static void js_ws(struct jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool js_lit(struct jscan *s, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* Length of the valid UTF-8 sequence at 'p' (lead byte >= 0x80), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    size_t n = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
    uint32_t cp;

    if (!n || p[0] > 0xF4 || (size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    cp = n == 2 ? (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F)
       : n == 3 ? (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F)
       : (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 |
         (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

/* A string at s->p: its raw inside in [*raw, *raw + *rawlen), *esc when it holds escapes.
 * "\u0000" is refused, as jansson does without JSON_ALLOW_NUL. */
static bool js_str(struct jscan *s, const char **raw, size_t *rawlen, bool *esc)
{
    const unsigned char *start;

    if (s->p >= s->end || *s->p != '"')
        return false;
    start = ++s->p;
    *esc = false;
    while (s->p < s->end) {
        unsigned char c = *s->p;
        if (c == '"') {
            *raw = (const char *)start;
            *rawlen = (size_t)(s->p - start);
            s->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            *esc = true;
            if (++s->p >= s->end)
                return false;
            if (*s->p == 'u') {
                unsigned v = 0;
                if (s->end - s->p < 5)
                    return false;
                for (int i = 1; i <= 4; i++) {
                    unsigned char h = s->p[i];
                    int x = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                          : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (x < 0)
                        return false;
                    v = v << 4 | (unsigned)x;
                }
                if (v == 0 || (v >= 0xD800 && v <= 0xDFFF))
                    return false;          /* NUL and surrogates: jansson decides */
                s->p += 5;
            } else if (strchr("\"\\/bfnrt", *s->p) && *s->p) {
                s->p++;
            } else {
                return false;
            }
        } else if (c >= 0x80) {
            size_t n = utf8_len(s->p, s->end);
            if (!n)
                return false;
            s->p += n;
        } else {
            s->p++;
        }
    }
    return false;
}

/* Decode the inside of a string js_str() accepted into 'out' (room for rawlen bytes). */
static size_t js_unescape(const char *raw, size_t n, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = raw[i];
        if (c != '\\') {
            out[o++] = c;
            continue;
        }
        c = raw[++i];
        switch (c) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned v = (unsigned)strtoul((char[5]){raw[i + 1], raw[i + 2], raw[i + 3],
                                                     raw[i + 4], 0}, NULL, 16);
            i += 4;
            if (v < 0x80) {
                out[o++] = (char)v;
            } else if (v < 0x800) {
                out[o++] = (char)(0xC0 | v >> 6);
                out[o++] = (char)(0x80 | (v & 0x3F));
            } else {
                out[o++] = (char)(0xE0 | v >> 12);
                out[o++] = (char)(0x80 | (v >> 6 & 0x3F));
                out[o++] = (char)(0x80 | (v & 0x3F));
            }
            break;
        }
        default: out[o++] = c; break;     /* " \ / */
        }
    }
    return o;
}

static bool js_value(struct jscan *s, int depth);

/* Skip an object or array; 'close' is '}' or ']'. */
static bool js_container(struct jscan *s, int depth, char close)
{
    const char *raw;
    size_t n;
    bool esc;

    if (depth > 32)
        return false;
    s->p++;
    js_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return true;
    }
    for (;;) {
        if (close == '}') {
            if (!js_str(s, &raw, &n, &esc))
                return false;
            js_ws(s);
            if (s->p >= s->end || *s->p++ != ':')
                return false;
        }
        if (!js_value(s, depth + 1))
            return false;
        js_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            js_ws(s);
            continue;
        }
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return true;
        }
        return false;
    }
}

/* Integers of at most 18 digits only: jansson refuses integers beyond int64 and reals beyond
 * double, so anything longer, and any fraction or exponent, is left to the full parser (chunks
 * carry only small integers such as "created" and "index"). */
static bool js_number(struct jscan *s)
{
    const unsigned char *st;

    if (s->p < s->end && *s->p == '-')
        s->p++;
    st = s->p;
    if (s->p >= s->end || *s->p < '0' || *s->p > '9')
        return false;
    if (*s->p == '0')
        s->p++;
    else
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
            s->p++;
    if (s->p - st > 18)
        return false;
    return s->p >= s->end || (*s->p != '.' && *s->p != 'e' && *s->p != 'E');
}

static bool js_value(struct jscan *s, int depth)
{
    const char *raw;
    size_t n;
    bool esc;

    js_ws(s);
    if (s->p >= s->end)
        return false;
    switch (*s->p) {
    case '{': return js_container(s, depth, '}');
    case '[': return js_container(s, depth, ']');
    case '"': return js_str(s, &raw, &n, &esc);
    case 't': return js_lit(s, "true");
    case 'f': return js_lit(s, "false");
    case 'n': return js_lit(s, "null");
    default:  return js_number(s);
    }
}

/* Iterate the members of the object at s->p: calls 'fn' with each key; 'fn' consumes the
 * value (returns false to give up). */
typedef bool (*js_member_fn)(struct jscan *s, const char *key, size_t klen, void *ctx);

static bool js_object(struct jscan *s, js_member_fn fn, void *ctx)
{
    const char *key;
    size_t klen;
    bool esc;

    js_ws(s);
    if (s->p >= s->end || *s->p != '{')
        return false;
    s->p++;
    js_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return true;
    }
    for (;;) {
        js_ws(s);
        if (!js_str(s, &key, &klen, &esc) || esc)
            return false;
        js_ws(s);
        if (s->p >= s->end || *s->p++ != ':')
            return false;
        js_ws(s);
        if (!fn(s, key, klen, ctx))
            return false;
        js_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return true;
        }
        return false;
    }
}

struct fast_chunk {
    const char *raw;              /* delta.content as found */
    size_t rawlen;
    bool esc, have_content, have_choices, have_delta;
};

#define KEY_IS(k, n, lit) ((n) == sizeof(lit) - 1 && memcmp((k), (lit), (n)) == 0)

static bool fc_delta(struct jscan *s, const char *k, size_t n, void *ctx)
{
    struct fast_chunk *f = ctx;

    if (!KEY_IS(k, n, "content") || f->have_content)
        return false;                      /* role, tool_calls, refusal...: the full parser */
    f->have_content = true;
    if (js_lit(s, "null")) {
        f->rawlen = 0;
        return true;
    }
    return js_str(s, &f->raw, &f->rawlen, &f->esc);
}

static bool fc_choice(struct jscan *s, const char *k, size_t n, void *ctx)
{
    struct fast_chunk *f = ctx;

    if (KEY_IS(k, n, "delta")) {
        if (f->have_delta)
            return false;
        f->have_delta = true;
        return js_object(s, fc_delta, f);
    }
    if (KEY_IS(k, n, "finish_reason"))
        return js_lit(s, "null");
    if (KEY_IS(k, n, "index"))
        return js_lit(s, "0");
    if (KEY_IS(k, n, "logprobs"))
        return js_value(s, 1);
    return false;
}

static bool fc_top(struct jscan *s, const char *k, size_t n, void *ctx)
{
    struct fast_chunk *f = ctx;

    if (KEY_IS(k, n, "choices")) {
        if (f->have_choices || s->p >= s->end || *s->p != '[')
            return false;
        f->have_choices = true;
        s->p++;
        if (!js_object(s, fc_choice, f))
            return false;
        js_ws(s);
        return s->p < s->end && *s->p++ == ']';   /* exactly one choice */
    }
    if (KEY_IS(k, n, "usage") || KEY_IS(k, n, "error"))
        return js_lit(s, "null");
    return js_value(s, 1);                 /* id, object, created, model, fingerprint... */
}

bool sh_oai_fast_chunk(const char *data, size_t len, struct sh_oai_delta *d, char *buf,
                             size_t cap, char **scratch)
{
    struct jscan s = {(const unsigned char *)data, (const unsigned char *)data + len};
    struct fast_chunk f = {0};

    if (!js_object(&s, fc_top, &f))
        return false;
    js_ws(&s);
    if (s.p != s.end || !f.have_delta || !f.have_content)
        return false;
    memset(d, 0, sizeof(*d));
    if (f.rawlen >= cap) {
        *scratch = malloc(f.rawlen + 1);
        if (!*scratch)
            return false;
        buf = *scratch;
    }
    if (f.esc) {
        d->content_len = js_unescape(f.raw, f.rawlen, buf);
    } else {
        if (f.rawlen)
            memcpy(buf, f.raw, f.rawlen);
        d->content_len = f.rawlen;
    }
    buf[d->content_len] = '\0';
    d->content = buf;
    return true;
}
