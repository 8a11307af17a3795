/* Who may connect: the browser Origin policy, bearer tokens (HS256 JWTs)
 * from their three carriers, the identity a token gives, and the admission
 * of a WebSocket upgrade (origin, token, connection caps) with an HTTP
 * refusal before the upgrade. Runs in the lws thread. */
#ifndef GW_AUTH_H
#define GW_AUTH_H
#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "sh_envelope.h"

#define GW_AUTH_SUBPROTOCOL "bearer"   /* Sec-WebSocket-Protocol: bearer, <jwt> */

struct gw_config;
struct gw_conn;

/* May a browser page from 'origin' (the Origin header; NULL or "" for
 * clients that send none, which are allowed) open a WebSocket on a gateway
 * reached as 'host' (the Host header)? 'allowed' is ALLOWED_ORIGINS: "*"
 * allows any; a comma list allows exactly those origins (scheme://host[:port],
 * case-insensitive); empty allows the gateway's own host and localhost,
 * 127.0.0.1 or [::1] on any port. */
bool gw_origin_allowed(const char *origin, const char *host, const char *allowed);

/* The token of a Sec-WebSocket-Protocol value "bearer, <token>" (the
 * entry after "bearer"), copied into 'out'. Returns its length, 0 when the
 * list carries none, or SH_ETOOBIG when it does not fit 'cap'. */
int gw_auth_subprotocol_token(const char *list, char *out, size_t cap);

/* Check 'token' against JWT_SECRET / JWT_AUDIENCE / JWT_LEEWAY_S and the
 * user-id rules; 'uid' receives the "sub" claim. Returns 0, or a negative
 * SH_E* code with a static reason in '*why'. */
int gw_auth_verify(const struct gw_config *cfg, const char *token, char uid[SH_USER_ID_MAX + 1],
                   const char **why);

/* Where a request's bearer token came from. */
enum gw_token_src { GW_TOKEN_NONE, GW_TOKEN_QUERY, GW_TOKEN_HEADER, GW_TOKEN_SUBPROTOCOL };
/* Copy the request's token into 'out': the Authorization "Bearer" header,
 * then (when 'websocket') the query's access_token, then the
 * Sec-WebSocket-Protocol entry. GW_TOKEN_NONE when there is none (or it
 * does not fit). */
enum gw_token_src gw_auth_token(struct lws *wsi, bool websocket, char *out, size_t cap);

/* The identity of a WebSocket upgrade. With JWT_SECRET set: the token's
 * "sub" (401 without a valid token); a user id in the path that differs
 * sets '*mismatch'; '*deadline_ms' (when not NULL) gets the wall-clock time
 * in Unix ms at which the token stops passing gw_auth_verify(): its "exp"
 * plus JWT_LEEWAY_S. Without: the path's user id, or "" (anonymous), and
 * a deadline of 0 (none). Returns 0 with 'uid' filled, or SH_EINVAL with
 * '*why' set. */
int gw_auth_identify(struct lws *wsi, const struct gw_app *app, char uid[SH_USER_ID_MAX + 1],
                     bool *mismatch, int64_t *deadline_ms, const char **why);

/* The wall-clock time in Unix ms from which a token whose "exp" claim is
 * 'exp_s' is refused with a leeway of 'leeway_s' seconds (as sh_jwt_verify()
 * decides it on whole seconds); INT64_MAX for an "exp" beyond year 9999. */
int64_t gw_auth_deadline_ms(double exp_s, int64_t leeway_s);

/* Milliseconds until the token of open connection 'c' (c->token_deadline_ms) is to be looked
 * at again: its expiry, but at most EXPIRY_RECHECK_MAX_MS away (a wall clock may jump) and at
 * least 1; -1 when there is no token (anonymous mode). The caller arms the wsi timer. */
int64_t gw_auth_expiry_wait(const struct gw_conn *c);
/* When the token of 'c' has expired: queue an "unauthorized" error frame, close with 4401 and
 * return true. */
bool gw_auth_expiry_check(struct gw_conn *c);

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE for a session URL: the Origin, the
 * token and the connection caps. Returns 0 to let the upgrade go on, or
 * -1 after answering 403 origin_not_allowed, 401 unauthorized or 429
 * too_many_connections (JSON body; the connection is closed). */
int gw_auth_admit(struct lws *wsi, struct gw_app *app);

/* The client's IP address into 'out' (>= GW_IP_STRLEN; "" when unknown):
 * the TCP peer, or, when that is one of GATEWAY_TRUSTED_PROXIES, the
 * address its X-Forwarded-For names (see gw_proxy_client_ip()). */
void gw_auth_peer(struct lws *wsi, const struct gw_config *cfg, char *out, size_t cap);

#endif
