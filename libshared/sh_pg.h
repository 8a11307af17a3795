/* PostgreSQL through libpq: one connection that reconnects on demand, parameterised
 * statements with a client-side deadline, and error classes that say what to do next.
 *
 * Return codes of sh_pg_connect()/sh_pg_exec():
 *   0             done
 *   SH_EIO        transient: the server is down, restarting, unreachable, overloaded, or
 *                 the transaction lost a serialization/deadlock race. Retry later; the
 *                 connection may have been dropped (sh_pg_exec reconnects next time).
 *   SH_ETIMEDOUT  the deadline passed; the connection was dropped. Transient as well.
 *   SH_EINVAL     the data can never be written (SQLSTATE class 22 data exception or 23
 *                 integrity constraint violation): isolate and set it aside.
 *   SH_EPROTO     any other server error (undefined table, permission denied, syntax):
 *                 not the data's fault and not cured by waiting a moment, but an operator
 *                 can fix it, so callers retry slowly rather than drop anything.
 * sh_pg_error() and sh_pg_sqlstate() describe the last failure. Library code: no logging. */
#ifndef SH_PG_H
#define SH_PG_H
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct sh_pg;

/* A handle for 'url' (a libpq URI or key=value string), not yet connected. 'app' is sent
 * as application_name. Both strings are copied. Returns NULL on allocation failure.
 * Free with sh_pg_destroy(). */
struct sh_pg *sh_pg_create(const char *url, const char *app);
/* Close the connection and free the handle. NULL-safe. */
void sh_pg_destroy(struct sh_pg *pg);

/* Connect unless connected; waits at most 'timeout_ms' (rounded up to whole seconds,
 * minimum 2, libpq's unit). Returns 0, SH_EIO or SH_ENOMEM. */
int sh_pg_connect(struct sh_pg *pg, int timeout_ms);
/* True while a connection is open and healthy as far as libpq knows. */
bool sh_pg_connected(const struct sh_pg *pg);
/* Drop the connection (the next sh_pg_exec reconnects). */
void sh_pg_disconnect(struct sh_pg *pg);

/* Run one statement with text parameters ('values[i]' NULL = SQL NULL), connecting first
 * if needed (at most 5 s for that), and wait at most 'timeout_ms' for the round trip. Values are never
 * spliced into 'sql'. On 0 and 'res' not NULL, '*res' is the result, which the caller
 * PQclear()s; otherwise '*res' is NULL. Returns one of the codes above. */
int sh_pg_exec(struct sh_pg *pg, const char *sql, int nparams, const char *const *values,
               int timeout_ms, PGresult **res);
/* sh_pg_exec() with parameters in binary format where 'formats[i]' is 1 (then 'values[i]'
 * holds 'lengths[i]' bytes in the type's binary send/receive form; the statement should
 * cast the parameter, e.g. $1::uuid[], so the server knows its type). 'lengths' and
 * 'formats' may be NULL (all text, as sh_pg_exec). Results stay in text format. */
int sh_pg_exec_bin(struct sh_pg *pg, const char *sql, int nparams, const char *const *values,
                   const int *lengths, const int *formats, int timeout_ms, PGresult **res);
/* sh_pg_exec() for statements whose result is not needed (BEGIN, COMMIT, SAVEPOINT...). */
int sh_pg_cmd(struct sh_pg *pg, const char *sql, int timeout_ms);

/* Message and SQLSTATE of the last failure ("" when none). Valid until the next call. */
const char *sh_pg_error(const struct sh_pg *pg);
const char *sh_pg_sqlstate(const struct sh_pg *pg);

/* The return code for a server error with SQLSTATE 'state' (5 characters): SH_EIO,
 * SH_EINVAL or SH_EPROTO as described above. NULL or "" counts as a lost connection. */
int sh_pg_classify(const char *state);
/* True for the codes worth retrying soon (SH_EIO, SH_ETIMEDOUT). */
bool sh_pg_transient(int rc);

/* Delay before retry number 'attempt' (0-based): base * 2^attempt capped at 'max_ms', then
 * "equal jitter" (half fixed, half random) so many clients do not retry in step. */
int64_t sh_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms);

#endif
