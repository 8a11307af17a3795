/* State shared by the gateway's modules; main.c owns it and wires it up. */
#ifndef GW_APP_H
#define GW_APP_H
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct lws_context;
struct gw_config;
struct gw_bridge;
struct gw_sessions;
struct gw_api;
struct gw_quota;

struct gw_app {
    const struct gw_config *cfg;
    struct lws_context *ctx;          /* set once the context exists */
    struct gw_bridge *bridge;         /* Kafka side */
    struct gw_sessions *sessions;     /* session -> local connections */
    struct gw_api *api;               /* history read API (/api/...) */
    struct gw_quota *quota;           /* connection caps and message rate (quota.c) */
    char static_root[PATH_MAX];       /* resolved GATEWAY_STATIC_DIR, "" = not served */
    uint64_t next_conn_id;            /* connection ids, never reused */
    size_t nconns;                    /* WebSocket connections alive */
    bool shutting_down;               /* refuse new connections, readyz 503 */
    struct gw_metrics metrics;        /* chat_gateway_*, GET /metrics */
};

#endif
