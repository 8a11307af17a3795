/* Batch building for the persister, free of I/O: a chat.events message value becomes a
 * row (or a poison verdict with a reason), and a batch of rows becomes the array
 * parameters of the session upsert and the event insert (see db.c).
 *
 * Row content by event type: user_message and ai_response keep the plain text of
 * payload.content, and the rest of the payload (finish_reason, interrupted, usage, ...) as
 * JSON in 'meta'; every other type (session_start, tool_call, tool_result, error,
 * session_end, types added later) keeps its whole payload as compact JSON text. */
#ifndef PST_BATCH_H
#define PST_BATCH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sh_envelope.h"
#include "sh_uuid.h"

enum pst_row_state {
    PST_ROW_OK = 0,      /* to be written */
    PST_ROW_POISON,      /* can never be written: goes to chat.dlq with 'why' */
    PST_ROW_DUP,         /* same event key as an earlier row of the batch: skipped */
};

struct pst_row {
    enum pst_row_state state;
    char why[256];                       /* reason, when POISON */
    char key[SH_UUID_LEN + 1];           /* envelope id = event_log.event_key; "" if unknown */
    char session_id[SH_UUID_LEN + 1];    /* "" if unknown */
    char user_id[SH_USER_ID_MAX + 1];
    char turn_id[SH_UUID_LEN + 1];       /* "" = NULL */
    char type[SH_ENV_TYPE_MAX];
    int64_t ts_ms;                       /* envelope ts: the row's timestamp */
    char *content;                       /* owned; NULL = SQL NULL */
    char *meta;                          /* owned JSON text; NULL = SQL NULL */
    bool is_end;                         /* a session_end event */
    int64_t end_ts_ms;                   /* session_end: payload end_ts (else envelope ts) */
    int64_t start_ts_ms;                 /* session_end: payload start_ts, -1 when absent */
};

/* Decode one message value. Returns 0 with row->state PST_ROW_OK; SH_EINVAL with
 * PST_ROW_POISON and row->why set when the event can never be written (not an envelope,
 * an id that is not a UUID, a text that holds a NUL byte...); SH_ENOMEM. Whatever it
 * returns, release the row with pst_row_free(). */
int pst_row_decode(const void *buf, size_t len, struct pst_row *row);
/* Free what the row owns and zero it. NULL-safe. */
void pst_row_free(struct pst_row *row);
/* Mark as poison after the fact (the database refused the row); 'fmt' is printf-like. */
void pst_row_poison(struct pst_row *row, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Mark every PST_ROW_OK row whose key an earlier OK row of 'rows' already has as
 * PST_ROW_DUP. Returns the number marked, or SH_ENOMEM. */
int pst_rows_dedupe(struct pst_row *const *rows, size_t n);

/* Array parameters (PostgreSQL array literals, owned) for the PST_ROW_OK rows of a batch. */
struct pst_params {
    /* session upsert, one element per distinct session (sorted by id: a fixed lock order):
     * uuid[] ids, text[] user ids, bigint[] earliest ts of the batch */
    char *s_ids, *s_users, *s_ts;
    size_t n_sessions;
    /* event insert, one element per row, in batch order: uuid[] keys, uuid[] sessions,
     * uuid[] turns, bigint[] ts, text[] types, text[] contents, text[] metas */
    char *e_keys, *e_sessions, *e_turns, *e_ts, *e_types, *e_contents, *e_metas;
    size_t n_events;
};

/* Fill 'p' from the OK rows among 'rows'. 'known' (NULL = none) maps session ids to the
 * start_time (ms since the epoch, > 0, as (void *)(uintptr_t)) a session row is known to
 * have at most: a session whose earliest event in the batch is not earlier is left out of
 * the session arrays, its upsert would change nothing. Returns 0 or SH_ENOMEM ('p' then
 * holds nothing). Free with pst_params_free(). */
struct sh_map;
int pst_params_build(struct pst_row *const *rows, size_t n, const struct sh_map *known,
                     struct pst_params *p);
/* Release the literals and zero 'p'. NULL-safe. */
void pst_params_free(struct pst_params *p);

/* A PostgreSQL array literal of 'n' text elements ('items[i]' NULL = NULL element), every
 * element double-quoted with '"' and '\' escaped, e.g. {"a","b \"c\"",NULL}. '*out' is
 * malloc'd; the caller frees it. Returns 0 or SH_ENOMEM. */
int pst_array_literal(const char *const *items, size_t n, char **out);

#endif
