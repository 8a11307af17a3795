/* The persister's loop: fill a batch from chat.events, write it in one transaction, send
 * poison to chat.dlq, then commit the offsets. The write runs on the writer thread while the
 * loop polls and decodes the next batch (one write in flight at most, so batches reach the
 * database and their offsets are committed in order). While the database is away, every
 * partition is paused and the batch is retried with backoff; nothing moves on until it is
 * written. */
#include "consume.h"
#include "batch.h"
#include "db.h"
#include "dlq.h"
#include "metrics.h"
#include "writer.h"
#include "sh_consumer.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_log.h"
#include "sh_map.h"
#include "sh_pg.h"
#include "sh_signal.h"
#include "sh_time.h"

#include <stdlib.h>
#include <string.h>

#define REPORT_EVERY_MS 10000
/* While a write is in flight, Kafka is polled in steps this long to notice its end. */
#define INFLIGHT_POLL_MS 2

/* A batch: msgs[i] decoded into rows[i]; ptrs[i] = &rows[i]. */
struct pst_batch {
    rd_kafka_message_t **msgs;
    struct pst_row *rows;
    struct pst_row **ptrs;
    size_t n;
};

/* The write in flight on the writer thread: its inputs and its outcome. */
struct pst_job {
    struct pst_consumer *c;
    struct pst_batch *b;
    int rc;
    size_t inserted;
    int64_t us;                 /* duration of pst_db_write */
    char err[512];
};

struct pst_consumer {
    const struct pst_config *cfg;
    const char *topic;
    struct sh_consumer *kc;
    struct sh_pg *pg;
    struct sh_map *known;       /* sessions already stored (pst_db_write's cache) */
    struct pst_dlq *dlq;
    /* 'cur' is being filled; 'fly' is being written (while 'flying'), then committed */
    struct pst_batch bufs[2];
    struct pst_batch *cur, *fly;
    size_t cap;
    bool flying;
    struct pst_writer *w;
    struct pst_job job;
    bool db_up;                 /* the connection's state after the last write */
    /* messages that arrived while paused, oldest first (their partitions are paused) */
    rd_kafka_message_t **stash;
    size_t n_stash, cap_stash;
    /* commit positions: next offset per partition, written and committed */
    int32_t *parts;
    int64_t *next;
    size_t n_parts, cap_parts;
    int64_t give_up_at;         /* after SIGTERM: when the batch in flight is abandoned */
    /* counters */
    uint64_t events, inserted, dups, poison, batches, retries;
    uint64_t rep_events;
    int64_t rep_at;
    struct pst_metrics m;       /* chat_persister_* and readiness */
};

static void on_rebalance(void *ctx, const rd_kafka_topic_partition_list_t *parts, bool assigned)
{
    struct pst_consumer *c = ctx;
    size_t kept = 0;

    sh_log(SH_LOG_INFO, assigned ? "partitions assigned" : "partitions revoked",
           "topic=%s count=%d", c->topic, parts->cnt);
    if (assigned)
        return;
    /* Positions of a revoked partition are the new owner's business from now on. */
    for (int j = 0; j < parts->cnt; j++)
        for (size_t i = 0; i < c->n_parts; i++)
            if (c->parts[i] == parts->elems[j].partition) {
                c->parts[i] = c->parts[c->n_parts - 1];
                c->next[i] = c->next[--c->n_parts];
                break;
            }
    /* Stashed messages of a revoked partition are the new owner's to read again. */
    for (size_t i = 0; i < c->n_stash; i++) {
        bool revoked = false;
        for (int j = 0; j < parts->cnt && !revoked; j++)
            revoked = parts->elems[j].partition == c->stash[i]->partition;
        if (revoked)
            rd_kafka_message_destroy(c->stash[i]);
        else
            c->stash[kept++] = c->stash[i];
    }
    c->n_stash = kept;
}

struct pst_consumer *pst_consumer_create(const struct pst_config *cfg, char *err, size_t errlen)
{
    struct pst_consumer *c = calloc(1, sizeof(*c));
    size_t cap = (size_t)cfg->batch_max;

    if (!c)
        goto nomem;
    c->cfg = cfg;
    c->topic = sh_topic(SH_TOPIC_EVENTS);
    c->give_up_at = -1;
    c->cap = cap;
    for (int k = 0; k < 2; k++) {
        struct pst_batch *b = &c->bufs[k];
        b->msgs = calloc(cap, sizeof(*b->msgs));
        b->rows = calloc(cap, sizeof(*b->rows));
        b->ptrs = calloc(cap, sizeof(*b->ptrs));
        if (!b->msgs || !b->rows || !b->ptrs)
            goto nomem;
        for (size_t i = 0; i < cap; i++)
            b->ptrs[i] = &b->rows[i];
    }
    c->cur = &c->bufs[0];
    c->fly = &c->bufs[1];
    if (!(c->pg = sh_pg_create(cfg->database_url, "persister")))
        goto nomem;
    if (!(c->w = pst_writer_create()))
        goto nomem;
    if (!(c->dlq = pst_dlq_create(cfg->brokers, sh_topic(SH_TOPIC_DLQ), err, errlen)))
        goto fail;
    if (!(c->kc = sh_consumer_create(cfg->brokers, cfg->group, c->topic, on_rebalance, c, err,
                                     errlen)))
        goto fail;
    c->rep_at = sh_mono_ms();
    pst_metrics_init(&c->m);    /* without memory: no metrics, the work goes on */
    return c;
nomem:
    snprintf(err, errlen, "out of memory");
fail:
    pst_consumer_destroy(c);
    return NULL;
}

struct pst_metrics *pst_consumer_metrics(struct pst_consumer *c)
{
    return &c->m;
}

void pst_consumer_destroy(struct pst_consumer *c)
{
    if (!c)
        return;
    /* Order: finish the write in flight, leave the group, flush the DLQ, then close the
     * database. */
    pst_writer_destroy(c->w);
    sh_consumer_destroy(c->kc);
    pst_dlq_destroy(c->dlq);
    pst_metrics_free(&c->m);
    sh_pg_destroy(c->pg);
    sh_map_destroy(c->known);
    for (int k = 0; k < 2; k++) {
        struct pst_batch *b = &c->bufs[k];
        for (size_t i = 0; i < b->n; i++) {
            pst_row_free(&b->rows[i]);
            rd_kafka_message_destroy(b->msgs[i]);
        }
        free(b->msgs);
        free(b->rows);
        free(b->ptrs);
    }
    for (size_t i = 0; i < c->n_stash; i++)
        rd_kafka_message_destroy(c->stash[i]);
    free(c->stash);
    free(c->parts);
    free(c->next);
    free(c);
}

/* Consumer errors are informational: librdkafka retries on its own. */
static void on_error(const rd_kafka_message_t *m)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return;
    sh_log(SH_LOG_WARN, "consumer error", "err=\"%s\"", rd_kafka_message_errstr(m));
}

/* Take 'm' into the batch (decoding it now: a poison verdict needs no database). */
static void batch_add(struct pst_batch *b, rd_kafka_message_t *m)
{
    struct pst_row *row = &b->rows[b->n];

    if (pst_row_decode(m->payload, m->len, row) == SH_ENOMEM)
        pst_row_poison(row, "out of memory while decoding");  /* retried via the DLQ path */
    b->msgs[b->n++] = m;
}

static int stash_add(struct pst_consumer *c, rd_kafka_message_t *m)
{
    if (c->n_stash == c->cap_stash) {
        size_t cap = c->cap_stash ? c->cap_stash * 2 : 64;
        void *p = realloc(c->stash, cap * sizeof(*c->stash));
        if (!p)
            return SH_ENOMEM;
        c->stash = p;
        c->cap_stash = cap;
    }
    c->stash[c->n_stash++] = m;
    return SH_OK;
}

/* Collect into 'cur': stashed messages first, then up to batch_max from Kafka, waiting at
 * most batch_wait_ms after the first one, and beyond that for as long as the write in flight
 * runs (a busy database gets bigger batches). Returns when 'cur' is full, when it is due and
 * no write is in flight, when an empty 'cur' sees the write in flight end, or after ~200 ms
 * of quiet with nothing. */
static void fill(struct pst_consumer *c)
{
    struct pst_batch *b = c->cur;
    int64_t deadline = 0;
    size_t take = 0;

    while (take < c->n_stash && b->n < c->cap)
        batch_add(b, c->stash[take++]);
    if (take) {
        memmove(c->stash, c->stash + take, (c->n_stash - take) * sizeof(*c->stash));
        c->n_stash -= take;
    }
    if (b->n)
        deadline = sh_mono_ms() + c->cfg->batch_wait_ms;
    while (b->n < c->cap && !sh_stop) {
        int timeout = 200;
        bool landed = c->flying && pst_writer_done(c->w);
        rd_kafka_message_t *m;

        if (b->n) {
            int64_t left = deadline - sh_mono_ms();
            timeout = left > 0 ? (int)left : 0;
            if (timeout == 0 && (!c->flying || landed))
                return;
        } else if (landed) {
            return;             /* commit the write's offsets now */
        }
        if (c->flying && !landed && (b->n == 0 || timeout < INFLIGHT_POLL_MS))
            timeout = INFLIGHT_POLL_MS;
        m = sh_consumer_poll(c->kc, timeout);
        if (!m) {
            if (b->n == 0 && !c->flying)
                return;
            continue;
        }
        if (m->err) {
            on_error(m);
            rd_kafka_message_destroy(m);
            continue;
        }
        batch_add(b, m);
        if (b->n == 1)
            deadline = sh_mono_ms() + c->cfg->batch_wait_ms;
    }
}

/* Sleep 'ms' while serving the group (heartbeats, rebalances); a message that still
 * arrives is stashed and its partition paused. Returns SH_ETIMEDOUT once a stop request
 * has waited longer than the drain time. */
/* Readiness for the admin server, from the loop's own thread. */
static void health(struct pst_consumer *c)
{
    /* The connection belongs to the writer thread while a write is in flight. */
    pst_metrics_probe(&c->m, sh_consumer_rk(c->kc),
                      c->flying ? c->db_up : sh_pg_connected(c->pg));
}

static int pause_and_wait(struct pst_consumer *c, int64_t ms)
{
    int64_t now = sh_mono_ms(), until = now + ms;

    if (!sh_consumer_paused(c->kc))
        sh_consumer_pause(c->kc);
    for (;;) {
        rd_kafka_message_t *m;

        now = sh_mono_ms();
        if (sh_stop && c->give_up_at < 0)
            c->give_up_at = now + c->cfg->drain_ms;
        if (c->give_up_at >= 0 && now >= c->give_up_at)
            return SH_ETIMEDOUT;
        if (c->give_up_at >= 0 && until > c->give_up_at)
            until = c->give_up_at;
        if (now >= until)
            return SH_OK;
        health(c);
        m = sh_consumer_poll(c->kc, until - now > 200 ? 200 : (int)(until - now));
        if (!m)
            continue;
        if (m->err) {
            on_error(m);
            rd_kafka_message_destroy(m);
            continue;
        }
        sh_consumer_pause_partition(c->kc, m->partition);
        if (stash_add(c, m)) {
            /* Cannot hold it: rewind the partition so it is fetched again after resume. */
            rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(l, c->topic, m->partition)->offset = m->offset;
            rd_kafka_seek_partitions(sh_consumer_rk(c->kc), l, 1000);
            rd_kafka_topic_partition_list_destroy(l);
            rd_kafka_message_destroy(m);
        }
    }
}

/* The writer thread's job: one attempt at the batch. */
static void write_job(void *arg)
{
    struct pst_job *j = arg;
    struct pst_consumer *c = j->c;
    int64_t t0 = sh_mono_us();

    j->inserted = 0;
    j->rc = pst_db_write(c->pg, j->b->ptrs, j->b->n, false, (int)c->cfg->db_timeout_ms,
                         &c->known, &j->inserted, j->err, sizeof(j->err));
    j->us = sh_mono_us() - t0;
}

/* Hand 'cur' to the writer thread (it becomes 'fly'); the next batch fills the other buffer. */
static void launch(struct pst_consumer *c)
{
    struct pst_batch *b = c->cur;

    if (pst_rows_dedupe(b->ptrs, b->n) < 0)
        sh_log(SH_LOG_WARN, "dedupe skipped (out of memory); the database dedupes", NULL);
    c->cur = c->fly;
    c->fly = b;
    c->job = (struct pst_job){.c = c, .b = b};
    c->flying = true;
    if (pst_writer_submit(c->w, write_job, &c->job))
        write_job(&c->job);     /* cannot happen: one write in flight at most */
}

/* After a first attempt that returned 'rc' (and 'err'), retry the batch in this thread
 * until the database takes it (or shutdown gives up). */
static int write_batch(struct pst_consumer *c, struct pst_batch *b, int rc, const char *err0,
                       size_t *inserted)
{
    char err[512];
    bool isolate = false;
    int attempt = 0;
    int64_t t0 = sh_mono_ms();

    snprintf(err, sizeof(err), "%s", err0);
    while (rc != SH_OK) {
        int64_t t1;

        sh_counter_inc(c->m.db_errors);
        if (rc == SH_EINVAL && !isolate) {
            sh_log(SH_LOG_WARN, "batch refused by the database; retrying row by row",
                   "events=%zu err=\"%s\"", b->n, err);
            isolate = true;
        } else {
            if (attempt == 0 || attempt % 10 == 0)
                sh_log(sh_pg_transient(rc) ? SH_LOG_WARN : SH_LOG_ERROR,
                       "database write failed; consumption paused, retrying",
                       "events=%zu attempt=%d err=\"%s\"", b->n, attempt + 1, err);
            c->retries++;
            if (pause_and_wait(c, sh_backoff_ms(attempt++, c->cfg->backoff_ms,
                                                c->cfg->backoff_max_ms)))
                return SH_ETIMEDOUT;
        }
        t1 = sh_mono_us();
        rc = pst_db_write(c->pg, b->ptrs, b->n, isolate, (int)c->cfg->db_timeout_ms, &c->known,
                          inserted, err, sizeof(err));
        sh_histogram_observe(c->m.write_seconds, (double)(sh_mono_us() - t1) / 1e6);
    }
    if (attempt)
        sh_log(SH_LOG_INFO, "database write succeeded after retries",
               "events=%zu attempts=%d waited_ms=%lld", b->n, attempt + 1,
               (long long)(sh_mono_ms() - t0));
    return SH_OK;
}

/* Send every poison row to the DLQ and wait for the acknowledgements. */
static int send_poison(struct pst_consumer *c, struct pst_batch *b)
{
    int attempt = 0;
    size_t n = 0;

    for (size_t i = 0; i < b->n; i++)
        n += b->rows[i].state == PST_ROW_POISON;
    if (!n)
        return SH_OK;
    for (;;) {
        int rc = SH_OK;
        for (size_t i = 0; i < b->n && !rc; i++)
            if (b->rows[i].state == PST_ROW_POISON)
                rc = pst_dlq_send(c->dlq, b->msgs[i], c->topic, &b->rows[i]);
        if (pst_dlq_flush(c->dlq, (int)c->cfg->dlq_timeout_ms) == SH_OK && !rc)
            break;
        sh_log(SH_LOG_WARN, "DLQ delivery failed; retrying", "events=%zu attempt=%d", n,
               attempt + 1);
        if (pause_and_wait(c, sh_backoff_ms(attempt++, c->cfg->backoff_ms,
                                            c->cfg->backoff_max_ms)))
            return SH_ETIMEDOUT;
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct pst_row *r = &b->rows[i];
        if (r->state == PST_ROW_POISON)
            sh_log(SH_LOG_ERROR, "poison event sent to the DLQ",
                   "partition=%d offset=%lld id=%s session=%s type=%s reason=\"%s\"",
                   (int)b->msgs[i]->partition, (long long)b->msgs[i]->offset,
                   r->key[0] ? r->key : "-", r->session_id[0] ? r->session_id : "-",
                   r->type[0] ? r->type : "-", r->why);
    }
    c->poison += n;
    sh_counter_add(c->m.dead_letters, n);
    return SH_OK;
}

/* The slot of 'partition' in the commit positions, added when new; -1 without memory. */
static int part_slot(struct pst_consumer *c, int32_t partition)
{
    for (size_t j = 0; j < c->n_parts; j++)
        if (c->parts[j] == partition)
            return (int)j;
    if (c->n_parts == c->cap_parts) {
        size_t cap = c->cap_parts ? c->cap_parts * 2 : 16;
        int32_t *p = malloc(cap * sizeof(*p));
        int64_t *o = malloc(cap * sizeof(*o));
        if (!p || !o) {
            free(p);
            free(o);
            return -1;
        }
        if (c->n_parts) {
            memcpy(p, c->parts, c->n_parts * sizeof(*p));
            memcpy(o, c->next, c->n_parts * sizeof(*o));
        }
        free(c->parts);
        free(c->next);
        c->parts = p;
        c->next = o;
        c->cap_parts = cap;
    }
    c->parts[c->n_parts] = partition;
    c->next[c->n_parts] = -1;
    return (int)c->n_parts++;
}

/* Advance the positions past the batch and commit the partitions it touched
 * (asynchronously: a lost commit only means a replay, which writes nothing twice). */
static void commit(struct pst_consumer *c, const struct pst_batch *b)
{
    char err[256];
    int32_t *parts = malloc((b->n + 1) * sizeof(*parts));
    int64_t *next = malloc((b->n + 1) * sizeof(*next));
    size_t np = 0;

    for (size_t i = 0; i < b->n; i++) {
        const rd_kafka_message_t *m = b->msgs[i];
        int j = part_slot(c, m->partition);
        if (j >= 0 && m->offset + 1 > c->next[j])
            c->next[j] = m->offset + 1;
    }
    if (!parts || !next)
        goto out;   /* the next batch's commit covers these partitions' positions */
    for (size_t i = 0; i < b->n; i++) {
        int j = part_slot(c, b->msgs[i]->partition);
        size_t k;
        if (j < 0)
            continue;
        for (k = 0; k < np && parts[k] != c->parts[j]; k++)
            ;
        if (k == np) {
            parts[np] = c->parts[j];
            next[np++] = c->next[j];
        }
    }
    if (sh_consumer_commit(c->kc, parts, next, np, false, err, sizeof(err)))
        sh_log(SH_LOG_WARN, "offset commit failed (the events will be replayed, not duplicated)",
               "err=\"%s\"", err);
out:
    free(parts);
    free(next);
}

static void batch_clear(struct pst_batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        pst_row_free(&b->rows[i]);
        rd_kafka_message_destroy(b->msgs[i]);
    }
    b->n = 0;
}

/* Collect the write in flight (waiting for it), retry it until it is written, dead-letter,
 * commit. Returns 0 or SH_ETIMEDOUT (shutdown gave up on it; it stays in 'fly', uncommitted). */
static int land(struct pst_consumer *c)
{
    struct pst_batch *b = c->fly;
    size_t inserted, dups;
    int rc;

    pst_writer_wait(c->w, -1);  /* each statement has its own deadline */
    c->flying = false;
    c->db_up = sh_pg_connected(c->pg);
    sh_histogram_observe(c->m.write_seconds, (double)c->job.us / 1e6);
    inserted = c->job.inserted;
    if ((rc = write_batch(c, b, c->job.rc, c->job.err, &inserted)) || (rc = send_poison(c, b)))
        return rc;
    commit(c, b);
    if (sh_consumer_paused(c->kc))
        sh_consumer_resume(c->kc);
    dups = 0;
    for (size_t i = 0; i < b->n; i++)
        dups += b->rows[i].state == PST_ROW_OK || b->rows[i].state == PST_ROW_DUP;
    dups -= inserted;
    sh_log(SH_LOG_DEBUG, "batch written", "events=%zu inserted=%zu duplicates=%zu write_ms=%lld",
           b->n, inserted, dups, (long long)(c->job.us / 1000));
    c->events += b->n;
    c->inserted += inserted;
    c->dups += dups;
    c->batches++;
    sh_counter_add(c->m.written, inserted);
    sh_counter_add(c->m.duplicates, dups);
    sh_histogram_observe(c->m.batch_size, (double)b->n);
    batch_clear(b);
    return SH_OK;
}

static void report(struct pst_consumer *c, bool force)
{
    int64_t now = sh_mono_ms(), dt = now - c->rep_at;

    if (!force && (dt < REPORT_EVERY_MS || c->events == c->rep_events))
        return;
    sh_log(SH_LOG_INFO, "progress",
           "events=%llu inserted=%llu duplicates=%llu poison=%llu batches=%llu "
           "db_retries=%llu rate=%.1f/s",
           (unsigned long long)c->events, (unsigned long long)c->inserted,
           (unsigned long long)c->dups, (unsigned long long)c->poison,
           (unsigned long long)c->batches, (unsigned long long)c->retries,
           dt > 0 ? (double)(c->events - c->rep_events) * 1000.0 / (double)dt : 0.0);
    c->rep_events = c->events;
    c->rep_at = now;
}

int pst_consumer_run(struct pst_consumer *c)
{
    char err[256];
    int rc = SH_OK;

    /* Connect early so a bad URL shows at once; failures are retried with the batch. */
    if (sh_pg_connect(c->pg, (int)c->cfg->db_timeout_ms))
        sh_log(SH_LOG_WARN, "database not reachable yet; will retry",
               "err=\"%s\"", sh_pg_error(c->pg));
    c->db_up = sh_pg_connected(c->pg);
    while (!sh_stop) {
        health(c);
        fill(c);
        /* fill() returns with a write in flight only when it is over or has to be waited
         * for (a full batch, a stop): land it first (in order), then send the next one. */
        if (c->flying && (rc = land(c)))
            break;
        if (c->cur->n)
            launch(c);
        report(c, false);
    }
    /* Stop: no new messages; the batches in flight and in hand are finished, in order. */
    if (!rc && c->flying)
        rc = land(c);
    if (!rc && c->cur->n) {
        launch(c);
        rc = land(c);
    }
    if (rc) {
        sh_log(SH_LOG_WARN, "stopping with a batch not written; it stays uncommitted",
               "events=%zu", c->fly->n + c->cur->n);
        return rc;
    }
    if (c->n_parts && sh_consumer_commit(c->kc, c->parts, c->next, c->n_parts, true, err,
                                         sizeof(err)))
        sh_log(SH_LOG_WARN, "final offset commit failed", "err=\"%s\"", err);
    report(c, true);
    return SH_OK;
}
