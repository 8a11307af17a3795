/* The history read API on the gateway port: GET /api/sessions and
 * GET /api/sessions/{uuid}/events. The pure parts (routing, cursors, JSON
 * bodies) and the lws side: requests become jobs for the database threads
 * (db.c), and the answers are written from LWS_CALLBACK_HTTP_WRITEABLE. */
#ifndef GW_API_H
#define GW_API_H
#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "sh_uuid.h"

#define GW_API_TS_LEN     27    /* "2025-01-02T03:04:05.123456Z" */
#define GW_API_CURSOR_MAX 128   /* longest cursor accepted (encoded ones are 86) */

enum gw_api_route {
    GW_API_NOT_FOUND,           /* not an API path */
    GW_API_LIST,                /* /api/sessions */
    GW_API_EVENTS,              /* /api/sessions/{uuid}/events */
    GW_API_BAD_UUID,            /* /api/sessions/{not a uuid}/events */
};

/* One row of the session list (or the session of an events answer). Every
 * field is borrowed text as PostgreSQL returns it; NULL = SQL NULL. */
struct gw_api_session_row {
    const char *session_id, *user_id, *start_time, *end_time, *duration_seconds;
    const char *summary, *summary_status, *first_message;
};
/* One event; 'meta' is JSON text (JSONB), embedded as JSON. */
struct gw_api_event_row {
    const char *event_type, *content, *timestamp, *turn_id, *meta;
};

/* Which endpoint 'path' (no query string) names. For GW_API_EVENTS 'sid'
 * receives the session id in lower case. */
enum gw_api_route gw_api_route(const char *path, char sid[SH_UUID_LEN + 1]);
/* True when 'ts' is exactly a UTC timestamp "YYYY-MM-DDTHH:MM:SS.ffffffZ"
 * with plausible field ranges. */
bool gw_api_ts_valid(const char *ts);
/* The opaque cursor for the position after (start_time 'ts', session 'sid'):
 * base64url of "<ts>|<sid>". Returns 0 or SH_EINVAL (bad input or 'cap'
 * too small; 'out' needs 87 bytes). */
int gw_api_cursor_encode(const char *ts, const char *sid, char *out, size_t cap);
/* Check and split a cursor made by gw_api_cursor_encode(). Returns 0 or
 * SH_EINVAL for anything else. */
int gw_api_cursor_decode(const char *cursor, char ts[GW_API_TS_LEN + 1],
                         char sid[SH_UUID_LEN + 1]);
/* Parse ?limit=: a decimal integer 1..'max'. Returns 0 or SH_EINVAL. */
int gw_api_limit_parse(const char *s, int64_t max, int *out);

/* {"sessions":[...],"next_cursor":"..."|null}. Returns a malloc'd string
 * (length in '*len') the caller frees, or NULL when out of memory. */
char *gw_api_sessions_json(const struct gw_api_session_row *rows, size_t n,
                           const char *next_cursor, size_t *len);
/* {"session_id","user_id","start_time","end_time","summary","events":[...]}
 * from session 's' and its events; malloc'd like gw_api_sessions_json(). */
char *gw_api_events_json(const struct gw_api_session_row *s,
                         const struct gw_api_event_row *rows, size_t n, size_t *len);
/* {"error":"<code>"}; malloc'd like gw_api_sessions_json(). */
char *gw_api_error_json(const char *code, size_t *len);

struct gw_api;

/* The API for 'app' (configuration read from app->cfg). Without a
 * DATABASE_URL it only answers 503. Starts no thread yet. Returns NULL when
 * out of memory. Free with gw_api_destroy(). */
struct gw_api *gw_api_create(const struct gw_app *app);
/* Start the database threads; their answers wake 'ctx'. Returns 0 or
 * SH_EIO. */
int gw_api_start(struct gw_api *api, struct lws_context *ctx);
/* Answer or queue one /api/ request (from gw_http_request). Returns what
 * the lws callback should return. */
int gw_api_request(struct lws *wsi, struct gw_app *app, const char *path);
/* The protocol callback: handles the API's HTTP events and the wake-up,
 * then hands every reason to gw_ws_callback(). */
int gw_api_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len);
/* Stop and join the database threads; later answers are dropped.
 * Idempotent, NULL-safe. Call before the lws context is destroyed. */
void gw_api_stop(struct gw_api *api);
/* Stop, then free everything (pending requests are forgotten, their
 * connections left to lws). NULL-safe. Call after lws_context_destroy(). */
void gw_api_destroy(struct gw_api *api);

#endif
