/* Hand-written JSON for the worker's per-turn messages (envelopes, request bodies): the bytes
 * jansson's JSON_COMPACT makes, without a jansson tree per message. */
#include "encode.h"
#include "sh_err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void llm_jbuf_free(struct llm_jbuf *b)
{
    if (!b)
        return;
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void llm_jbuf_reset(struct llm_jbuf *b)
{
    b->len = 0;
    b->oom = false;
    if (b->p)
        b->p[0] = '\0';
}

int llm_jbuf_reserve(struct llm_jbuf *b, size_t n)
{
    size_t need = b->len + n + 1, cap = b->cap ? b->cap : 512;
    char *p;

    if (b->oom)
        return SH_ENOMEM;
    if (need <= b->cap)
        return SH_OK;
    while (cap < need)
        cap *= 2;
    p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return SH_ENOMEM;
    }
    b->p = p;
    b->cap = cap;
    return SH_OK;
}

int llm_jbuf_put(struct llm_jbuf *b, const char *s, size_t n)
{
    if (llm_jbuf_reserve(b, n))
        return SH_ENOMEM;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return SH_OK;
}

int llm_jbuf_puts(struct llm_jbuf *b, const char *s)
{
    return llm_jbuf_put(b, s, strlen(s));
}

size_t llm_json_escape(char *dst, const char *src, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";   /* as jansson writes \u001F */
    char *d = dst;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *d++ = (char)c;
            continue;
        }
        *d++ = '\\';
        switch (c) {
        case '"':  *d++ = '"'; break;
        case '\\': *d++ = '\\'; break;
        case '\b': *d++ = 'b'; break;
        case '\f': *d++ = 'f'; break;
        case '\n': *d++ = 'n'; break;
        case '\r': *d++ = 'r'; break;
        case '\t': *d++ = 't'; break;
        default:
            *d++ = 'u'; *d++ = '0'; *d++ = '0';
            *d++ = hex[c >> 4]; *d++ = hex[c & 15];
        }
    }
    return (size_t)(d - dst);
}

int llm_jbuf_str(struct llm_jbuf *b, const char *s, size_t n)
{
    if (llm_jbuf_reserve(b, 6 * n + 2))
        return SH_ENOMEM;
    b->p[b->len++] = '"';
    b->len += llm_json_escape(b->p + b->len, s, n);
    b->p[b->len++] = '"';
    b->p[b->len] = '\0';
    return SH_OK;
}

int llm_jbuf_cstr(struct llm_jbuf *b, const char *s)
{
    return llm_jbuf_str(b, s ? s : "", s ? strlen(s) : 0);
}

int llm_jbuf_int(struct llm_jbuf *b, int64_t v)
{
    char tmp[24];
    char *d = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        *--d = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--d = '-';
    return llm_jbuf_put(b, d, (size_t)(tmp + sizeof(tmp) - d));
}

int llm_jbuf_json(struct llm_jbuf *b, const json_t *v)
{
    size_t avail, n;

    if (!v)
        return LLM_JBUF_LIT(b, "{}");
    if (llm_jbuf_reserve(b, 256))
        return SH_ENOMEM;
    avail = b->cap - b->len - 1;
    n = json_dumpb(v, b->p + b->len, avail, JSON_COMPACT | JSON_ENCODE_ANY);
    if (n == 0)
        goto fail;
    if (n > avail) {                     /* did not fit: grow and write again */
        if (llm_jbuf_reserve(b, n))
            return SH_ENOMEM;
        if (json_dumpb(v, b->p + b->len, n, JSON_COMPACT | JSON_ENCODE_ANY) != n)
            goto fail;
    }
    b->len += n;
    b->p[b->len] = '\0';
    return SH_OK;
fail:
    /* json_dumpb fails on no memory (or invalid text, which json_t strings never hold). */
    b->oom = true;
    return SH_ENOMEM;
}

int llm_env_head(struct llm_jbuf *b, const struct sh_env *e)
{
    char head[96];
    int n;

    n = snprintf(head, sizeof(head), "{\"v\":%d,\"id\":", e->v);
    llm_jbuf_put(b, head, (size_t)n);
    llm_jbuf_cstr(b, e->id);
    LLM_JBUF_LIT(b, ",\"type\":");
    llm_jbuf_cstr(b, e->type);
    LLM_JBUF_LIT(b, ",\"ts\":");
    llm_jbuf_int(b, e->ts_ms);
    LLM_JBUF_LIT(b, ",\"session_id\":");
    llm_jbuf_cstr(b, e->session_id);
    LLM_JBUF_LIT(b, ",\"user_id\":");
    llm_jbuf_cstr(b, e->user_id);
    if (e->turn_id[0]) {
        LLM_JBUF_LIT(b, ",\"turn_id\":");
        llm_jbuf_cstr(b, e->turn_id);
    }
    if (e->seq >= 0) {
        LLM_JBUF_LIT(b, ",\"seq\":");
        llm_jbuf_int(b, e->seq);
    }
    if (e->reply_to[0]) {
        LLM_JBUF_LIT(b, ",\"reply_to\":");
        llm_jbuf_cstr(b, e->reply_to);
    }
    LLM_JBUF_LIT(b, ",\"payload\":");
    return b->oom ? SH_ENOMEM : SH_OK;
}

int llm_env_encode(struct llm_jbuf *b, const struct sh_env *e)
{
    llm_env_head(b, e);
    llm_jbuf_json(b, e->payload);
    LLM_JBUF_LIT(b, "}");
    return b->oom ? SH_ENOMEM : SH_OK;
}

int llm_request_body(struct llm_jbuf *b, const char *model, const char *system,
                     const char *history, size_t history_len, const char *user, size_t user_len,
                     const char *tools, int64_t max_tokens)
{
    LLM_JBUF_LIT(b, "{\"model\":");
    llm_jbuf_cstr(b, model);
    llm_jbuf_puts(b, ",\"messages\":[{\"role\":\"system\",\"content\":");
    llm_jbuf_cstr(b, system);
    LLM_JBUF_LIT(b, "},");
    if (history_len) {
        llm_jbuf_put(b, history, history_len);
        LLM_JBUF_LIT(b, ",");
    }
    llm_jbuf_puts(b, "{\"role\":\"user\",\"content\":");
    llm_jbuf_str(b, user, user_len);
    LLM_JBUF_LIT(b, "}]");
    if (tools && strcmp(tools, "[]") != 0) {
        LLM_JBUF_LIT(b, ",\"tools\":");
        llm_jbuf_puts(b, tools);
    }
    llm_jbuf_puts(b, ",\"stream\":true,\"stream_options\":{\"include_usage\":true}");
    if (max_tokens > 0) {
        LLM_JBUF_LIT(b, ",\"max_tokens\":");
        llm_jbuf_int(b, max_tokens);
    }
    LLM_JBUF_LIT(b, "}");
    return b->oom ? SH_ENOMEM : SH_OK;
}
