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
#include <stddef.h>
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
    n += llm_json_escape(t->out + n, s->id, strlen(s->id));
    memcpy(t->out + n, "\",\"user_id\":\"", 13);
    n += 13;
    n += llm_json_escape(t->out + n, s->user_id, ulen);
    hl = snprintf(head, sizeof(head), "\",\"turn_id\":\"%s\",\"seq\":%" PRId64
                  ",\"payload\":{\"content\":\"", t->turn_id, seq);
    memcpy(t->out + n, head, (size_t)hl);
    n += (size_t)hl;
    n += llm_json_escape(t->out + n, t->text, t->len);
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
    llm_jbuf_free(&w->enc);
    llm_jbuf_free(&w->body);
    free(w->tools_json);
    w->tools_json = NULL;
}

/* Hold 'len' bytes of token text for coalescing. Returns the seq it will go out with. */
static int64_t tok_hold_text(struct llm_worker *w, struct llm_session *s, const char *turn_id,
                             const char *text, size_t len)
{
    struct llm_tokbuf *t = &w->tok;

    if (t->s && (t->s != s || strcmp(t->turn_id, turn_id) != 0))
        llm_emit_flush(w);
    if (reserve(&t->text, &t->cap, t->len + len + 1))
        return SH_ENOMEM;
    if (!t->s) {
        t->s = s;
        strcpy(t->turn_id, turn_id);
        t->len = 0;
    }
    memcpy(t->text + t->len, text, len);
    t->len += len;
    if (t->len >= TOK_FLUSH_BYTES)
        llm_emit_flush(w);
    return s->next_seq;
}

/* Hold a token's content for coalescing. Returns the seq it will go out with, or a negative
 * code when 'payload' is not a plain {"content": string} (the caller then sends it as is). */
static int64_t tok_hold(struct llm_worker *w, struct llm_session *s, const char *turn_id,
                        json_t *payload)
{
    json_t *c = json_object_get(payload, "content");
    int64_t seq;

    if (json_object_size(payload) != 1 || !json_is_string(c) || !turn_id ||
        strlen(turn_id) > SH_UUID_LEN)
        return SH_EINVAL;
    seq = tok_hold_text(w, s, turn_id, json_string_value(c), json_string_length(c));
    if (seq >= 0)
        json_decref(payload);
    return seq;
}

int64_t llm_emit_token(struct llm_worker *w, struct llm_session *s, const char *turn_id,
                       const char *text, size_t len)
{
    int64_t seq;

    if (strlen(turn_id) <= SH_UUID_LEN && (seq = tok_hold_text(w, s, turn_id, text, len)) >= 0)
        return seq;
    /* Not held (no memory, odd ids): the frame goes out through jansson, as before. */
    return llm_emit_frame(w, s, turn_id, "token", json_pack("{s:s%}", "content", text, len));
}

/* Send the envelope in w->enc (of 'e') to 'topic'; 'req' (may be NULL) tracks delivery. */
static int send_enc(struct llm_worker *w, const char *topic, const struct sh_env *e,
                    struct llm_req *req)
{
    int rc;

    if (req)
        llm_req_hold(req);
    rc = sh_producer_send(w->producer, topic, e->session_id, w->enc.p, w->enc.len, req);
    if (rc) {
        sh_log(SH_LOG_ERROR, "produce failed", "topic=%s session=%s type=%s err=\"%s\"", topic,
               e->session_id, e->type, sh_strerror(rc));
        if (req) {
            req->failed = true;
            llm_req_release(w, req);
        }
    }
    return rc;
}

/* Encode 'e' (the bytes sh_env_encode() makes, in the reused w->enc) and send it. */
static int send_env(struct llm_worker *w, const char *topic, const struct sh_env *e,
                    struct llm_req *req)
{
    llm_jbuf_reset(&w->enc);
    if (llm_env_encode(&w->enc, e))
        return SH_ENOMEM;
    return send_enc(w, topic, e, req);
}

/* What sh_env_init() fills, without the empty payload it would allocate (and we would drop),
 * and with the id derived from 'id_base' + 'salt' when 'id_base' is given (events) instead of a
 * fresh uuid that would be overwritten. Takes 'payload' (NULL = {}). */
static int env_new(struct sh_env *e, const char *type, const struct llm_session *s,
                   const char *turn_id, json_t *payload, const char *id_base, const char *salt)
{
    size_t tl = strlen(type), ul = turn_id ? strlen(turn_id) : 0;

    memset(e, 0, offsetof(struct sh_env, reply_to) + 1);   /* reply_to stays "" */
    e->payload = NULL;
    if (tl >= sizeof(e->type) || ul >= sizeof(e->turn_id)) {
        json_decref(payload);
        return SH_EINVAL;
    }
    e->v = SH_ENV_VERSION;
    e->seq = -1;
    if (id_base)
        sh_uuid_derive(id_base, salt, e->id);
    else
        sh_uuid_v7(e->id);
    e->ts_ms = sh_now_ms();
    memcpy(e->type, type, tl + 1);
    memcpy(e->session_id, s->id, sizeof(e->session_id));    /* same sizes, NUL-terminated */
    memcpy(e->user_id, s->user_id, sizeof(e->user_id));
    if (ul)
        memcpy(e->turn_id, turn_id, ul + 1);
    e->payload = payload ? payload : json_object();
    return e->payload ? SH_OK : SH_ENOMEM;
}

int64_t llm_emit_frame(struct llm_worker *w, struct llm_session *s, const char *turn_id,
                       const char *type, json_t *payload)
{
    struct sh_env e;
    int64_t held;
    int rc;

    if (!strcmp(type, "token") && (held = tok_hold(w, s, turn_id, payload)) >= 0)
        return held;
    llm_emit_flush(w);                  /* frames of a session keep their order */
    rc = env_new(&e, type, s, turn_id, payload, NULL, NULL);
    if (rc)
        return rc;
    e.seq = s->next_seq++;
    llm_jbuf_reset(&w->enc);
    rc = llm_env_encode(&w->enc, &e);
    if (rc)
        goto out;
    for (int i = 0; i < s->n_routes; i++)
        if (sh_producer_send(w->producer, s->routes[i], s->id, w->enc.p, w->enc.len, NULL))
            sh_log(SH_LOG_WARN, "reply frame dropped", "topic=%s session=%s seq=%lld",
                   s->routes[i], s->id, (long long)e.seq);
    /* Kept for replay even without routes: a client may reconnect. */
    rc = llm_session_frames_add(s, e.seq, w->enc.p, w->enc.len);
out:
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
    rc = send_env(w, topic, &e, NULL);
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
    rc = env_new(&e, type, s, turn_id, payload, id_base, salt);
    if (rc)
        return rc;
    rc = send_env(w, w->t_events, &e, req);
    sh_env_free(&e);
    return rc;
}

int llm_emit_context(struct llm_worker *w, const struct llm_session *s, struct llm_req *req)
{
    struct sh_env e;
    int rc;

    llm_emit_flush(w);                  /* the snapshot must count the pending frame's seq */
    rc = sh_env_init(&e, "context", s->id, s->user_id, NULL);
    if (rc) {
        sh_env_free(&e);
        return rc;
    }
    /* Written directly: the history is kept encoded, so a snapshot copies it. */
    llm_jbuf_reset(&w->enc);
    llm_env_head(&w->enc, &e);
    llm_session_snapshot_write(s, &w->enc);
    LLM_JBUF_LIT(&w->enc, "}");
    rc = w->enc.oom ? SH_ENOMEM : send_enc(w, w->t_context, &e, req);
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
