/* The read API's database threads: a bounded job queue, one sh_pg
 * connection per thread, the two queries of the API, and the answer queue
 * the lws thread drains after a wake-up. Only parameterised SQL. */
#include "db.h"
#include "sh_err.h"
#include "sh_log.h"
#include "sh_pg.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define STMT_TIMEOUT_MS  5000
#define CONNECT_MS       2000

/* RFC 3339 in UTC with microseconds: exact, so it also serves as a cursor. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

static const char SQL_LIST[] =
    "SELECT s.session_id::text, " TS("s.start_time") ", " TS("s.end_time") ", "
    "s.duration_seconds, s.session_summary, s.summary_status, "
    "(SELECT e.content FROM event_log e WHERE e.session_id = s.session_id "
    "AND e.event_type = 'user_message' ORDER BY e.\"timestamp\", e.event_id LIMIT 1) "
    "FROM session_metadata s "
    "WHERE s.user_id = $1 AND s.start_time IS NOT NULL "
    "AND ($2::timestamptz IS NULL OR (s.start_time, s.session_id) < ($2::timestamptz, $3::uuid)) "
    "ORDER BY s.start_time DESC, s.session_id DESC LIMIT $4::int";

static const char SQL_SESSION[] =
    "SELECT session_id::text, user_id, " TS("start_time") ", " TS("end_time") ", "
    "session_summary FROM session_metadata WHERE session_id = $1::uuid";

static const char SQL_EVENTS[] =
    "SELECT event_type, content, " TS("\"timestamp\"") ", turn_id::text, meta::text "
    "FROM event_log WHERE session_id = $1::uuid ORDER BY \"timestamp\", event_id";

struct worker {
    struct gw_db *db;
    struct sh_pg *pg;
    pthread_t thread;
    bool started;
};

struct gw_db {
    pthread_mutex_t mu;               /* guards everything below */
    pthread_cond_t cond;              /* jobs arrived or stop */
    struct gw_db_job *jobs, *jobs_tail, *done, *done_tail;
    size_t njobs, queue_max;
    bool stop;
    void (*wake)(void *arg);
    void *wake_arg;
    int nworkers;
    struct worker *workers;
};

static void push(struct gw_db_job **head, struct gw_db_job **tail, struct gw_db_job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static const char *val(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static void answer_error(struct gw_db_job *j, unsigned int status, const char *code)
{
    free(j->body);
    j->status = status;
    j->body = gw_api_error_json(code, &j->len);
}

/* Run one statement, once more at once when the connection had gone stale
 * (a restarted server): sh_pg_exec reconnects on the second call. */
static int exec(struct sh_pg *pg, const char *sql, int n, const char *const *v, PGresult **res)
{
    int rc = sh_pg_exec(pg, sql, n, v, STMT_TIMEOUT_MS, res);

    if (sh_pg_transient(rc))
        rc = sh_pg_exec(pg, sql, n, v, STMT_TIMEOUT_MS, res);
    return rc;
}

static int run_list(struct sh_pg *pg, struct gw_db_job *j)
{
    char limit[16], cursor[GW_API_CURSOR_MAX];
    const char *v[4] = {j->user_id, j->cursor_ts[0] ? j->cursor_ts : NULL,
                        j->cursor_ts[0] ? j->session_id : NULL, limit};
    struct gw_api_session_row *rows = NULL;
    PGresult *r = NULL;
    int rc, n;

    snprintf(limit, sizeof(limit), "%d", j->limit + 1);   /* one more: is there a next page? */
    rc = exec(pg, SQL_LIST, 4, v, &r);
    if (rc)
        goto out;
    n = PQntuples(r);
    rows = calloc((size_t)n + 1, sizeof(*rows));
    if (!rows) {
        rc = SH_ENOMEM;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        rows[i].session_id = val(r, i, 0);
        rows[i].start_time = val(r, i, 1);
        rows[i].end_time = val(r, i, 2);
        rows[i].duration_seconds = val(r, i, 3);
        rows[i].summary = val(r, i, 4);
        rows[i].summary_status = val(r, i, 5);
        rows[i].first_message = val(r, i, 6);
    }
    cursor[0] = '\0';
    if (n > j->limit) {
        n = j->limit;
        if (gw_api_cursor_encode(rows[n - 1].start_time, rows[n - 1].session_id, cursor,
                                 sizeof(cursor))) {
            rc = SH_EPROTO;
            goto out;
        }
    }
    j->body = gw_api_sessions_json(rows, (size_t)n, cursor[0] ? cursor : NULL, &j->len);
    j->status = 200;
    rc = j->body ? SH_OK : SH_ENOMEM;
out:
    free(rows);
    PQclear(r);
    return rc;
}

static int run_events(struct sh_pg *pg, struct gw_db_job *j)
{
    const char *v[1] = {j->session_id};
    struct gw_api_session_row s = {0};
    struct gw_api_event_row *rows = NULL;
    PGresult *rs = NULL, *re = NULL;
    int rc, n;

    rc = exec(pg, SQL_SESSION, 1, v, &rs);
    if (rc)
        goto out;
    if (PQntuples(rs) == 0) {
        answer_error(j, 404, "session_not_found");
        goto out;
    }
    s.session_id = val(rs, 0, 0);
    s.user_id = val(rs, 0, 1);
    s.start_time = val(rs, 0, 2);
    s.end_time = val(rs, 0, 3);
    s.summary = val(rs, 0, 4);
    if (!s.user_id || strcmp(s.user_id, j->user_id) != 0) {
        answer_error(j, 403, "forbidden");
        goto out;
    }
    rc = exec(pg, SQL_EVENTS, 1, v, &re);
    if (rc)
        goto out;
    n = PQntuples(re);
    rows = calloc((size_t)n + 1, sizeof(*rows));
    if (!rows) {
        rc = SH_ENOMEM;
        goto out;
    }
    for (int i = 0; i < n; i++) {
        rows[i].event_type = val(re, i, 0);
        rows[i].content = val(re, i, 1);
        rows[i].timestamp = val(re, i, 2);
        rows[i].turn_id = val(re, i, 3);
        rows[i].meta = val(re, i, 4);
    }
    j->body = gw_api_events_json(&s, rows, (size_t)n, &j->len);
    j->status = 200;
    rc = j->body ? SH_OK : SH_ENOMEM;
out:
    free(rows);
    PQclear(rs);
    PQclear(re);
    return rc;
}

/* Fill the job's answer; every failure becomes a JSON error. */
static void run_job(struct sh_pg *pg, struct gw_db_job *j)
{
    int rc = j->kind == GW_DB_LIST ? run_list(pg, j) : run_events(pg, j);

    if (rc == SH_OK && j->body)
        return;
    if (rc == SH_EINVAL && j->kind == GW_DB_LIST) {
        answer_error(j, 400, "invalid_cursor");   /* a cursor PostgreSQL rejects */
        return;
    }
    if (rc == SH_ENOMEM || (rc == SH_OK && !j->body)) {
        answer_error(j, 500, "internal_error");
        return;
    }
    sh_log(SH_LOG_WARN, "history query failed", "error=%s sqlstate=%s detail=\"%s\"",
           sh_strerror(rc), sh_pg_sqlstate(pg), sh_pg_error(pg));
    answer_error(j, 503, "history_unavailable");
}

static void *run(void *arg)
{
    struct worker *w = arg;
    struct gw_db *db = w->db;

    /* Connect early so the first request does not pay for it; failures
     * are retried by sh_pg_exec on demand. */
    sh_pg_connect(w->pg, CONNECT_MS);
    pthread_mutex_lock(&db->mu);
    while (!db->stop) {
        struct gw_db_job *j = db->jobs;
        void (*wake)(void *arg) = NULL;

        if (!j) {
            pthread_cond_wait(&db->cond, &db->mu);
            continue;
        }
        db->jobs = j->next;
        if (!db->jobs)
            db->jobs_tail = NULL;
        db->njobs--;
        pthread_mutex_unlock(&db->mu);

        run_job(w->pg, j);

        pthread_mutex_lock(&db->mu);
        if (!db->done)
            wake = db->wake;
        push(&db->done, &db->done_tail, j);
        if (wake) {
            /* Under our lock so gw_db_stop() cannot clear 'wake' midway;
             * lws_cancel_service only writes to lws's wake pipe. */
            wake(db->wake_arg);
        }
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

struct gw_db *gw_db_create(const char *url, int nthreads, size_t queue_max)
{
    struct gw_db *db = calloc(1, sizeof(*db));

    if (!db)
        return NULL;
    pthread_mutex_init(&db->mu, NULL);
    pthread_cond_init(&db->cond, NULL);
    db->queue_max = queue_max;
    db->workers = calloc((size_t)nthreads, sizeof(*db->workers));
    if (!db->workers)
        goto fail;
    db->nworkers = nthreads;
    for (int i = 0; i < nthreads; i++) {
        db->workers[i].db = db;
        db->workers[i].pg = sh_pg_create(url, "gateway");
        if (!db->workers[i].pg)
            goto fail;
    }
    return db;
fail:
    gw_db_destroy(db);
    return NULL;
}

int gw_db_start(struct gw_db *db, void (*wake)(void *arg), void *arg)
{
    sigset_t all, old;
    int rc = SH_OK;

    db->wake = wake;
    db->wake_arg = arg;
    /* Signals belong to the lws thread, which runs the shutdown. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; i < db->nworkers && rc == SH_OK; i++) {
        if (pthread_create(&db->workers[i].thread, NULL, run, &db->workers[i]) != 0)
            rc = SH_EIO;
        else
            db->workers[i].started = true;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int gw_db_submit(struct gw_db *db, struct gw_db_job *job)
{
    int rc = SH_OK;

    pthread_mutex_lock(&db->mu);
    if (db->stop)
        rc = SH_EINVAL;
    else if (db->njobs >= db->queue_max)
        rc = SH_EFULL;
    else {
        push(&db->jobs, &db->jobs_tail, job);
        db->njobs++;
        pthread_cond_signal(&db->cond);
    }
    pthread_mutex_unlock(&db->mu);
    return rc;
}

void gw_db_drain(struct gw_db *db, void (*fn)(void *ctx, struct gw_db_job *job), void *ctx)
{
    struct gw_db_job *list;

    pthread_mutex_lock(&db->mu);
    list = db->done;
    db->done = db->done_tail = NULL;
    pthread_mutex_unlock(&db->mu);
    while (list) {
        struct gw_db_job *j = list;
        list = j->next;
        j->next = NULL;
        fn(ctx, j);
    }
}

void gw_db_job_free(struct gw_db_job *job)
{
    if (!job)
        return;
    free(job->body);
    free(job);
}

void gw_db_stop(struct gw_db *db)
{
    if (!db)
        return;
    pthread_mutex_lock(&db->mu);
    db->stop = true;
    db->wake = NULL;
    pthread_cond_broadcast(&db->cond);
    pthread_mutex_unlock(&db->mu);
    for (int i = 0; i < db->nworkers; i++) {
        if (db->workers[i].started) {
            pthread_join(db->workers[i].thread, NULL);
            db->workers[i].started = false;
        }
    }
}

static void free_list(struct gw_db_job *j)
{
    while (j) {
        struct gw_db_job *next = j->next;
        gw_db_job_free(j);
        j = next;
    }
}

void gw_db_destroy(struct gw_db *db)
{
    if (!db)
        return;
    gw_db_stop(db);
    for (int i = 0; db->workers && i < db->nworkers; i++)
        sh_pg_destroy(db->workers[i].pg);
    free(db->workers);
    free_list(db->jobs);
    free_list(db->done);
    pthread_cond_destroy(&db->cond);
    pthread_mutex_destroy(&db->mu);
    free(db);
}
