/* Client-frame parsing and validation, and the JSON text of every frame the
 * gateway sends. Pure functions: no sockets, no Kafka, no globals. */
#ifndef GW_FRAMES_H
#define GW_FRAMES_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sh_envelope.h"

#define GW_CLIENT_ID_MAX 128     /* longest "id" a client may give a message */

enum gw_cf_type { GW_CF_USER_MESSAGE, GW_CF_STOP, GW_CF_PING };

/* One parsed client frame. */
struct gw_client_frame {
    enum gw_cf_type type;
    json_t *content;                     /* user_message: owned JSON string */
    char id[GW_CLIENT_ID_MAX + 1];       /* user_message: client id, "" if none */
    const char *err_code;                /* on SH_EPROTO: protocol error code (static) */
    const char *err_msg;                 /* on SH_EPROTO: human-readable reason (static) */
};

/* Parse one complete text message (already checked to be UTF-8).
 * Text whose first non-blank character is not '{' is a user message with
 * that text as content. Returns 0 with 'f' filled; SH_EPROTO with
 * f->err_code set to invalid_json, invalid_message, unknown_type or
 * empty_message; or SH_ENOMEM. Release 'f' with gw_client_frame_free()
 * in every case. */
int gw_frame_parse(const char *buf, size_t len, struct gw_client_frame *f);
/* Drop what 'f' owns. NULL-safe. */
void gw_client_frame_free(struct gw_client_frame *f);

/* True when 'buf' is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
bool gw_utf8_valid(const void *buf, size_t len);

/* True when a message of which 'so_far' bytes arrived, plus a piece of
 * 'chunk' bytes with 'remaining' more announced for its frame, would be
 * larger than 'max' (then the connection closes with 1009). Safe against
 * overflow for any inputs. */
bool gw_rx_too_big(size_t so_far, size_t chunk, size_t remaining, size_t max);

/* True when 'uid' is 1-128 characters of A-Z a-z 0-9 _ . @ - */
bool gw_user_id_valid(const char *uid, size_t len);

/* Split a WebSocket request path. "/ws/session" and "/ws/session/" give
 * an empty user id (anonymous); "/ws/session/<uid>" copies <uid> to
 * 'uid' (capacity 'cap'). Returns 0, SH_ENOTFOUND for any other path, or
 * SH_EINVAL when <uid> is not a valid user id. */
int gw_ws_path_parse(const char *path, char *uid, size_t cap);

/* Parse a last_seq query value: a decimal integer >= -1. Returns 0 or
 * SH_EINVAL. */
int gw_last_seq_parse(const char *s, int64_t *out);

/* The builders below return a malloc'd NUL-terminated compact JSON text
 * (the caller frees it) and store its length in '*len'; NULL when out of
 * memory. */

/* {"type":"session","session_id","user_id","resumed","llm"} */
char *gw_frame_session(const char *session_id, const char *user_id, bool resumed,
                       const char *llm, size_t *len);
/* {"type":"error","code","message"} plus "id" when 'client_id' is non-empty
 * and "turn_id" when 'turn_id' is non-empty (either may be NULL). */
char *gw_frame_error(const char *code, const char *message, const char *client_id,
                     const char *turn_id, size_t *len);
/* {"type":"error","code":"rate_limited","message","retry_after_ms"} plus
 * "id" when 'client_id' is non-empty: the message was not taken. */
char *gw_frame_rate_limited(const char *client_id, int64_t retry_after_ms, size_t *len);
/* {"type":"ack","id","turn_id"}; 'client_id' may be "" */
char *gw_frame_ack(const char *client_id, const char *turn_id, size_t *len);
/* {"type":"pong","ts"} */
char *gw_frame_pong(int64_t ts_ms, size_t *len);
/* The client frame for a reply envelope: its payload's fields, then
 * "type" (the envelope type), "turn_id" and "seq" when the envelope has
 * them (they win over payload fields of the same name). */
char *gw_frame_reply(const struct sh_env *e, size_t *len);

#endif
