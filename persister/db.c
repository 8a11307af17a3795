/* The persister's writes: sessions, events and session ends, batched or row by row. */
#include "db.h"
#include "sh_err.h"
#include "sh_map.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Create missing sessions; an earlier event than the stored start moves the start back. */
static const char SQL_SESSIONS[] =
    "INSERT INTO session_metadata (session_id, user_id, start_time) "
    "SELECT s, u, timestamptz 'epoch' + t * interval '1 millisecond' "
    "FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS x(s, u, t) "
    "ON CONFLICT (session_id) DO UPDATE SET start_time = EXCLUDED.start_time "
    "WHERE session_metadata.start_time IS NULL "
    "OR session_metadata.start_time > EXCLUDED.start_time";

/* Rows in batch order (identity values follow it); known keys are skipped. */
static const char SQL_EVENTS[] =
    "INSERT INTO event_log (event_key, session_id, turn_id, \"timestamp\", event_type, "
    "content, meta) "
    "SELECT k, s, t, timestamptz 'epoch' + ts * interval '1 millisecond', ty, c, m::jsonb "
    "FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::text[], $6::text[], "
    "$7::text[]) WITH ORDINALITY AS x(k, s, t, ts, ty, c, m, n) "
    "ORDER BY n "
    "ON CONFLICT (event_key) DO NOTHING "
    "RETURNING event_key";

/* A session_end: the end only moves forward, the start only back (NULL $3 keeps it). */
static const char SQL_END[] =
    "UPDATE session_metadata SET "
    "end_time = GREATEST(end_time, timestamptz 'epoch' + $2::bigint * interval '1 millisecond'), "
    "start_time = LEAST(start_time, timestamptz 'epoch' + $3::bigint * interval '1 millisecond') "
    "WHERE session_id = $1";

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Set end_time for each session_end of 'rows' whose key is in 'res' (inserted now). */
static int mark_ends(struct sh_pg *pg, struct pst_row *const *rows, size_t n,
                     const PGresult *res, int timeout_ms)
{
    struct sh_map *fresh = NULL;
    int rc = SH_OK;
    bool any = false;

    for (size_t i = 0; i < n && !any; i++)
        any = rows[i]->state == PST_ROW_OK && rows[i]->is_end;
    if (!any)
        return SH_OK;
    if (!(fresh = sh_map_create()))
        return SH_ENOMEM;
    for (int i = 0; i < PQntuples(res); i++)
        if (sh_map_set(fresh, PQgetvalue(res, i, 0), fresh)) {
            rc = SH_ENOMEM;
            goto out;
        }
    for (size_t i = 0; i < n; i++) {
        const struct pst_row *r = rows[i];
        char key[SH_UUID_LEN + 1], end[24], start[24];

        if (r->state != PST_ROW_OK || !r->is_end)
            continue;
        memcpy(key, r->key, sizeof(key));
        lower(key);   /* the server returns UUIDs in lower case */
        if (!sh_map_get(fresh, key))
            continue; /* a replay: the end was applied when the row was first written */
        snprintf(end, sizeof(end), "%" PRId64, r->end_ts_ms);
        snprintf(start, sizeof(start), "%" PRId64, r->start_ts_ms);
        const char *vals[3] = {r->session_id, end, r->start_ts_ms >= 0 ? start : NULL};
        if ((rc = sh_pg_exec(pg, SQL_END, 3, vals, timeout_ms, NULL)))
            goto out;
    }
out:
    sh_map_destroy(fresh);
    return rc;
}

/* The statements of one batch (or one row), inside the caller's transaction. */
static int write_rows(struct sh_pg *pg, struct pst_row *const *rows, size_t n, int timeout_ms,
                      size_t *inserted)
{
    struct pst_params p;
    PGresult *res = NULL;
    int rc;

    if ((rc = pst_params_build(rows, n, &p)))
        return rc;
    if (p.n_events == 0)
        goto out;
    const char *sv[3] = {p.s_ids, p.s_users, p.s_ts};
    if ((rc = sh_pg_exec(pg, SQL_SESSIONS, 3, sv, timeout_ms, NULL)))
        goto out;
    const char *ev[7] = {p.e_keys, p.e_sessions, p.e_turns, p.e_ts, p.e_types, p.e_contents,
                         p.e_metas};
    if ((rc = sh_pg_exec(pg, SQL_EVENTS, 7, ev, timeout_ms, &res)))
        goto out;
    *inserted += (size_t)PQntuples(res);
    rc = mark_ends(pg, rows, n, res, timeout_ms);
out:
    PQclear(res);
    pst_params_free(&p);
    return rc;
}

/* Leave a failed transaction; the connection may be gone already. */
static void rollback(struct sh_pg *pg, int timeout_ms)
{
    if (sh_pg_connected(pg))
        sh_pg_cmd(pg, "ROLLBACK", timeout_ms);
}

/* Row by row under savepoints: refused rows become poison, the rest is written. */
static int write_isolated(struct sh_pg *pg, struct pst_row *const *rows, size_t n,
                          int timeout_ms, size_t *inserted)
{
    int rc;

    for (size_t i = 0; i < n; i++) {
        size_t one = 0;

        if (rows[i]->state != PST_ROW_OK)
            continue;
        if ((rc = sh_pg_cmd(pg, "SAVEPOINT pst_row", timeout_ms)))
            return rc;
        rc = write_rows(pg, &rows[i], 1, timeout_ms, &one);
        if (rc == SH_EINVAL) {
            pst_row_poison(rows[i], "database refused the event: %s (SQLSTATE %s)",
                           sh_pg_error(pg), sh_pg_sqlstate(pg));
            if ((rc = sh_pg_cmd(pg, "ROLLBACK TO SAVEPOINT pst_row", timeout_ms)))
                return rc;
            continue;
        }
        if (rc)
            return rc;
        *inserted += one;
        if ((rc = sh_pg_cmd(pg, "RELEASE SAVEPOINT pst_row", timeout_ms)))
            return rc;
    }
    return SH_OK;
}

int pst_db_write(struct sh_pg *pg, struct pst_row *const *rows, size_t n, bool isolate,
                 int timeout_ms, size_t *inserted, char *err, size_t errlen)
{
    size_t count = 0;
    int rc;

    *inserted = 0;
    err[0] = '\0';
    if ((rc = sh_pg_cmd(pg, "BEGIN", timeout_ms))) {
        snprintf(err, errlen, "%s", sh_pg_error(pg));
        return rc;
    }
    rc = isolate ? write_isolated(pg, rows, n, timeout_ms, &count)
                 : write_rows(pg, rows, n, timeout_ms, &count);
    if (rc == SH_OK)
        rc = sh_pg_cmd(pg, "COMMIT", timeout_ms);
    if (rc) {
        /* Keep the reason before ROLLBACK replaces the last error. */
        if (sh_pg_sqlstate(pg)[0])
            snprintf(err, errlen, "%s (SQLSTATE %s)", sh_pg_error(pg), sh_pg_sqlstate(pg));
        else
            snprintf(err, errlen, "%s", rc == SH_ENOMEM ? "out of memory" : sh_pg_error(pg));
        rollback(pg, timeout_ms);
        return rc;
    }
    *inserted = count;
    return SH_OK;
}
