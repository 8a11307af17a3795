/* The gateway's lws protocol: WebSocket sessions at /ws/session[/<user>],
 * with plain HTTP handed to http.c. Runs in the lws service thread. */
#ifndef GW_WS_H
#define GW_WS_H
#include <libwebsockets.h>
#include <stddef.h>

#include "app.h"

/* The protocol callback (use as protocols[0], so clients that name no
 * subprotocol land here). The context's user pointer is the struct gw_app. */
int gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len);
/* The same protocol under the name "bearer" (GW_AUTH_SUBPROTOCOL): lws
 * selects it, and echoes it, for clients that send their token as
 * Sec-WebSocket-Protocol: bearer, <token>. Use as protocols[1]. */
int gw_ws_bearer_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                          void *in, size_t len);
/* per_session_data_size for the protocol. */
size_t gw_ws_pss_size(void);
/* Start the shutdown: refuse new connections and close every WebSocket
 * with 1001 once its queued frames are out. The caller keeps servicing
 * lws until app->nconns is 0 or its deadline passes. */
void gw_ws_shutdown(struct gw_app *app);

#endif
