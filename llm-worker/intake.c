/* The chat.requests consumer: group membership, rebalances and dispatch of
 * session_open, user_message, stop and session_close to session actors. */
#include "intake.h"
#include "restore.h"
#include "scheduler.h"
#include "turn.h"
#include "worker.h"
#include "sh_envelope.h"
#include "sh_err.h"
#include "sh_consumer.h"
#include "sh_kafka.h"
#include "sh_log.h"
#include "sh_map.h"
#include "sh_oai_client.h"
#include "sh_time.h"

#include <stdlib.h>
#include <string.h>

#define RESTORE_FLUSH_MS 5000

/* A first assignment was served: closing before it aborts (sh_consumer_close_rk). */
static bool assigned_once;

struct drop_ctx {
    struct llm_worker *w;
    int32_t partition;
    char (*ids)[SH_UUID_LEN + 1];
    size_t n, cap;
};

static void collect(void *ctx, const char *key, void *val)
{
    struct drop_ctx *d = ctx;
    struct llm_session *s = val;

    if (s->partition != d->partition)
        return;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        void *p = realloc(d->ids, cap * sizeof(*d->ids));
        if (!p)
            return;
        d->ids = p;
        d->cap = cap;
    }
    memcpy(d->ids[d->n++], key, SH_UUID_LEN + 1);
}

/* Give up every session of 'partition': its requests stay uncommitted. */
static void drop_partition(struct llm_worker *w, int32_t partition)
{
    struct drop_ctx d = {.w = w, .partition = partition};

    sh_map_each(w->sessions, collect, &d);
    for (size_t i = 0; i < d.n; i++) {
        struct llm_session *s = sh_map_del(w->sessions, d.ids[i]);
        llm_sched_forget(w, s);
        llm_turn_abandon(w, s);
        for (struct llm_pending *p = s->pending; p; p = p->next)
            llm_req_release(w, p->req);
        llm_session_destroy(s);
    }
    free(d.ids);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct llm_worker *w = opaque;
    bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        int n;
        /* Snapshots this process wrote before (say, before a broker outage revoked these
         * partitions) must be in Kafka before it reads them back. */
        if (sh_producer_flush(w->producer, RESTORE_FLUSH_MS) > 0)
            sh_log(SH_LOG_WARN, "snapshots still unsent before a restore", NULL);
        n = llm_restore_partitions(w, parts);
        for (int i = 0; i < parts->cnt; i++) {
            struct llm_part *p = llm_worker_part(w, parts->elems[i].partition);
            if (!p)
                continue;
            p->assigned = true;
            p->gen++;
            llm_offsets_free(&p->offs);
        }
        sh_log(SH_LOG_INFO, "partitions assigned", "count=%d snapshots_read=%d", parts->cnt, n);
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        assigned_once = true;
        return;
    }
    /* Revoke: commit what is finished, then hand the rest back. */
    llm_worker_commit(w, true);
    for (int i = 0; i < parts->cnt; i++) {
        struct llm_part *p = llm_worker_part(w, parts->elems[i].partition);
        drop_partition(w, parts->elems[i].partition);
        if (p) {
            p->assigned = false;
            p->gen++;
            llm_offsets_free(&p->offs);
        }
    }
    sh_log(SH_LOG_INFO, "partitions revoked", "count=%d", parts->cnt);
    if (coop)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
}

static void wake(rd_kafka_t *rk, void *opaque)
{
    (void)rk;
    sh_oai_client_wakeup(((struct llm_worker *)opaque)->llm);
}

int llm_intake_create(struct llm_worker *w)
{
    char err[512];
    rd_kafka_conf_t *conf = sh_kafka_conf(w->cfg->brokers, w->cfg->group, err, sizeof(err));
    rd_kafka_topic_partition_list_t *topics = NULL;
    rd_kafka_queue_t *q;
    int rc = SH_EKAFKA;

    if (!conf || sh_kafka_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
        sh_kafka_set(conf, "auto.offset.reset", "earliest", err, sizeof(err)) ||
        sh_kafka_set(conf, "partition.assignment.strategy", "cooperative-sticky", err,
                     sizeof(err)) ||
        /* A dead worker's partitions move within seconds, not the 45 s default. */
        sh_kafka_set(conf, "session.timeout.ms", "6000", err, sizeof(err)) ||
        sh_kafka_set(conf, "heartbeat.interval.ms", "1000", err, sizeof(err)))
        goto out;
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, w);
    w->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!w->consumer)
        goto out;
    conf = NULL; /* now owned by the consumer */
    rd_kafka_poll_set_consumer(w->consumer);
    /* Wake the curl loop when requests (or rebalances) arrive. */
    q = rd_kafka_queue_get_consumer(w->consumer);
    rd_kafka_queue_cb_event_enable(q, wake, w);
    rd_kafka_queue_destroy(q);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, w->t_requests, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(w->consumer, topics)) {
        snprintf(err, sizeof(err), "subscribe to %s failed", w->t_requests);
        goto out;
    }
    rc = SH_OK;
out:
    if (rc)
        sh_log(SH_LOG_ERROR, "kafka consumer", "err=\"%s\"", err);
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (topics)
        rd_kafka_topic_partition_list_destroy(topics);
    return rc;
}

static json_t *attached(bool ok, const char *code, int64_t next_seq)
{
    return ok ? json_pack("{s:b, s:I}", "ok", 1, "next_seq", (json_int_t)next_seq)
              : json_pack("{s:b, s:s}", "ok", 0, "code", code);
}

/* A new session: its owner is who opened it; announce it durably. */
static struct llm_session *session_new(struct llm_worker *w, const struct sh_env *e,
                                       int32_t partition, struct llm_req *req)
{
    struct llm_session *s = llm_session_create(e->session_id, e->user_id, partition);

    if (!s)
        return NULL;
    if (sh_map_set(w->sessions, s->id, s)) {
        llm_session_destroy(s);
        return NULL;
    }
    llm_emit_event(w, s, NULL, "session_start", s->id, "session_start",
                   json_pack("{s:I}", "start_ts", (json_int_t)s->created_ms), req);
    return s;
}

static void on_open(struct llm_worker *w, struct sh_env *e, int32_t partition,
                    struct llm_req *req)
{
    struct llm_session *s = sh_map_get(w->sessions, e->session_id);
    bool resume = json_is_true(json_object_get(e->payload, "resume"));
    json_t *ls = json_object_get(e->payload, "last_seq");
    int64_t last_seq = json_is_integer(ls) ? json_integer_value(ls) : -1;

    if (!e->reply_to[0])
        return;
    if (!s && resume) {
        llm_emit_direct(w, e->reply_to, e->session_id, e->user_id, NULL, "attached",
                        attached(false, "session_not_found", 0));
        return;
    }
    if (s && strcmp(s->user_id, e->user_id) != 0) {
        sh_log(SH_LOG_WARN, "resume refused", "session=%s user=%s owner=%s", e->session_id,
               e->user_id, s->user_id);
        llm_emit_direct(w, e->reply_to, e->session_id, e->user_id, NULL, "attached",
                        attached(false, "forbidden", 0));
        return;
    }
    if (!s && !(s = session_new(w, e, partition, req)))
        return;
    llm_session_route_add(s, e->reply_to);
    llm_session_route_touch(s, e->reply_to, e->ts_ms);
    llm_emit_context(w, s, req);
    llm_emit_direct(w, e->reply_to, s->id, s->user_id, NULL, "attached",
                    attached(true, NULL, s->next_seq));
    /* Without a last_seq (-1) the client has shown nothing of this turn: replay all of it.
     * A client that resumes before its first frame arrived would otherwise wait for a `done`
     * that was sent while it was away. */
    llm_emit_replay(w, s, e->reply_to, last_seq);
}

static bool same_msg(const struct sh_env *e, const char *turn_id, const char *client_id)
{
    const char *cid = json_string_value(json_object_get(e->payload, "client_id"));

    return !strcmp(e->turn_id, turn_id) || (client_id && *client_id && cid && !strcmp(cid, client_id));
}

/* True when the message is queued or running in 's' already. */
static bool in_flight(const struct llm_session *s, const char *turn_id, const char *client_id)
{
    const struct sh_env *running = s->turn ? llm_turn_env(s->turn) : NULL;

    if (running && same_msg(running, turn_id, client_id))
        return true;
    for (const struct llm_pending *p = s->pending; p; p = p->next)
        if (same_msg(&p->env, turn_id, client_id))
            return true;
    return false;
}

/* 'replayed': the state already holds this request's effect on the routes (see dispatch). */
static void on_user_message(struct llm_worker *w, struct sh_env *e, int32_t partition,
                            struct llm_req *req, bool replayed)
{
    struct llm_session *s = sh_map_get(w->sessions, e->session_id);
    const char *client_id = json_string_value(json_object_get(e->payload, "client_id"));
    struct llm_pending *p;

    if (!json_is_string(json_object_get(e->payload, "content")) || !e->turn_id[0])
        return;
    if (s && strcmp(s->user_id, e->user_id) != 0) {
        if (e->reply_to[0])
            llm_emit_direct(w, e->reply_to, e->session_id, e->user_id, e->turn_id, "error",
                            json_pack("{s:s, s:s}", "code", "forbidden", "message",
                                      "This session belongs to another user."));
        return;
    }
    /* Normally session_open came first; its snapshot may have been lost. */
    if (!s && !(s = session_new(w, e, partition, req)))
        return;
    /* Not for a replay: its route may have been closed since (and that close is not
     * applied again), so re-adding it would keep the session open for good. */
    if (e->reply_to[0] && !replayed) {
        llm_session_route_add(s, e->reply_to);
        llm_session_route_touch(s, e->reply_to, e->ts_ms);
    }
    if (llm_session_seen(s, e->turn_id, client_id) || in_flight(s, e->turn_id, client_id)) {
        /* A Kafka replay of this very turn is dropped silently; a client's
         * resend (a new turn id, same client id) is answered once, and the
         * gateway is told so it stops waiting for the new turn id. */
        bool replay = llm_session_seen(s, e->turn_id, NULL) || in_flight(s, e->turn_id, NULL);
        if (!replay && e->reply_to[0] && client_id && *client_id)
            llm_emit_direct(w, e->reply_to, e->session_id, e->user_id, e->turn_id, "duplicate",
                            json_pack("{s:s}", "id", client_id));
        return;
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return;
    p->env = *e;                             /* takes the payload */
    e->payload = NULL;
    llm_req_hold(req);
    p->req = req;
    llm_sched_enqueue(w, s, p);
}

/* A replayed session_open whose route is still there: its connection may still wait for
 * `attached` (the lost owner may have died before sending it), so answer again. */
static void reanswer_open(struct llm_worker *w, const struct llm_session *s,
                          const struct sh_env *e)
{
    json_t *ls = json_object_get(e->payload, "last_seq");

    if (strcmp(s->user_id, e->user_id) != 0)
        return;
    for (int i = 0; i < s->n_routes; i++)
        if (!strcmp(s->routes[i], e->reply_to)) {
            llm_emit_direct(w, e->reply_to, s->id, s->user_id, NULL, "attached",
                            attached(true, NULL, s->next_seq));
            llm_emit_replay(w, s, e->reply_to, json_is_integer(ls) ? json_integer_value(ls) : -1);
            return;
        }
}

static void dispatch(struct llm_worker *w, const rd_kafka_message_t *m)
{
    struct llm_req *req = llm_req_new(w, m->partition, m->offset);
    struct llm_session *s;
    struct sh_env e;
    bool replayed = false;

    if (!req)
        return;
    if (!m->payload || sh_env_decode(m->payload, m->len, &e)) {
        sh_log(SH_LOG_WARN, "bad request skipped", "partition=%d offset=%lld", (int)m->partition,
               (long long)m->offset);
        llm_req_release(w, req);
        return;
    }
    s = sh_map_get(w->sessions, e.session_id);
    if (s) {
        s->last_active_ms = sh_mono_ms();
        replayed = m->offset <= s->applied_offset;
        /* A replay (a new owner re-reading uncommitted requests) of an open or close whose
         * effect the snapshot already holds: applying it again would reopen the session
         * (a route nobody holds) or end it a second time. Messages have their own dedupe
         * (done list, running turn) and must re-run when unfinished; a replayed stop meets
         * the re-run of the turn it stopped, in request order. */
        if (replayed && (!strcmp(e.type, "session_open") || !strcmp(e.type, "session_close"))) {
            if (!strcmp(e.type, "session_open"))
                reanswer_open(w, s, &e);
            goto out;
        }
        if (m->offset > s->applied_offset)     /* replayed messages must not lower it */
            s->applied_offset = m->offset;
    }
    if (!strcmp(e.type, "user_message")) {
        on_user_message(w, &e, m->partition, req, replayed);
    } else if (!strcmp(e.type, "session_open")) {
        on_open(w, &e, m->partition, req);
    } else if (!strcmp(e.type, "stop")) {
        s = sh_map_get(w->sessions, e.session_id);
        if (s && !strcmp(s->user_id, e.user_id))
            llm_turn_stop(w, s);
    } else if (!strcmp(e.type, "session_close")) {
        s = sh_map_get(w->sessions, e.session_id);
        if (s && !strcmp(s->user_id, e.user_id)) {
            llm_session_route_close(s, e.reply_to, e.ts_ms);
            llm_emit_context(w, s, req);
        }
    } else {
        sh_log(SH_LOG_WARN, "unknown request type", "type=%s session=%s", e.type, e.session_id);
    }
    /* A session this request created: later snapshots carry the offset. */
    if ((s = sh_map_get(w->sessions, e.session_id)) && s->applied_offset < m->offset)
        s->applied_offset = m->offset;
out:
    sh_env_free(&e);
    llm_req_release(w, req);
}

int llm_intake_poll(struct llm_worker *w, int max)
{
    int n = 0;

    while (n < max) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, 0);
        if (!m)
            break;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                sh_log(SH_LOG_WARN, "consumer", "err=\"%s\"", rd_kafka_message_errstr(m));
        } else {
            dispatch(w, m);
        }
        rd_kafka_message_destroy(m);
        n++;
    }
    return n;
}

void llm_intake_destroy(struct llm_worker *w)
{
    if (!w->consumer)
        return;
    /* Revokes (sessions are dropped) and leaves the group, also mid-join. */
    sh_consumer_close_rk(w->consumer, &assigned_once, SH_CONSUMER_CLOSE_WAIT_MS);
    rd_kafka_destroy(w->consumer);
    w->consumer = NULL;
}
