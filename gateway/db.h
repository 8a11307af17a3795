/* The read API's database side: a bounded job queue served by a small pool
 * of threads, each with its own sh_pg connection (reconnected on failure);
 * finished jobs go back to the lws thread through a mutex-protected queue
 * and a wake call (lws_cancel_service). */
#ifndef GW_DB_H
#define GW_DB_H
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "sh_envelope.h"

enum gw_db_kind { GW_DB_LIST, GW_DB_EVENTS };

/* One request for the database and, once done, its answer. */
struct gw_db_job {
    struct gw_db_job *next;
    uint64_t req_id;                        /* the lws side's request id */
    enum gw_db_kind kind;
    int limit;                              /* LIST: page size */
    char user_id[SH_USER_ID_MAX + 1];       /* the caller */
    char session_id[SH_UUID_LEN + 1];       /* EVENTS: the session; LIST: cursor's, or "" */
    char cursor_ts[GW_API_TS_LEN + 1];      /* LIST: cursor's start_time, "" = first page */
    /* the answer, set by the database thread */
    unsigned int status;                    /* HTTP status */
    char *body;                             /* malloc'd JSON, owned by the job */
    size_t len;
};

struct gw_db;

/* A pool of 'nthreads' connections to 'url' taking at most 'queue_max'
 * waiting jobs. Starts nothing. Returns NULL when out of memory. Free with
 * gw_db_destroy(). */
struct gw_db *gw_db_create(const char *url, int nthreads, size_t queue_max);
/* Start the threads; 'wake(arg)' is called from them (thread-safe, e.g.
 * lws_cancel_service) when the answer queue becomes non-empty. Returns 0 or
 * SH_EIO. */
int gw_db_start(struct gw_db *db, void (*wake)(void *arg), void *arg);
/* Queue 'job' (malloc'd). On 0 the pool owns it until it comes back
 * through gw_db_drain(); SH_EFULL (queue full) or SH_EINVAL (stopped)
 * leave it with the caller. */
int gw_db_submit(struct gw_db *db, struct gw_db_job *job);
/* In the lws thread: hand every answered job to 'fn', which owns it from
 * then on (frees body and job). */
void gw_db_drain(struct gw_db *db, void (*fn)(void *ctx, struct gw_db_job *job), void *ctx);
/* Free a job and its answer. NULL-safe. */
void gw_db_job_free(struct gw_db_job *job);
/* Stop and join the threads; no wake-ups after it returns. Idempotent. */
void gw_db_stop(struct gw_db *db);
/* Stop, close the connections and free queued jobs. NULL-safe. */
void gw_db_destroy(struct gw_db *db);

#endif
