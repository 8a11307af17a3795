/* The persister's writes: one transaction per batch (or per row, to isolate poison). */
#ifndef PST_DB_H
#define PST_DB_H
#include <stdbool.h>
#include <stddef.h>

#include "batch.h"
#include "sh_pg.h"

/* Write the PST_ROW_OK rows of 'rows' in one transaction on 'pg': upsert their sessions
 * (created if missing, start_time lowered to the earliest event), insert the events (an
 * event_key already stored is skipped: replays write nothing twice), and for every
 * session_end actually inserted set end_time and lower start_time to its start_ts.
 *
 * With 'isolate' every row runs under its own savepoint: a row the database refuses with
 * a data error is marked PST_ROW_POISON (reason = the server's message and SQLSTATE) and
 * the others are committed. Without it, the first data error aborts the transaction.
 *
 * A batch without a session_end (and not isolated) is one statement in its own implicit
 * transaction. Sessions written by an earlier successful call, with a start no later than
 * this batch's rows, are not upserted again: '*known' is that cache, owned by the caller
 * (NULL to start; created, grown and dropped on any failure here; sh_map_destroy() it).
 *
 * 'timeout_ms' bounds each statement. On failure 'err' gets a one-line reason.
 * Returns 0 with '*inserted' = rows new to the table,
 * or an sh_pg code (sh_pg.h) after rolling back: SH_EIO / SH_ETIMEDOUT (retry),
 * SH_EINVAL (only without 'isolate': retry isolated), SH_EPROTO (schema or permissions),
 * SH_ENOMEM. */
int pst_db_write(struct sh_pg *pg, struct pst_row *const *rows, size_t n, bool isolate,
                 int timeout_ms, struct sh_map **known, size_t *inserted, char *err,
                 size_t errlen);

#endif
