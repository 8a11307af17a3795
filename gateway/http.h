/* Plain HTTP on the gateway port: /healthz, /readyz and the static web UI. */
#ifndef GW_HTTP_H
#define GW_HTTP_H
#include <libwebsockets.h>

#include "app.h"

/* Resolve 'dir' into app->static_root; a missing folder leaves it empty
 * (the UI is then not served) and is not an error. Returns 0. */
int gw_http_static_init(struct gw_app *app, const char *dir);

/* Answer one HTTP request for 'path' (LWS_CALLBACK_HTTP). Returns what the
 * lws callback should return: 0 to keep the connection, -1 to close it. */
int gw_http_request(struct lws *wsi, struct gw_app *app, const char *path);

#endif
