/* Summary jobs: wait for the persister, read the transcript, ask the LLM, write the outcome.
 *
 * A job's life: QUEUED (over the concurrency limit) -> WAIT (probing event_log for the
 * session_end row) -> LLM (request in flight) <-> BACKOFF (retry delay) -> WRITE -> FINISHED.
 * A session without user messages skips the LLM ("empty"); one whose end never reaches the
 * database in time, or whose LLM attempts all fail, is written as "failed" with the reason. */
#include "summarize.h"
#include "db.h"
#include "metrics.h"
#include "transcript.h"
#include "sh_err.h"
#include "sh_log.h"
#include "sh_oai_client.h"
#include "sh_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUMMARY_MAX_BYTES 2000
#define PROBE_BASE_MS 100
#define PROBE_MAX_MS 1000

enum job_state { QUEUED, WAIT, LLM, BACKOFF, WRITE, FINISHED, DROPPED };

struct job {
    struct job *next;
    int32_t partition;
    int64_t offset;
    char key[SH_UUID_LEN + 1];
    char session_id[SH_UUID_LEN + 1];
    char user_id[SH_USER_ID_MAX + 1];
    int64_t start_ts, end_ts;        /* from the session_end payload; start -1 = unknown */
    enum job_state st;
    bool started;                    /* counted against the concurrency limit */
    int64_t t0, next_at;             /* monotonic ms */
    int64_t llm_t0_us;               /* the LLM request in flight, for its latency */
    struct sh_metric *m_llm;         /* where that latency goes (registry-owned) */
    int64_t waited_ms, last_probe;   /* time spent waiting for the persister */
    int probes, db_fails, llm_tries;
    char *body;                      /* the LLM request, kept for retries */
    uint64_t req_id;
    const char *status;              /* outcome: "ok", "empty", "failed" */
    char *summary, *error;
    bool ensure_row;                 /* the session may not exist in the database */
};

struct sum_jobs {
    const struct sum_config *cfg;
    struct sh_pg *pg;
    struct sh_oai_client *llm;
    sum_done_fn done;
    void *ctx;
    struct job *head, *tail;         /* arrival order */
    size_t n, active;
    struct sum_stats stats;
    struct sum_metrics *m;           /* borrowed; never NULL (no_metrics by default) */
};

static struct sum_metrics no_metrics;    /* all NULL: every update is a no-op */

static void job_free(struct job *jb)
{
    free(jb->body);
    free(jb->summary);
    free(jb->error);
    free(jb);
}

struct sum_jobs *sum_jobs_create(const struct sum_config *cfg, struct sh_pg *pg,
                                 sum_done_fn done, void *ctx)
{
    struct sum_jobs *j = calloc(1, sizeof(*j));
    struct sh_oai_client_conf oc = {
        .base_url = cfg->base_url,
        .api_key = cfg->api_key,
        .timeout_ms = (long)cfg->llm_timeout_ms,
        .idle_timeout_ms = (long)cfg->llm_timeout_ms,
        .max_retries = (int)cfg->llm_retries,
        .backoff_base_ms = 500,
        .max_transfers = (int)cfg->concurrency,
    };

    if (!j)
        return NULL;
    j->cfg = cfg;
    j->pg = pg;
    j->done = done;
    j->ctx = ctx;
    j->m = &no_metrics;
    if (!(j->llm = sh_oai_client_create(&oc))) {
        free(j);
        return NULL;
    }
    return j;
}

void sum_jobs_set_metrics(struct sum_jobs *j, struct sum_metrics *m)
{
    j->m = m ? m : &no_metrics;
}

void sum_jobs_destroy(struct sum_jobs *j)
{
    if (!j)
        return;
    /* Cancels what is in flight; the callbacks still see valid jobs. */
    sh_oai_client_destroy(j->llm);
    while (j->head) {
        struct job *jb = j->head;
        j->head = jb->next;
        job_free(jb);
    }
    free(j);
}

int sum_jobs_add(struct sum_jobs *j, const struct sh_env *e, int32_t partition, int64_t offset)
{
    struct job *jb = calloc(1, sizeof(*jb));
    json_t *v;

    if (!jb)
        return SH_ENOMEM;
    jb->partition = partition;
    jb->offset = offset;
    memcpy(jb->key, e->id, sizeof(jb->key));
    memcpy(jb->session_id, e->session_id, sizeof(jb->session_id));
    memcpy(jb->user_id, e->user_id, sizeof(jb->user_id));
    v = json_object_get(e->payload, "end_ts");
    jb->end_ts = json_is_integer(v) ? (int64_t)json_integer_value(v) : e->ts_ms;
    v = json_object_get(e->payload, "start_ts");
    jb->start_ts = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
    jb->st = QUEUED;
    if (j->tail)
        j->tail->next = jb;
    else
        j->head = jb;
    j->tail = jb;
    j->n++;
    return SH_OK;
}

static void set_error(struct job *jb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct job *jb, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    free(jb->error);
    jb->error = strdup(buf);
}

/* Decide the outcome and move on to writing it. */
static void outcome(struct job *jb, const char *status, int64_t now)
{
    jb->status = status;
    jb->st = WRITE;
    jb->next_at = now;
}

/* A database call failed: try again later (the job keeps its state). */
static void db_retry(struct sum_jobs *j, struct job *jb, int rc, const char *what, int64_t now)
{
    if (jb->db_fails == 0 || jb->db_fails % 10 == 0)
        sh_log(sh_pg_transient(rc) ? SH_LOG_WARN : SH_LOG_ERROR, "database call failed; retrying",
               "session=%s step=%s attempt=%d err=\"%s\"", jb->session_id, what,
               jb->db_fails + 1, sh_pg_error(j->pg));
    jb->next_at = now + sh_backoff_ms(jb->db_fails++, j->cfg->backoff_ms, j->cfg->backoff_max_ms);
}

static void on_llm_done(void *user, const struct sh_oai_result *res);

static void start_llm(struct sum_jobs *j, struct job *jb, int64_t now)
{
    static const struct sh_oai_callbacks cb = {.on_done = on_llm_done};
    int rc;

    jb->llm_tries++;
    j->stats.llm_calls++;
    jb->st = LLM;
    jb->llm_t0_us = sh_mono_us();
    jb->m_llm = j->m->llm_seconds;
    rc = sh_oai_client_start(j->llm, jb->body, &cb, jb, &jb->req_id);
    if (rc) {
        set_error(jb, "llm request could not start: %s", sh_strerror(rc));
        outcome(jb, "failed", now);
    }
}

/* Read the transcript and either write "empty" or start the LLM. */
static void prepare(struct sum_jobs *j, struct job *jb, int64_t upto, int64_t now)
{
    PGresult *res = NULL;
    struct sum_row *rows = NULL;
    struct sum_transcript t;
    size_t n = 0;
    int rc;

    memset(&t, 0, sizeof(t));
    rc = sum_db_rows(j->pg, jb->session_id, upto, j->cfg->max_rows, (int)j->cfg->db_timeout_ms,
                     &res, &rows, &n);
    if (rc) {
        db_retry(j, jb, rc, "transcript", now);
        goto out;
    }
    if ((rc = sum_transcript_build(rows, n, (size_t)j->cfg->max_transcript, &t)))
        goto nomem;
    if (t.n_user == 0) {
        outcome(jb, "empty", now);
        goto out;
    }
    if ((rc = sum_request_body(j->cfg->model, j->cfg->system_prompt, &t,
                               (int)j->cfg->max_tokens, &jb->body)))
        goto nomem;
    sh_log(SH_LOG_DEBUG, "asking the LLM", "session=%s rows=%zu lines=%d omitted=%d bytes=%zu",
           jb->session_id, n, t.n_lines, t.n_omitted, t.len);
    start_llm(j, jb, now);
    goto out;
nomem:
    jb->next_at = now + j->cfg->backoff_ms;   /* memory pressure passes; try again */
out:
    sum_transcript_free(&t);
    free(rows);
    PQclear(res);
}

/* Is the session_end stored yet? Then prepare; else wait (bounded) for the persister. */
static void probe(struct sum_jobs *j, struct job *jb, int64_t now)
{
    struct sum_end_state es;
    int rc = sum_db_end_state(j->pg, jb->key, jb->end_ts, (int)j->cfg->db_timeout_ms, &es);

    if (rc) {
        jb->last_probe = now;   /* an outage does not count against the persister */
        db_retry(j, jb, rc, "end lookup", now);
        return;
    }
    jb->db_fails = 0;
    if (!es.found) {
        /* Only time with a working database counts: an outage delays both services. */
        jb->waited_ms += now - jb->last_probe;
        jb->last_probe = now;
        if (jb->waited_ms >= j->cfg->persist_wait_ms) {
            set_error(jb, "session_end not stored by the persister within %lld ms",
                      (long long)j->cfg->persist_wait_ms);
            jb->ensure_row = true;
            outcome(jb, "failed", now);
            return;
        }
        jb->next_at = now + sh_backoff_ms(jb->probes++, PROBE_BASE_MS, PROBE_MAX_MS);
        return;
    }
    if (es.done || es.superseded) {
        sh_log(SH_LOG_INFO, "summary not needed", "session=%s end=%s reason=%s", jb->session_id,
               jb->key, es.done ? "already_written" : "superseded_by_later_end");
        j->stats.skipped++;
        jb->st = FINISHED;
        return;
    }
    prepare(j, jb, es.event_id, now);
}

static bool retryable(enum sh_oai_class c)
{
    return c != SH_OAI_OK && c != SH_OAI_CANCELLED && c != SH_OAI_QUOTA &&
           c != SH_OAI_HTTP_4XX;
}

static void on_llm_done(void *user, const struct sh_oai_result *res)
{
    struct job *jb = user;
    int64_t now = sh_mono_ms();

    if (jb->st == DROPPED || res->cls == SH_OAI_CANCELLED) {
        jb->st = DROPPED;
        return;
    }
    sh_histogram_observe(jb->m_llm, (double)(sh_mono_us() - jb->llm_t0_us) / 1e6);
    if (res->ok) {
        free(jb->summary);
        jb->summary = sum_summary_clean(res->content, res->content_len, SUMMARY_MAX_BYTES);
        if (jb->summary) {
            outcome(jb, "ok", now);
            return;
        }
        set_error(jb, "llm answered with an empty summary");
    } else {
        set_error(jb, "llm %s%s%s (http %ld, %d attempt(s)): %s", sh_oai_class_name(res->cls),
                  res->cause != res->cls ? ", last: " : "",
                  res->cause != res->cls ? sh_oai_class_name(res->cause) : "",
                  res->http_status, res->attempts,
                  res->error_message && *res->error_message ? res->error_message
                  : res->detail && *res->detail ? res->detail : "no detail");
    }
    /* BACKOFF's delay is set by the step loop, which knows the configuration. */
    jb->st = res->ok || retryable(res->cls) ? BACKOFF : WRITE;
    jb->status = "failed";
    jb->next_at = -1;
}

/* Store the outcome. */
static void write_outcome(struct sum_jobs *j, struct job *jb, int64_t now)
{
    struct sum_outcome o = {jb->status, !strcmp(jb->status, "ok") ? jb->summary : NULL,
                            !strcmp(jb->status, "failed") ? jb->error : NULL};
    bool applied = false;
    int rc = sum_db_write(j->pg, jb->session_id, jb->user_id, jb->key, jb->start_ts, jb->end_ts,
                          &o, jb->ensure_row, (int)j->cfg->db_timeout_ms, &applied);

    if (rc == SH_EINVAL && !strcmp(jb->status, "ok")) {
        /* The database refused the summary text itself: record that instead. */
        set_error(jb, "summary could not be stored: %s", sh_pg_error(j->pg));
        jb->status = "failed";
        jb->next_at = now;
        return;
    }
    if (rc == SH_EINVAL) {
        sh_log(SH_LOG_ERROR, "summary outcome could not be stored; giving up", "session=%s "
               "end=%s status=%s err=\"%s\"", jb->session_id, jb->key, jb->status,
               sh_pg_error(j->pg));
        j->stats.failed++;
        sh_counter_inc(sh_metric_child(j->m->summaries, "failed"));
        jb->st = FINISHED;
        return;
    }
    if (rc) {
        db_retry(j, jb, rc, "write", now);
        return;
    }
    if (!strcmp(jb->status, "ok"))
        j->stats.ok++;
    else if (!strcmp(jb->status, "empty"))
        j->stats.empty++;
    else
        j->stats.failed++;
    sh_counter_inc(sh_metric_child(j->m->summaries, jb->status));
    sh_log(!strcmp(jb->status, "failed") ? SH_LOG_ERROR : SH_LOG_INFO,
           !strcmp(jb->status, "failed") ? "session summary failed" : "session summarized",
           "session=%s end=%s status=%s applied=%s llm_calls=%d ms=%lld%s%s%s", jb->session_id,
           jb->key, jb->status, applied ? "yes" : "no_later_end", jb->llm_tries,
           (long long)(now - jb->t0), jb->error && !strcmp(jb->status, "failed") ? " err=\"" : "",
           jb->error && !strcmp(jb->status, "failed") ? jb->error : "",
           jb->error && !strcmp(jb->status, "failed") ? "\"" : "");
    jb->st = FINISHED;
}

/* One job, if its time has come. */
static void advance(struct sum_jobs *j, struct job *jb, int64_t now)
{
    if (jb->st == BACKOFF && jb->next_at < 0) {
        if (jb->llm_tries >= j->cfg->llm_attempts) {
            sh_log(SH_LOG_WARN, "llm attempts exhausted", "session=%s attempts=%d err=\"%s\"",
                   jb->session_id, jb->llm_tries, jb->error ? jb->error : "");
            outcome(jb, "failed", now);
        } else {
            jb->next_at = now + sh_backoff_ms(jb->llm_tries - 1, j->cfg->backoff_ms,
                                              j->cfg->backoff_max_ms);
            sh_log(SH_LOG_WARN, "llm attempt failed; retrying", "session=%s attempt=%d "
                   "delay_ms=%lld err=\"%s\"", jb->session_id, jb->llm_tries,
                   (long long)(jb->next_at - now), jb->error ? jb->error : "");
            return;
        }
    }
    if (jb->st == WRITE && jb->next_at < 0)
        jb->next_at = now;
    if (jb->next_at > now)
        return;
    switch (jb->st) {
    case WAIT:
        probe(j, jb, now);
        break;
    case BACKOFF:
        start_llm(j, jb, now);
        break;
    case WRITE:
        write_outcome(j, jb, now);
        break;
    default:
        break;
    }
}

int sum_jobs_step(struct sum_jobs *j, int timeout_ms)
{
    int64_t now = sh_mono_ms(), soonest = now + timeout_ms;
    struct job **pp;
    int finished = 0;

    for (struct job *jb = j->head; jb; jb = jb->next) {
        if (!jb->started && jb->st == QUEUED && j->active < (size_t)j->cfg->concurrency) {
            jb->started = true;
            j->active++;
            jb->st = WAIT;
            jb->t0 = jb->last_probe = jb->next_at = now;
        }
        if (jb->started)
            advance(j, jb, sh_mono_ms());
        if (jb->started && jb->st != LLM && jb->st < FINISHED && jb->next_at < soonest)
            soonest = jb->next_at;
    }
    now = sh_mono_ms();
    sh_oai_client_poll(j->llm, soonest > now ? (int)(soonest - now) : 0);
    /* Reap. */
    for (pp = &j->head; *pp;) {
        struct job *jb = *pp;
        if (jb->st != FINISHED && jb->st != DROPPED) {
            j->tail = jb;
            pp = &jb->next;
            continue;
        }
        *pp = jb->next;
        if (jb->started)
            j->active--;
        j->n--;
        if (jb->st == FINISHED) {
            finished++;
            if (j->done)
                j->done(j->ctx, jb->partition, jb->offset);
        }
        job_free(jb);
    }
    if (!j->head)
        j->tail = NULL;
    return finished;
}

void sum_jobs_drop_partition(struct sum_jobs *j, int32_t partition)
{
    for (struct job *jb = j->head; jb; jb = jb->next) {
        if (jb->partition != partition || jb->st == WRITE || jb->st >= FINISHED)
            continue;
        if (jb->st == LLM)
            sh_oai_client_cancel(j->llm, jb->req_id);   /* its callback marks it DROPPED */
        jb->st = DROPPED;
    }
}

size_t sum_jobs_count(const struct sum_jobs *j)
{
    return j->n;
}

void sum_jobs_wakeup(struct sum_jobs *j)
{
    if (j)
        sh_oai_client_wakeup(j->llm);
}

void sum_jobs_stats(const struct sum_jobs *j, struct sum_stats *out)
{
    *out = j->stats;
}
