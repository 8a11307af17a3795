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

/* The array parameters of a batch, in PostgreSQL's binary array format (parameter format 1,
 * see array_recv): header (ndim, has-null flag, element type OID, then length and lower
 * bound 1 per dimension), then per element a 4-byte length (-1 = NULL) and the element's
 * binary form: uuid 16 bytes, int8 8 bytes big-endian, text its bytes. All integers are
 * big-endian. The server then skips parsing and unescaping text array literals, and we
 * skip building them. An empty array is ndim 0 with no dimension fields. */
enum pst_param {
    /* session upsert, one element per distinct session (sorted by id: a fixed lock order) */
    PST_S_IDS,        /* uuid[] session ids */
    PST_S_USERS,      /* text[] their first user id */
    PST_S_TS,         /* int8[] earliest ts of the batch, ms since the epoch */
    /* event insert, one element per row, in batch order */
    PST_E_KEYS,       /* uuid[] event keys */
    PST_E_SESSIONS,   /* uuid[] */
    PST_E_TURNS,      /* uuid[], NULL elements for no turn */
    PST_E_TS,         /* int8[] */
    PST_E_TYPES,      /* text[] */
    PST_E_CONTENTS,   /* text[] */
    PST_E_METAS,      /* text[] (JSON text, cast to jsonb by the statement) */
    PST_NPARAMS
};

#define PST_OID_INT8 20
#define PST_OID_TEXT 25
#define PST_OID_UUID 2950

struct pst_params {
    char *val[PST_NPARAMS];   /* owned binary arrays */
    int len[PST_NPARAMS];     /* their lengths in bytes */
    size_t n_sessions;
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
/* Release the arrays and zero 'p'. NULL-safe. */
void pst_params_free(struct pst_params *p);

#endif
