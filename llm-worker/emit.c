/* Publishing from the worker: reply frames (token frames coalesced per poll round), durable
 * events, snapshots. */
#include "worker.h"
#include "sh_envelope.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_log.h"
#include "sh_time.h"
#include "sh_uuid.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOK_FLUSH_BYTES 4096    /* a pending token frame this large goes out at once */

/* Grow '*buf' (capacity '*cap') to hold 'need' bytes. */
static int reserve(char **buf, size_t *cap, size_t need)
{
    size_t n = *cap ? *cap : 256;
    char *p;

    if (need <= *cap)
        return SH_OK;
    while (n < need)
        n *= 2;
    p = realloc(*buf, n);
    if (!p)
        return SH_ENOMEM;
    *buf = p;
    *cap = n;
    return SH_OK;
}

/* Append 'len' bytes of UTF-8 'src' as the inside of a JSON string, escaped as jansson does
 * with JSON_COMPACT (quote, backslash and control characters; UTF-8 passes through). 'dst'
 * must have room for 6 * len bytes. Returns the bytes written. */
static size_t json_escape(char *dst, const char *src, size_t len)
{
    static const char hex[] = "0123456789abcdef";
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

/* The envelope of a token frame, written directly: the same JSON sh_env_encode() makes, without
 * building a jansson tree per token (the worker's hottest path). Returns the length or a
 * negative code; the text is in w->tok.out. */
static long tok_encode(struct llm_worker *w, const struct llm_session *s, int64_t seq)
{
    struct llm_tokbuf *t = &w->tok;
    char id[SH_UUID_LEN + 1], head[160];
    size_t ulen = strlen(s->user_id), n;
    int hl;

    sh_uuid_v7(id);
    if (reserve(&t->out, &t->out_cap, 400 + 6 * (ulen + t->len)))
        return SH_ENOMEM;
    hl = snprintf(head, sizeof(head), "{\"v\":%d,\"id\":\"%s\",\"type\":\"token\",\"ts\":%" PRId64
                  ",\"session_id\":\"", SH_ENV_VERSION, id, sh_now_ms());
    memcpy(t->out, head, (size_t)hl);
    n = (size_t)hl;
    n += json_escape(t->out + n, s->id, strlen(s->id));
    memcpy(t->out + n, "\",\"user_id\":\"", 13);
    n += 13;
    n += json_escape(t->out + n, s->user_id, ulen);
    hl = snprintf(head, sizeof(head), "\",\"turn_id\":\"%s\",\"seq\":%" PRId64
                  ",\"payload\":{\"content\":\"", t->turn_id, seq);
    memcpy(t->out + n, head, (size_t)hl);
    n += (size_t)hl;
    n += json_escape(t->out + n, t->text, t->len);
    memcpy(t->out + n, "\"}}", 4);
    return (long)n + 3;
}

void llm_emit_flush(struct llm_worker *w)
{
    struct llm_tokbuf *t = &w->tok;
    struct llm_session *s = t->s;
    int64_t seq;
    long len;

    if (!s)
        return;
    t->s = NULL;
    seq = s->next_seq++;
    len = tok_encode(w, s, seq);
    if (len < 0) {
        sh_log(SH_LOG_ERROR, "out of memory for a token frame", "session=%s", s->id);
        t->len = 0;
        return;
    }
    for (int i = 0; i < s->n_routes; i++)
        if (sh_producer_send(w->producer, s->routes[i], s->id, t->out, (size_t)len, NULL))
            sh_log(SH_LOG_WARN, "reply frame dropped", "topic=%s session=%s seq=%lld",
                   s->routes[i], s->id, (long long)seq);
    if (llm_session_frames_add(s, seq, t->out, (size_t)len))
        sh_log(SH_LOG_ERROR, "replay buffer: out of memory", "session=%s", s->id);
    t->len = 0;
}

void llm_emit_free(struct llm_worker *w)
{
    llm_emit_flush(w);
    free(w->tok.text);
    free(w->tok.out);
    memset(&w->tok, 0, sizeof(w->tok));
}

/* Hold a token's content for coalescing. Returns the seq it will go out with, or a negative
 * code when 'payload' is not a plain {"content": string} (the caller then sends it as is). */
static int64_t tok_hold(struct llm_worker *w, struct llm_session *s, const char *turn_id,
                        json_t *payload)
{
    struct llm_tokbuf *t = &w->tok;
    json_t *c = json_object_get(payload, "content");
    size_t len;

    if (json_object_size(payload) != 1 || !json_is_string(c) || !turn_id ||
        strlen(turn_id) > SH_UUID_LEN)
        return SH_EINVAL;
    if (t->s && (t->s != s || strcmp(t->turn_id, turn_id) != 0))
        llm_emit_flush(w);
    len = json_string_length(c);
    if (reserve(&t->text, &t->cap, t->len + len + 1))
        return SH_ENOMEM;
    if (!t->s) {
        t->s = s;
        strcpy(t->turn_id, turn_id);
        t->len = 0;
    }
    memcpy(t->text + t->len, json_string_value(c), len);
    t->len += len;
    json_decref(payload);
    if (t->len >= TOK_FLUSH_BYTES)
        llm_emit_flush(w);
    return s->next_seq;
}

/* Encode 'e' and send it; 'req' (may be NULL) tracks delivery. */
static int send_env(struct llm_worker *w, const char *topic, const struct sh_env *e,
                    struct llm_req *req, char **keep, size_t *keep_len)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = sh_env_encode(e, &buf, &len);

    if (rc)
        return rc;
    if (req)
        llm_req_hold(req);
    rc = sh_producer_send(w->producer, topic, e->session_id, buf, len, req);
    if (rc) {
        sh_log(SH_LOG_ERROR, "produce failed", "topic=%s session=%s type=%s err=\"%s\"", topic,
               e->session_id, e->type, sh_strerror(rc));
        if (req) {
            req->failed = true;
            llm_req_release(w, req);
        }
    }
    if (keep) {
        *keep = buf;
        *keep_len = len;
    } else {
        free(buf);
    }
    return rc;
}

static int env_new(struct sh_env *e, const char *type, const struct llm_session *s,
                   const char *turn_id, json_t *payload)
{
    int rc = sh_env_init(e, type, s->id, s->user_id, turn_id);

    if (rc) {
        json_decref(payload);
        return rc;
    }
    json_decref(e->payload);
    e->payload = payload ? payload : json_object();
    return e->payload ? SH_OK : SH_ENOMEM;
}

int64_t llm_emit_frame(struct llm_worker *w, struct llm_session *s, const char *turn_id,
                       const char *type, json_t *payload)
{
    struct sh_env e;
    char *buf = NULL;
    size_t len = 0;
    int64_t held;
    int rc;

    if (!strcmp(type, "token") && (held = tok_hold(w, s, turn_id, payload)) >= 0)
        return held;
    llm_emit_flush(w);                  /* frames of a session keep their order */
    rc = env_new(&e, type, s, turn_id, payload);
    if (rc)
        return rc;
    e.seq = s->next_seq++;
    rc = sh_env_encode(&e, &buf, &len);
    if (rc)
        goto out;
    for (int i = 0; i < s->n_routes; i++)
        if (sh_producer_send(w->producer, s->routes[i], s->id, buf, len, NULL))
            sh_log(SH_LOG_WARN, "reply frame dropped", "topic=%s session=%s seq=%lld",
                   s->routes[i], s->id, (long long)e.seq);
    /* Kept for replay even without routes: a client may reconnect. */
    rc = llm_session_frames_add(s, e.seq, buf, len);
out:
    free(buf);
    sh_env_free(&e);
    return rc ? rc : e.seq;
}

int llm_emit_direct(struct llm_worker *w, const char *topic, const char *session_id,
                    const char *user_id, const char *turn_id, const char *type, json_t *payload)
{
    struct sh_env e;
    int rc;

    llm_emit_flush(w);
    rc = sh_env_init(&e, type, session_id, user_id, turn_id);

    if (rc) {
        json_decref(payload);
        return rc;
    }
    json_decref(e.payload);
    e.payload = payload;
    rc = send_env(w, topic, &e, NULL, NULL, NULL);
    sh_env_free(&e);
    return rc;
}

int llm_emit_event(struct llm_worker *w, const struct llm_session *s, const char *turn_id,
                   const char *type, const char *id_base, const char *salt, json_t *payload,
                   struct llm_req *req)
{
    struct sh_env e;
    int rc;

    llm_emit_flush(w);
    rc = env_new(&e, type, s, turn_id, payload);
    if (rc)
        return rc;
    sh_uuid_derive(id_base, salt, e.id);
    rc = send_env(w, w->t_events, &e, req, NULL, NULL);
    sh_env_free(&e);
    return rc;
}

int llm_emit_context(struct llm_worker *w, const struct llm_session *s, struct llm_req *req)
{
    struct sh_env e;
    json_t *snap;
    int rc;

    llm_emit_flush(w);                  /* the snapshot must count the pending frame's seq */
    snap = llm_session_snapshot(s);

    if (!snap)
        return SH_ENOMEM;
    rc = env_new(&e, "context", s, NULL, snap);
    if (rc)
        return rc;
    rc = send_env(w, w->t_context, &e, req, NULL, NULL);
    sh_env_free(&e);
    return rc;
}

void llm_emit_replay(struct llm_worker *w, const struct llm_session *s, const char *topic,
                     int64_t after_seq)
{
    llm_emit_flush(w);
    for (size_t i = 0; i < s->n_frames; i++) {
        const struct llm_frame *f = &s->frames[i];
        if (f->seq <= after_seq)
            continue;
        if (sh_producer_send(w->producer, topic, s->id, f->data, f->len, NULL))
            sh_log(SH_LOG_WARN, "replay frame dropped", "topic=%s session=%s seq=%lld", topic,
                   s->id, (long long)f->seq);
    }
}
