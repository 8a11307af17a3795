/* Publishing from the worker: reply frames, durable events, snapshots. */
#include "worker.h"
#include "sh_envelope.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_log.h"

#include <stdlib.h>
#include <string.h>

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
    int rc = env_new(&e, type, s, turn_id, payload);

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
    int rc = sh_env_init(&e, type, session_id, user_id, turn_id);

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
    int rc = env_new(&e, type, s, turn_id, payload);

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
    json_t *snap = llm_session_snapshot(s);
    int rc;

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
    for (size_t i = 0; i < s->n_frames; i++) {
        const struct llm_frame *f = &s->frames[i];
        if (f->seq <= after_seq)
            continue;
        if (sh_producer_send(w->producer, topic, s->id, f->data, f->len, NULL))
            sh_log(SH_LOG_WARN, "replay frame dropped", "topic=%s session=%s seq=%lld", topic,
                   s->id, (long long)f->seq);
    }
}
