/* The summarizer's database side: end lookup, transcript rows, summary write. */
#include "db.h"
#include "sh_err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_END_STATE[] =
    "SELECT e.event_id, "
    "m.summary_event_key IS NOT DISTINCT FROM e.event_key AND m.summary_status IS NOT NULL, "
    "coalesce(m.end_time > timestamptz 'epoch' + $2::bigint * interval '1 millisecond', false) "
    "FROM event_log e LEFT JOIN session_metadata m ON m.session_id = e.session_id "
    "WHERE e.event_key = $1";

/* Newest first (to apply the limit), turned around in C. */
static const char SQL_ROWS[] =
    "SELECT event_type, content, meta::text FROM event_log "
    "WHERE session_id = $1 AND event_id <= $2 "
    "AND event_type IN ('user_message', 'ai_response', 'tool_call', 'tool_result') "
    "ORDER BY \"timestamp\" DESC, event_id DESC LIMIT $3";

static const char SQL_ENSURE[] =
    "INSERT INTO session_metadata (session_id, user_id, start_time) "
    "VALUES ($1, $2, timestamptz 'epoch' + $3::bigint * interval '1 millisecond') "
    "ON CONFLICT (session_id) DO NOTHING";

/* $6 end, $7 start (NULL: keep the stored start). Later ends win: a row whose end_time is
 * past this end is left alone. */
static const char SQL_WRITE[] =
    "UPDATE session_metadata m SET session_summary = $2, summary_status = $3, "
    "summary_error = $4, summary_event_key = $5, summarized_at = now(), "
    "end_time = x.e, start_time = LEAST(m.start_time, x.s), "
    "duration_seconds = GREATEST(0, round(extract(epoch FROM x.e - LEAST(m.start_time, x.s))))"
    "::integer "
    "FROM (SELECT timestamptz 'epoch' + $6::bigint * interval '1 millisecond' AS e, "
    "timestamptz 'epoch' + $7::bigint * interval '1 millisecond' AS s) AS x "
    "WHERE m.session_id = $1 AND (m.end_time IS NULL OR m.end_time <= x.e)";

static bool is_true(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}

int sum_db_end_state(struct sh_pg *pg, const char *key, int64_t end_ts_ms, int timeout_ms,
                     struct sum_end_state *st)
{
    char end[24];
    const char *vals[2] = {key, end};
    PGresult *r = NULL;
    int rc;

    memset(st, 0, sizeof(*st));
    snprintf(end, sizeof(end), "%" PRId64, end_ts_ms);
    if ((rc = sh_pg_exec(pg, SQL_END_STATE, 2, vals, timeout_ms, &r)))
        return rc;
    if (PQntuples(r) == 1) {
        st->found = true;
        st->event_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        st->done = is_true(r, 0, 1);
        st->superseded = is_true(r, 0, 2);
    }
    PQclear(r);
    return SH_OK;
}

int sum_db_rows(struct sh_pg *pg, const char *session_id, int64_t upto, int64_t limit,
                int timeout_ms, PGresult **res, struct sum_row **rows, size_t *n)
{
    char up[24], lim[24];
    const char *vals[3] = {session_id, up, lim};
    int rc, nt;

    *rows = NULL;
    *n = 0;
    snprintf(up, sizeof(up), "%" PRId64, upto);
    snprintf(lim, sizeof(lim), "%" PRId64, limit);
    if ((rc = sh_pg_exec(pg, SQL_ROWS, 3, vals, timeout_ms, res)))
        return rc;
    nt = PQntuples(*res);
    if (!(*rows = calloc(nt ? (size_t)nt : 1, sizeof(**rows))))
        return SH_ENOMEM;
    for (int i = 0; i < nt; i++) {
        struct sum_row *row = &(*rows)[nt - 1 - i];   /* back to conversation order */
        row->type = PQgetvalue(*res, i, 0);
        row->content = PQgetisnull(*res, i, 1) ? NULL : PQgetvalue(*res, i, 1);
        row->meta = PQgetisnull(*res, i, 2) ? NULL : PQgetvalue(*res, i, 2);
    }
    *n = (size_t)nt;
    return SH_OK;
}

int sum_db_write(struct sh_pg *pg, const char *session_id, const char *user_id, const char *key,
                 int64_t start_ts_ms, int64_t end_ts_ms, const struct sum_outcome *o,
                 bool ensure_row, int timeout_ms, bool *applied)
{
    char end[24], start[24];
    PGresult *r = NULL;
    int rc;

    *applied = false;
    snprintf(end, sizeof(end), "%" PRId64, end_ts_ms);
    snprintf(start, sizeof(start), "%" PRId64, start_ts_ms >= 0 ? start_ts_ms : end_ts_ms);
    if (ensure_row) {
        const char *ev[3] = {session_id, user_id, start};
        if ((rc = sh_pg_exec(pg, SQL_ENSURE, 3, ev, timeout_ms, NULL)))
            return rc;
    }
    const char *vals[7] = {session_id, o->summary, o->status, o->error, key, end,
                           start_ts_ms >= 0 ? start : NULL};
    if ((rc = sh_pg_exec(pg, SQL_WRITE, 7, vals, timeout_ms, &r)))
        return rc;
    *applied = strcmp(PQcmdTuples(r), "0") != 0;
    PQclear(r);
    return SH_OK;
}
