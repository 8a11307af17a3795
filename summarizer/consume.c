/* The summarizer's loop: take session_end events as jobs, step the jobs, commit offsets. */
#include "consume.h"
#include "metrics.h"
#include "offsets.h"
#include "summarize.h"
#include "sh_consumer.h"
#include "sh_envelope.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_log.h"
#include "sh_pg.h"
#include "sh_signal.h"
#include "sh_time.h"

#include <stdlib.h>
#include <string.h>

#define POLL_BURST 500           /* messages taken per loop turn at most */
#define REPORT_EVERY_MS 30000
#define COMMIT_MAX_PARTS 512

struct sum_consumer {
    const struct sum_config *cfg;
    const char *topic;
    struct sh_consumer *kc;
    struct sh_pg *pg;
    struct sum_jobs *jobs;
    struct sum_offsets *offs;
    int64_t commit_at, rep_at;
    uint64_t events, ends, rep_ends;
    struct sum_metrics m;        /* chat_summarizer_* and readiness */
};

static void on_done(void *ctx, int32_t partition, int64_t offset)
{
    struct sum_consumer *c = ctx;

    sum_offsets_done(c->offs, partition, offset);   /* unknown after a revoke: fine */
}

/* Commit the commit points that moved ('all': every known one, synchronously). */
static void commit(struct sum_consumer *c, bool all)
{
    int32_t parts[COMMIT_MAX_PARTS];
    int64_t next[COMMIT_MAX_PARTS];
    char err[256];
    size_t n = sum_offsets_collect(c->offs, parts, next, COMMIT_MAX_PARTS, all);

    if (n && sh_consumer_commit(c->kc, parts, next, n, all, err, sizeof(err)))
        sh_log(SH_LOG_WARN, "offset commit failed (session ends will be replayed; finished "
               "summaries are skipped)", "err=\"%s\"", err);
    c->commit_at = sh_mono_ms() + c->cfg->commit_interval_ms;
}

static void on_rebalance(void *ctx, const rd_kafka_topic_partition_list_t *parts, bool assigned)
{
    struct sum_consumer *c = ctx;

    sh_log(SH_LOG_INFO, assigned ? "partitions assigned" : "partitions revoked",
           "topic=%s count=%d", c->topic, parts->cnt);
    if (assigned)
        return;
    /* What finished is committed while we still own it; the rest is the new owner's. */
    commit(c, false);
    for (int i = 0; i < parts->cnt; i++) {
        sum_jobs_drop_partition(c->jobs, parts->elems[i].partition);
        sum_offsets_forget(c->offs, parts->elems[i].partition);
    }
}

struct sum_consumer *sum_consumer_create(const struct sum_config *cfg, char *err, size_t errlen)
{
    struct sum_consumer *c = calloc(1, sizeof(*c));

    if (!c)
        goto nomem;
    c->cfg = cfg;
    c->topic = sh_topic(SH_TOPIC_EVENTS);
    if (!(c->pg = sh_pg_create(cfg->database_url, "summarizer")) ||
        !(c->offs = sum_offsets_create()))
        goto nomem;
    if (!(c->jobs = sum_jobs_create(cfg, c->pg, on_done, c))) {
        snprintf(err, errlen, "cannot create the LLM client (OPENAI_BASE_URL=\"%s\")",
                 cfg->base_url);
        goto fail;
    }
    if (!(c->kc = sh_consumer_create(cfg->brokers, cfg->group, c->topic, on_rebalance, c, err,
                                     errlen)))
        goto fail;
    c->commit_at = sh_mono_ms();
    c->rep_at = sh_mono_ms();
    if (sum_metrics_init(&c->m) == SH_OK)  /* without memory: no metrics, the work goes on */
        sum_jobs_set_metrics(c->jobs, &c->m);
    return c;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    sum_consumer_destroy(c);
    return NULL;
}

void sum_consumer_destroy(struct sum_consumer *c)
{
    if (!c)
        return;
    /* The consumer first: closing it may revoke partitions, whose hook uses the jobs. */
    sh_consumer_destroy(c->kc);
    sum_jobs_destroy(c->jobs);
    sum_offsets_destroy(c->offs);
    sh_pg_destroy(c->pg);
    sum_metrics_free(&c->m);     /* after the jobs, which point into it */
    free(c);
}

struct sum_metrics *sum_consumer_metrics(struct sum_consumer *c)
{
    return &c->m;
}

void sum_consumer_wakeup(struct sum_consumer *c)
{
    if (c)
        sum_jobs_wakeup(c->jobs);
}

/* One message: a session_end becomes a job, everything else is done at once. The offset is
 * held before the job exists, so the commit point can never pass a summary still to come. */
static void take(struct sum_consumer *c, rd_kafka_message_t *m)
{
    static const char needle[] = "\"session_end\"";
    struct sh_env e;
    bool end = false;
    int rc;

    c->events++;
    /* Most events are not ends: skip the JSON parse when the type cannot match. */
    if (m->payload && memmem(m->payload, m->len, needle, sizeof(needle) - 1) &&
        sh_env_decode(m->payload, m->len, &e) == SH_OK) {
        if (strcmp(e.type, "session_end") != 0) {
            sh_env_free(&e);
        } else if (!sh_uuid_valid(e.id)) {
            sh_log(SH_LOG_WARN, "session_end without a UUID id ignored (the persister "
                   "dead-letters it)", "partition=%d offset=%lld", (int)m->partition,
                   (long long)m->offset);
            sh_env_free(&e);
        } else {
            end = true;                 /* 'e' is freed below */
        }
    }
    rc = sum_offsets_seen(c->offs, m->partition, m->offset, end);
    if (rc)
        sh_log(SH_LOG_ERROR, "offset not tracked", "partition=%d offset=%lld err=%s%s",
               (int)m->partition, (long long)m->offset, sh_strerror(rc),
               end ? " (its session_end is not summarized)" : "");
    if (!end)
        return;
    if (!rc) {
        if (sum_jobs_add(c->jobs, &e, m->partition, m->offset) == SH_OK) {
            c->ends++;
        } else {
            sh_log(SH_LOG_ERROR, "out of memory: session_end not summarized", "session=%s end=%s",
                   e.session_id, e.id);
            sum_offsets_done(c->offs, m->partition, m->offset);
        }
    }
    sh_env_free(&e);
}

static void report(struct sum_consumer *c, bool force)
{
    struct sum_stats st;
    int64_t now = sh_mono_ms();

    if (!force && (now < c->rep_at || c->ends == c->rep_ends))
        return;
    sum_jobs_stats(c->jobs, &st);
    sh_log(SH_LOG_INFO, "progress",
           "events=%llu session_ends=%llu ok=%llu empty=%llu failed=%llu skipped=%llu "
           "llm_calls=%llu pending=%zu",
           (unsigned long long)c->events, (unsigned long long)c->ends,
           (unsigned long long)st.ok, (unsigned long long)st.empty,
           (unsigned long long)st.failed, (unsigned long long)st.skipped,
           (unsigned long long)st.llm_calls, sum_jobs_count(c->jobs));
    c->rep_ends = c->ends;
    c->rep_at = now + REPORT_EVERY_MS;
}

int sum_consumer_run(struct sum_consumer *c)
{
    int64_t deadline;

    if (sh_pg_connect(c->pg, (int)c->cfg->db_timeout_ms))
        sh_log(SH_LOG_WARN, "database not reachable yet; will retry",
               "err=\"%s\"", sh_pg_error(c->pg));
    while (!sh_stop) {
        size_t pending = sum_jobs_count(c->jobs);
        int got = 0;

        /* Readiness for the admin server, from this thread. */
        sum_metrics_probe(&c->m, sh_consumer_rk(c->kc), sh_pg_connected(c->pg));
        /* Back-pressure: held ends are memory; pause, and resume at half. */
        if (pending >= (size_t)c->cfg->max_pending && !sh_consumer_paused(c->kc))
            sh_consumer_pause(c->kc);
        else if (sh_consumer_paused(c->kc) && pending < (size_t)c->cfg->max_pending / 2 + 1)
            sh_consumer_resume(c->kc);
        while (got < POLL_BURST) {
            rd_kafka_message_t *m = sh_consumer_poll(c->kc, got == 0 && pending == 0 ? 100 : 0);
            if (!m)
                break;
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    sh_log(SH_LOG_WARN, "consumer error", "err=\"%s\"",
                           rd_kafka_message_errstr(m));
            } else {
                take(c, m);
                got++;
            }
            rd_kafka_message_destroy(m);
        }
        sum_jobs_step(c->jobs, sum_jobs_count(c->jobs) && !got ? 20 : 0);
        if (sh_mono_ms() >= c->commit_at)
            commit(c, false);
        report(c, false);
    }
    /* Stop: take nothing new; let the jobs in flight finish within the drain time. */
    deadline = sh_mono_ms() + c->cfg->drain_ms;
    if (sum_jobs_count(c->jobs))
        sh_log(SH_LOG_INFO, "draining", "jobs=%zu drain_ms=%lld", sum_jobs_count(c->jobs),
               (long long)c->cfg->drain_ms);
    while (sum_jobs_count(c->jobs) && sh_mono_ms() < deadline)
        sum_jobs_step(c->jobs, 100);
    if (sum_jobs_count(c->jobs))
        sh_log(SH_LOG_WARN, "stopping with summaries unfinished; they stay uncommitted",
               "jobs=%zu", sum_jobs_count(c->jobs));
    commit(c, true);
    report(c, true);
    return SH_OK;
}
