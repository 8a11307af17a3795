/* The persister's writes: sessions, events and session ends, batched or row by row. */
#include "db.h"
#include "sh_err.h"
#include "sh_map.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parameters (batch.h) are all binary arrays; the casts in the statements give their
 * types, which must match the element types the arrays carry. */
static const int BINARY[PST_NPARAMS] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
_Static_assert(PST_NPARAMS == 10, "one format per parameter of SQL_BATCH");
_Static_assert(PST_E_KEYS == 3 && PST_S_IDS == 0, "SQL_BATCH: sessions $1-$3, events $4-$10");

/* Create missing sessions; an earlier event than the stored start moves the start back. */
#define SESSIONS_UPSERT \
    "INSERT INTO session_metadata (session_id, user_id, start_time) " \
    "SELECT s, u, timestamptz 'epoch' + t * interval '1 millisecond' " \
    "FROM unnest($1::uuid[], $2::text[], $3::int8[]) AS x(s, u, t) " \
    "ON CONFLICT (session_id) DO UPDATE SET start_time = EXCLUDED.start_time " \
    "WHERE session_metadata.start_time IS NULL " \
    "OR session_metadata.start_time > EXCLUDED.start_time"
static const char SQL_SESSIONS[] = SESSIONS_UPSERT;

/* Rows in batch order (identity values follow it); known keys are skipped. The arguments
 * are the placeholders of the seven arrays. */
#define EVENTS_INSERT(K, S, T, TS, TY, C, M) \
    "INSERT INTO event_log (event_key, session_id, turn_id, \"timestamp\", event_type, " \
    "content, meta) " \
    "SELECT k, s, t, timestamptz 'epoch' + ts * interval '1 millisecond', ty, c, m::jsonb " \
    "FROM unnest(" K "::uuid[], " S "::uuid[], " T "::uuid[], " TS "::int8[], " \
    TY "::text[], " C "::text[], " M "::text[]) WITH ORDINALITY AS x(k, s, t, ts, ty, c, m, n) " \
    "ORDER BY n " \
    "ON CONFLICT (event_key) DO NOTHING " \
    "RETURNING event_key"
static const char SQL_EVENTS[] = EVENTS_INSERT("$1", "$2", "$3", "$4", "$5", "$6", "$7");

/* Both in one statement, so one round trip and its own (implicit) transaction. The
 * foreign key checks run at the end of the statement, after the CTE created the sessions. */
static const char SQL_BATCH[] =
    "WITH sessions AS (" SESSIONS_UPSERT ") "
    EVENTS_INSERT("$4", "$5", "$6", "$7", "$8", "$9", "$10");

/* A session_end: the end only moves forward, the start only back (NULL $3 keeps it). */
static const char SQL_END[] =
    "UPDATE session_metadata SET "
    "end_time = GREATEST(end_time, timestamptz 'epoch' + $2::bigint * interval '1 millisecond'), "
    "start_time = LEAST(start_time, timestamptz 'epoch' + $3::bigint * interval '1 millisecond') "
    "WHERE session_id = $1";

/* Sessions this process has written, mapped to the latest start_time their row can have
 * ((void *)(uintptr_t) ms since the epoch): their upsert is left out of later batches.
 * It changes nothing for them but costs the server an index probe and an exclusive row
 * lock (a WAL record) per session, ~4 µs of the backend per event in practice. The caller
 * owns the map (one per database connection). Any failed write forgets it all, so the retry
 * upserts every session again (a session row deleted behind our back is then re-created
 * instead of failing the foreign key). */
#define KNOWN_MAX 100000   /* then start over: memory stays bounded, misses only cost time */

static void known_forget(struct sh_map **known)
{
    sh_map_destroy(*known);
    *known = NULL;
}

/* After a committed write: every session of 'rows' now starts no later than its rows. */
static void known_remember(struct sh_map **known, struct pst_row *const *rows, size_t n)
{
    if (*known && sh_map_len(*known) > KNOWN_MAX)
        known_forget(known);
    if (!*known && !(*known = sh_map_create()))
        return;
    for (size_t i = 0; i < n; i++) {
        const struct pst_row *r = rows[i];
        int64_t start;

        if (r->state != PST_ROW_OK || r->ts_ms <= 0)
            continue;
        start = (int64_t)(uintptr_t)sh_map_get(*known, r->session_id);
        if ((start <= 0 || start > r->ts_ms) &&
            sh_map_set(*known, r->session_id, (void *)(uintptr_t)r->ts_ms)) {
            known_forget(known);   /* out of memory: only a missed shortcut */
            return;
        }
    }
}

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
                      const struct sh_map *skip, size_t *inserted)
{
    struct pst_params p;
    PGresult *res = NULL;
    int rc;

    if ((rc = pst_params_build(rows, n, skip, &p)))
        return rc;
    if (p.n_events == 0)
        goto out;
    if ((rc = sh_pg_exec_bin(pg, SQL_SESSIONS, 3, (const char *const *)&p.val[PST_S_IDS],
                             &p.len[PST_S_IDS], BINARY, timeout_ms, NULL)))
        goto out;
    if ((rc = sh_pg_exec_bin(pg, SQL_EVENTS, 7, (const char *const *)&p.val[PST_E_KEYS],
                             &p.len[PST_E_KEYS], BINARY, timeout_ms, &res)))
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
        rc = write_rows(pg, &rows[i], 1, timeout_ms, NULL, &one);
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

/* True when some row to write is a session_end (it needs a statement of its own). */
static bool has_end(struct pst_row *const *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i]->state == PST_ROW_OK && rows[i]->is_end)
            return true;
    return false;
}

/* A batch without session ends: one statement, one round trip, no BEGIN/COMMIT. */
static int write_single(struct sh_pg *pg, struct pst_row *const *rows, size_t n,
                        int timeout_ms, const struct sh_map *known, size_t *inserted)
{
    struct pst_params p;
    PGresult *res = NULL;
    int rc;

    if ((rc = pst_params_build(rows, n, known, &p)))
        return rc;
    if (p.n_events > 0 &&
        (rc = sh_pg_exec_bin(pg, SQL_BATCH, 10, (const char *const *)p.val, p.len, BINARY,
                             timeout_ms, &res)) == SH_OK)
        *inserted = (size_t)PQntuples(res);
    PQclear(res);
    pst_params_free(&p);
    return rc;
}

/* The reason of a failed write, into 'err'. */
static void describe(struct sh_pg *pg, int rc, char *err, size_t errlen)
{
    if (sh_pg_sqlstate(pg)[0])
        snprintf(err, errlen, "%s (SQLSTATE %s)", sh_pg_error(pg), sh_pg_sqlstate(pg));
    else
        snprintf(err, errlen, "%s", rc == SH_ENOMEM ? "out of memory" : sh_pg_error(pg));
}

int pst_db_write(struct sh_pg *pg, struct pst_row *const *rows, size_t n, bool isolate,
                 int timeout_ms, struct sh_map **known, size_t *inserted, char *err,
                 size_t errlen)
{
    size_t count = 0;
    int rc;

    *inserted = 0;
    err[0] = '\0';
    if (!isolate && !has_end(rows, n)) {
        /* The common case. A failed statement rolled its implicit transaction back. */
        if ((rc = write_single(pg, rows, n, timeout_ms, *known, &count))) {
            describe(pg, rc, err, errlen);
            known_forget(known);
            return rc;
        }
        known_remember(known, rows, n);
        *inserted = count;
        return SH_OK;
    }
    if ((rc = sh_pg_cmd(pg, "BEGIN", timeout_ms))) {
        snprintf(err, errlen, "%s", sh_pg_error(pg));
        return rc;
    }
    rc = isolate ? write_isolated(pg, rows, n, timeout_ms, &count)
                 : write_rows(pg, rows, n, timeout_ms, *known, &count);
    if (rc == SH_OK)
        rc = sh_pg_cmd(pg, "COMMIT", timeout_ms);
    if (rc) {
        /* Keep the reason before ROLLBACK replaces the last error. */
        describe(pg, rc, err, errlen);
        rollback(pg, timeout_ms);
        known_forget(known);
        return rc;
    }
    known_remember(known, rows, n);
    *inserted = count;
    return SH_OK;
}
