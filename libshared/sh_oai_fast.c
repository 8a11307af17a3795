/* Fast path for plain content chunks of a streamed chat completion.
 *
 * Nearly every chunk of a streamed answer is {"id":…,"choices":[{"index":0,"delta":{"content":
 * "…"},"finish_reason":null}]}. Building a jansson tree for each one was the worker's largest
 * cost per token, so such chunks are scanned in place: the scanner validates the whole JSON text
 * (syntax, escapes, UTF-8) and takes delta.content; anything else (roles, tool calls, a
 * finish_reason, usage, errors, several choices, duplicate keys) goes to sh_oai_chunk_parse().
 * sh_oai_fast_meta() takes the other chunks of every answer the same way: the role chunk, the
 * finish_reason chunk and the usage-only chunk. */

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

/* The other chunks of every streamed answer: the first ({"role":"assistant","content":""}),
 * the last choice ({"delta":{},"finish_reason":"stop"}) and the usage-only chunk ("choices":[],
 * "usage":{...}). Same scanner; anything it does not know goes to the full parser. */
struct fast_meta {
    const char *content, *role, *finish;        /* raw insides as found */
    size_t content_len, role_len, finish_len;
    bool content_esc, role_esc, finish_esc;
    bool have_content, have_role, have_finish, have_delta, have_index, have_logprobs;
    bool have_choices, have_usage, have_error;
    bool usage_obj, have_p, have_c, have_t;
    long long p, c, t;
};

/* An integer literal of at most 18 digits (so it fits, as jansson reads it) into '*v'. */
static bool js_int(struct jscan *s, long long *v)
{
    const unsigned char *q = s->p;
    long long x = 0;
    bool neg;

    if (!js_number(s))                     /* validates, sign included */
        return false;
    neg = *q == '-';
    for (q += neg; q < s->p; q++)
        x = x * 10 + (*q - '0');
    *v = neg ? -x : x;
    return true;
}

/* A string or null: '*have' set once (a second one goes to the full parser). */
static bool fm_str_or_null(struct jscan *s, bool *have, const char **raw, size_t *n, bool *esc)
{
    if (*have)
        return false;
    *have = true;
    if (js_lit(s, "null")) {
        *raw = NULL;
        return true;
    }
    return js_str(s, raw, n, esc);
}

static bool fm_delta(struct jscan *s, const char *k, size_t n, void *ctx)
{
    struct fast_meta *f = ctx;

    if (KEY_IS(k, n, "content"))
        return fm_str_or_null(s, &f->have_content, &f->content, &f->content_len, &f->content_esc);
    if (KEY_IS(k, n, "role")) {
        if (!fm_str_or_null(s, &f->have_role, &f->role, &f->role_len, &f->role_esc))
            return false;
        return f->role != NULL;            /* null role: the full parser */
    }
    return false;                          /* tool_calls, refusal...: the full parser */
}

static bool fm_choice(struct jscan *s, const char *k, size_t n, void *ctx)
{
    struct fast_meta *f = ctx;

    if (KEY_IS(k, n, "delta")) {
        if (f->have_delta)
            return false;
        f->have_delta = true;
        return js_object(s, fm_delta, f);
    }
    if (KEY_IS(k, n, "finish_reason"))
        return fm_str_or_null(s, &f->have_finish, &f->finish, &f->finish_len, &f->finish_esc);
    if (KEY_IS(k, n, "index")) {
        if (f->have_index)
            return false;
        f->have_index = true;
        return js_lit(s, "0");
    }
    if (KEY_IS(k, n, "logprobs")) {
        if (f->have_logprobs)
            return false;
        f->have_logprobs = true;
        return js_value(s, 1);
    }
    return false;
}

static bool fm_usage(struct jscan *s, const char *k, size_t n, void *ctx)
{
    struct fast_meta *f = ctx;
    bool *have = KEY_IS(k, n, "prompt_tokens") ? &f->have_p
               : KEY_IS(k, n, "completion_tokens") ? &f->have_c
               : KEY_IS(k, n, "total_tokens") ? &f->have_t : NULL;

    if (!have)
        return js_value(s, 1);             /* *_tokens_details and the like */
    if (*have)
        return false;
    *have = true;
    return js_int(s, have == &f->have_p ? &f->p : have == &f->have_c ? &f->c : &f->t);
}

static bool fm_top(struct jscan *s, const char *k, size_t n, void *ctx)
{
    struct fast_meta *f = ctx;

    if (KEY_IS(k, n, "choices")) {
        if (f->have_choices || s->p >= s->end || *s->p != '[')
            return false;
        f->have_choices = true;
        s->p++;
        js_ws(s);
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            return true;                   /* no choice: the usage-only chunk */
        }
        if (!js_object(s, fm_choice, f))
            return false;
        js_ws(s);
        return s->p < s->end && *s->p++ == ']';   /* exactly one choice */
    }
    if (KEY_IS(k, n, "usage")) {
        if (f->have_usage)
            return false;
        f->have_usage = true;
        if (js_lit(s, "null"))
            return true;
        f->usage_obj = true;
        return s->p < s->end && *s->p == '{' && js_object(s, fm_usage, f);
    }
    if (KEY_IS(k, n, "error")) {
        if (f->have_error)
            return false;
        f->have_error = true;
        return js_lit(s, "null");
    }
    return js_value(s, 1);                 /* id, object, created, model, fingerprint... */
}

/* Copy a string js_str() accepted into 'out', NUL-terminated; returns the bytes after it. */
static size_t put_str(const char *raw, size_t n, bool esc, char *out, const char **dst,
                      size_t *len)
{
    size_t o = esc ? js_unescape(raw, n, out) : (memcpy(out, raw, n), n);

    out[o] = '\0';
    *dst = out;
    if (len)
        *len = o;
    return o + 1;
}

bool sh_oai_fast_meta(const char *data, size_t len, struct sh_oai_delta *d, char *buf,
                      size_t cap)
{
    struct jscan s = {(const unsigned char *)data, (const unsigned char *)data + len};
    struct fast_meta f = {0};
    size_t used = 0;

    if (!js_object(&s, fm_top, &f))
        return false;
    js_ws(&s);
    if (s.p != s.end || !f.have_choices)
        return false;
    /* Unescaping never makes a string longer. */
    if ((f.content ? f.content_len : 0) + (f.role ? f.role_len : 0) +
        (f.finish ? f.finish_len : 0) + 3 > cap)
        return false;
    memset(d, 0, sizeof(*d));
    d->content = "";
    if (f.content)
        used += put_str(f.content, f.content_len, f.content_esc, buf + used, &d->content,
                        &d->content_len);
    if (f.role)
        used += put_str(f.role, f.role_len, f.role_esc, buf + used, &d->role, NULL);
    if (f.finish)
        used += put_str(f.finish, f.finish_len, f.finish_esc, buf + used, &d->finish_reason,
                        NULL);
    if (f.usage_obj) {
        d->has_usage = true;
        d->usage.prompt_tokens = f.have_p ? f.p : 0;
        d->usage.completion_tokens = f.have_c ? f.c : 0;
        d->usage.total_tokens = f.have_t ? f.t : 0;
    }
    return true;
}
