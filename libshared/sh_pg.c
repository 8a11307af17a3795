/* PostgreSQL through libpq: reconnecting connection, deadline-bound parameterised
 * statements and SQLSTATE classes. */
#include "sh_pg.h"
#include "sh_err.h"
#include "sh_time.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SH_PG_CONNECT_MAX_MS 5000

struct sh_pg {
    char *url;
    char *app;
    PGconn *conn;
    char err[512];
    char state[6];
};

struct sh_pg *sh_pg_create(const char *url, const char *app)
{
    struct sh_pg *pg = calloc(1, sizeof(*pg));

    if (!pg)
        return NULL;
    pg->url = strdup(url ? url : "");
    pg->app = strdup(app ? app : "");
    if (!pg->url || !pg->app) {
        sh_pg_destroy(pg);
        return NULL;
    }
    return pg;
}

void sh_pg_destroy(struct sh_pg *pg)
{
    if (!pg)
        return;
    sh_pg_disconnect(pg);
    free(pg->url);
    free(pg->app);
    free(pg);
}

void sh_pg_disconnect(struct sh_pg *pg)
{
    if (pg && pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }
}

bool sh_pg_connected(const struct sh_pg *pg)
{
    return pg && pg->conn && PQstatus(pg->conn) == CONNECTION_OK;
}

const char *sh_pg_error(const struct sh_pg *pg)
{
    return pg ? pg->err : "";
}

const char *sh_pg_sqlstate(const struct sh_pg *pg)
{
    return pg ? pg->state : "";
}

/* Keep libpq's message on one line: it ends with a newline and may hold several lines. */
static void set_error(struct sh_pg *pg, const char *msg, const char *state)
{
    size_t n;

    snprintf(pg->err, sizeof(pg->err), "%s", msg && *msg ? msg : "unknown error");
    for (n = 0; pg->err[n]; n++)
        if (pg->err[n] == '\n' || pg->err[n] == '\r' || pg->err[n] == '"')
            pg->err[n] = pg->err[n] == '"' ? '\'' : ' ';
    while (n > 0 && pg->err[n - 1] == ' ')
        pg->err[--n] = '\0';
    snprintf(pg->state, sizeof(pg->state), "%s", state ? state : "");
}

/* The connection failed under us: remember why, drop it, report a transient error. */
static int lost(struct sh_pg *pg, const char *why)
{
    set_error(pg, why ? why : (pg->conn ? PQerrorMessage(pg->conn) : "not connected"), "");
    sh_pg_disconnect(pg);
    return SH_EIO;
}

int sh_pg_connect(struct sh_pg *pg, int timeout_ms)
{
    char tmo[16];
    int secs = (timeout_ms + 999) / 1000;

    if (sh_pg_connected(pg))
        return SH_OK;
    sh_pg_disconnect(pg);
    snprintf(tmo, sizeof(tmo), "%d", secs < 2 ? 2 : secs);
    /* Our defaults come first so that settings written in the URL win (libpq applies the
     * expanded dbname over earlier keywords). Keepalives find a vanished server on an idle
     * connection; deadlines in sh_pg_exec cover busy ones. */
    const char *const keys[] = {"connect_timeout", "application_name", "keepalives",
                                "keepalives_idle", "keepalives_interval", "keepalives_count",
                                "dbname", NULL};
    const char *const vals[] = {tmo, pg->app, "1", "10", "5", "3", pg->url, NULL};
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (!pg->conn) {
        set_error(pg, "out of memory", "");
        return SH_ENOMEM;
    }
    if (PQstatus(pg->conn) != CONNECTION_OK)
        return lost(pg, NULL);
    /* Non-blocking sends: a large batch must not stall us past the deadline. */
    if (PQsetnonblocking(pg->conn, 1) != 0)
        return lost(pg, NULL);
    return SH_OK;
}

/* Wait until the socket is ready for 'events' or the deadline passes. Returns 0 when
 * ready, SH_ETIMEDOUT, or SH_EIO. */
static int wait_sock(struct sh_pg *pg, short events, int64_t deadline)
{
    struct pollfd p = {.fd = PQsocket(pg->conn), .events = events};

    if (p.fd < 0)
        return SH_EIO;
    for (;;) {
        int64_t left = deadline - sh_mono_ms();
        int n;

        if (left <= 0)
            return SH_ETIMEDOUT;
        n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (n > 0)
            return SH_OK;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return SH_EIO;
    }
}

int sh_pg_classify(const char *state)
{
    if (!state || strlen(state) != 5)
        return SH_EIO;
    /* 08 connection, 53 resources, 57 operator intervention (shutdown, cancel),
     * 58 system I/O, 40 rollback (serialization failure, deadlock),
     * 55P03/55006 lock not available / object in use: all pass with time. */
    if (!strncmp(state, "08", 2) || !strncmp(state, "53", 2) || !strncmp(state, "57", 2) ||
        !strncmp(state, "58", 2) || !strncmp(state, "40", 2) || !strcmp(state, "55P03") ||
        !strcmp(state, "55006"))
        return SH_EIO;
    /* 22 data exception, 23 integrity constraint, 54 program limit (a value too large):
     * the row itself is the problem. */
    if (!strncmp(state, "22", 2) || !strncmp(state, "23", 2) || !strncmp(state, "54", 2))
        return SH_EINVAL;
    return SH_EPROTO;
}

bool sh_pg_transient(int rc)
{
    return rc == SH_EIO || rc == SH_ETIMEDOUT;
}

/* Record a failed result; returns its class. */
static int result_error(struct sh_pg *pg, const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);

    set_error(pg, msg ? msg : PQresultErrorMessage(r), state);
    return sh_pg_classify(state);
}

int sh_pg_exec(struct sh_pg *pg, const char *sql, int nparams, const char *const *values,
               int timeout_ms, PGresult **res)
{
    return sh_pg_exec_bin(pg, sql, nparams, values, NULL, NULL, timeout_ms, res);
}

int sh_pg_exec_bin(struct sh_pg *pg, const char *sql, int nparams, const char *const *values,
                   const int *lengths, const int *formats, int timeout_ms, PGresult **res)
{
    int64_t deadline = sh_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1);
    PGresult *keep = NULL, *r;
    int rc;

    if (res)
        *res = NULL;
    pg->err[0] = pg->state[0] = '\0';
    /* A connect gets at most a few seconds: an unreachable server must not hold a caller
     * (and its shutdown) for a whole statement deadline. */
    if ((rc = sh_pg_connect(pg, timeout_ms < SH_PG_CONNECT_MAX_MS ? timeout_ms
                                                                  : SH_PG_CONNECT_MAX_MS)))
        return rc;
    if (!PQsendQueryParams(pg->conn, sql, nparams, NULL, values, lengths, formats, 0))
        return lost(pg, NULL);
    for (;;) {
        int f = PQflush(pg->conn);
        if (f == 0)
            break;
        if (f < 0)
            return lost(pg, NULL);
        if ((rc = wait_sock(pg, POLLOUT | POLLIN, deadline)))
            goto timeout;
        if (!PQconsumeInput(pg->conn))
            return lost(pg, NULL);
    }
    for (;;) {
        while (PQisBusy(pg->conn)) {
            if ((rc = wait_sock(pg, POLLIN, deadline)))
                goto timeout;
            if (!PQconsumeInput(pg->conn)) {
                PQclear(keep);
                return lost(pg, NULL);
            }
        }
        r = PQgetResult(pg->conn);
        if (!r)
            break;
        /* Keep the first error, else the last result. */
        if (keep && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
            PQclear(r);
            continue;
        }
        PQclear(keep);
        keep = r;
    }
    if (!keep)
        return lost(pg, "no result");
    switch (PQresultStatus(keep)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
        rc = SH_OK;
        break;
    case PGRES_FATAL_ERROR:
        rc = result_error(pg, keep);
        break;
    default:
        set_error(pg, PQresStatus(PQresultStatus(keep)), "");
        rc = SH_EPROTO;
        break;
    }
    if (rc == SH_EIO && PQstatus(pg->conn) != CONNECTION_OK)
        sh_pg_disconnect(pg);
    if (rc == SH_OK && res)
        *res = keep;
    else
        PQclear(keep);
    return rc;
timeout:
    PQclear(keep);
    /* The server may still be running the statement; dropping the connection makes it
     * roll back once it notices, and the caller retries on a fresh one. */
    if (rc == SH_ETIMEDOUT) {
        set_error(pg, "statement deadline passed; connection dropped", "");
        sh_pg_disconnect(pg);
        return SH_ETIMEDOUT;
    }
    return lost(pg, NULL);
}

int sh_pg_cmd(struct sh_pg *pg, const char *sql, int timeout_ms)
{
    return sh_pg_exec(pg, sql, 0, NULL, timeout_ms, NULL);
}

int64_t sh_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms)
{
    static unsigned seed;
    int64_t d = base_ms > 0 ? base_ms : 1;

    if (!seed)
        seed = (unsigned)sh_mono_us() ^ (unsigned)getpid();
    for (int i = 0; i < attempt && d < max_ms; i++)
        d *= 2;
    if (d > max_ms)
        d = max_ms;
    if (d < 2)
        return d;
    return d / 2 + (int64_t)(rand_r(&seed) % (unsigned)(d / 2 + 1));
}
