/* The summarizer's database side: is a session's end stored yet, its transcript rows, and
 * the summary write. Every statement is parameterised (sh_pg). */
#ifndef SUM_DB_H
#define SUM_DB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sh_pg.h"
#include "transcript.h"

/* What the database knows about one session_end event. */
struct sum_end_state {
    bool found;          /* its event_log row exists: every earlier event is stored too */
    int64_t event_id;    /* that row's event_id (the transcript ends there) */
    bool done;           /* the stored summary already answers this very event */
    bool superseded;     /* the session has a later end already: its own job summarises it */
};

/* Look up the session_end event 'key' whose end is 'end_ts_ms'. Returns 0 (see 'st'), or an
 * sh_pg code. */
int sum_db_end_state(struct sh_pg *pg, const char *key, int64_t end_ts_ms, int timeout_ms,
                     struct sum_end_state *st);

/* The latest 'limit' transcript rows (user_message, ai_response, tool_call, tool_result) of
 * 'session_id' up to and including event 'upto', in conversation order. '*rows' is malloc'd
 * and points into '*res': free both (free(), PQclear()) when done, also on error.
 * Returns 0 or an sh_pg code / SH_ENOMEM. */
int sum_db_rows(struct sh_pg *pg, const char *session_id, int64_t upto, int64_t limit,
                int timeout_ms, PGresult **res, struct sum_row **rows, size_t *n);

/* The result of one session end. */
struct sum_outcome {
    const char *status;      /* "ok", "empty" or "failed" */
    const char *summary;     /* with "ok"; NULL otherwise */
    const char *error;       /* with "failed": why; NULL otherwise */
};

/* Store the outcome for session_end 'key' of 'session_id': summary, status, error,
 * end_time = end_ts, duration_seconds = end_ts - start_time (start_ts, when >= 0, may move
 * the start back). Skipped when the session already has a later end_time (a later end's
 * summary wins). With 'ensure_row' a missing session row is created first (from 'user_id'),
 * so that a failure is recorded even when the persister never stored the session.
 * '*applied' says whether the row was updated. Returns 0 or an sh_pg code. */
int sum_db_write(struct sh_pg *pg, const char *session_id, const char *user_id, const char *key,
                 int64_t start_ts_ms, int64_t end_ts_ms, const struct sum_outcome *o,
                 bool ensure_row, int timeout_ms, bool *applied);

#endif
