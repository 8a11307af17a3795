/* Request trackers, offset commits and the worker's event loop. */
#include "worker.h"
#include "gateways.h"
#include "intake.h"
#include "turn.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_log.h"
#include "sh_map.h"
#include "sh_oai_client.h"
#include "sh_signal.h"
#include "sh_time.h"

#include <stdlib.h>
#include <string.h>

struct llm_part *llm_worker_part(struct llm_worker *w, int32_t partition)
{
    if (partition < 0 || partition > 100000)
        return NULL;
    if (partition >= w->n_parts) {
        int n = partition + 1;
        struct llm_part *p = realloc(w->parts, (size_t)n * sizeof(*p));
        if (!p)
            return NULL;
        for (int i = w->n_parts; i < n; i++) {
            memset(&p[i], 0, sizeof(p[i]));
            llm_offsets_init(&p[i].offs);
        }
        w->parts = p;
        w->n_parts = n;
    }
    return &w->parts[partition];
}

struct llm_req *llm_req_new(struct llm_worker *w, int32_t partition, int64_t offset)
{
    struct llm_part *p = llm_worker_part(w, partition);
    struct llm_req *r;

    if (!p)
        return NULL;
    r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->partition = partition;
    r->offset = offset;
    r->gen = p->gen;
    r->refs = 1;
    if (llm_offsets_add(&p->offs, offset))
        r->failed = true;      /* untracked: never commit past it */
    return r;
}

void llm_req_hold(struct llm_req *r)
{
    r->refs++;
}

void llm_req_release(struct llm_worker *w, struct llm_req *r)
{
    struct llm_part *p;

    if (!r || --r->refs > 0)
        return;
    p = llm_worker_part(w, r->partition);
    /* A failed delivery keeps the offset pending: a restart replays it. */
    if (p && p->assigned && p->gen == r->gen && !r->failed)
        llm_offsets_done(&p->offs, r->offset);
    free(r);
}

void llm_worker_commit(struct llm_worker *w, bool sync)
{
    rd_kafka_topic_partition_list_t *list = NULL;

    for (int i = 0; i < w->n_parts; i++) {
        int64_t off;
        if (!w->parts[i].assigned)
            continue;
        off = llm_offsets_commit_point(&w->parts[i].offs);
        if (off < 0)
            continue;
        if (!list)
            list = rd_kafka_topic_partition_list_new(8);
        rd_kafka_topic_partition_list_add(list, w->t_requests, i)->offset = off;
    }
    if (!list)
        return;
    rd_kafka_commit(w->consumer, list, sync ? 0 : 1);
    rd_kafka_topic_partition_list_destroy(list);
}

/* Producer delivery report: the tracked message is in Kafka (or failed). */
void llm_worker_on_delivery(void *ctx, void *opaque, rd_kafka_resp_err_t err)
{
    struct llm_worker *w = ctx;
    struct llm_req *r = opaque;

    if (!r)
        return;
    if (err) {
        sh_log(SH_LOG_ERROR, "delivery failed", "partition=%d offset=%lld err=\"%s\"",
               (int)r->partition, (long long)r->offset, rd_kafka_err2str(err));
        r->failed = true;
    }
    llm_req_release(w, r);
}

struct sweep_ctx {
    struct llm_worker *w;
    int64_t now, mono;
};

/* Once a second: end sessions nobody holds any more, free stale replays. */
static void sweep_one(void *ctx, const char *key, void *val)
{
    struct sweep_ctx *c = ctx;
    struct llm_session *s = val;
    char salt[64];

    (void)key;
    if (s->n_frames && !s->turn &&
        c->mono - s->last_active_ms > c->w->cfg->session_idle_s * 1000)
        llm_session_frames_clear(s);
    if (!s->closed_ms || s->turn || s->pending || c->now - s->closed_ms < c->w->cfg->end_grace_ms)
        return;
    /* The id is derived from the close time: a re-run of this sweep after
     * a crash produces the same event, a later close a new one. */
    snprintf(salt, sizeof(salt), "session_end:%lld", (long long)s->closed_ms);
    llm_emit_event(c->w, s, NULL, "session_end", s->id, salt,
                   json_pack("{s:I, s:I}", "start_ts", (json_int_t)s->created_ms, "end_ts",
                             (json_int_t)s->closed_ms), NULL);
    sh_log(SH_LOG_INFO, "session ended", "session=%s user=%s", s->id, s->user_id);
    s->closed_ms = 0;
    llm_emit_context(c->w, s, NULL);
}

static void abandon_all(void *ctx, const char *key, void *val)
{
    (void)key;
    llm_turn_abandon(ctx, val);
}

/* Readiness for the admin server: Kafka answers, the consumer is in its group. */
static void probe(struct llm_worker *w)
{
    bool assigned = false;

    for (int i = 0; i < w->n_parts && !assigned; i++)
        assigned = w->parts[i].assigned;
    llm_metrics_probe(&w->m, w->consumer, assigned);
}

int llm_worker_run(struct llm_worker *w, int64_t drain_ms)
{
    int64_t stop_deadline = 0;

    while (1) {
        int n = 0;

        if (sh_stop && !stop_deadline) {
            stop_deadline = sh_mono_ms() + drain_ms;
            sh_log(SH_LOG_INFO, "stopping: finishing running turns", "running=%d", w->running);
        }
        if (stop_deadline && (w->running == 0 || sh_mono_ms() > stop_deadline))
            break;
        if (!stop_deadline)                  /* stop taking new work first */
            n = llm_intake_poll(w, 500);
        sh_producer_poll(w->producer, 0);
        llm_gateways_poll(w->gateways);      /* drops routes to dead gateways */
        /* A short wait bounds the delay if a Kafka wake-up is missed. */
        if (sh_oai_client_poll(w->llm, n ? 0 : 5) < 0)
            sh_log(SH_LOG_ERROR, "curl multi failed", NULL);
        /* Tokens that arrived together in this round leave as one frame per turn. */
        llm_emit_flush(w);
        if (sh_mono_ms() - w->last_sweep_ms >= 1000) {
            struct sweep_ctx c = {w, sh_now_ms(), sh_mono_ms()};
            sh_map_each(w->sessions, sweep_one, &c);
            w->last_sweep_ms = c.mono;
        }
        probe(w);
        if (sh_mono_ms() - w->last_commit_ms >= w->cfg->commit_interval_ms) {
            llm_worker_commit(w, false);
            w->last_commit_ms = sh_mono_ms();
        }
    }
    if (w->running)
        sh_log(SH_LOG_WARN, "drain deadline passed; unfinished turns go back to Kafka",
               "running=%d", w->running);
    sh_map_each(w->sessions, abandon_all, w);
    llm_emit_free(w);
    sh_producer_flush(w->producer, 10000);
    while (sh_producer_poll(w->producer, 0) > 0)
        ;
    llm_worker_commit(w, true);
    return SH_OK;
}
