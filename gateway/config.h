/* Gateway configuration: one table of environment variables (see config.c). */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H
#include <stdint.h>

#include "proxy.h"

struct gw_config {
    char *host;                 /* listen address */
    int64_t port;               /* listen port (HTTP and WebSocket) */
    char *id;                   /* gateway id; reply topic is chat.replies.<id> */
    char *brokers;              /* Kafka bootstrap servers */
    char *llm_label;            /* "llm" field of the session frame */
    char *static_dir;           /* web UI folder served at / (skipped when missing) */
    int64_t max_message;        /* largest client frame or message, bytes */
    int64_t outq_max;           /* per-connection outbound queue bound, bytes */
    int64_t rx_buffer;          /* lws receive buffer per connection, bytes */
    int64_t max_pending;        /* unanswered user messages per connection */
    int64_t ping_interval_s;    /* WebSocket ping after this much silence; 0 = never */
    int64_t reply_retention_ms; /* retention.ms of the reply topic when created */
    int64_t open_timeout_ms;    /* new session: Kafka's ack of session_open, at most */
    int64_t shutdown_ms;        /* how long shutdown waits for clients to close */
    char *database_url;         /* history read API; "" = the API answers 503 */
    int64_t db_pool;            /* database connections (one thread each) */
    int64_t api_page_max;       /* largest ?limit= of GET /api/sessions */
    char *jwt_secret;           /* HS256 key; "" = anonymous mode (no authentication) */
    char *jwt_audience;         /* required "aud" of tokens; "" = not checked */
    int64_t jwt_leeway_s;       /* clock skew allowed for exp/nbf/iat */
    char *allowed_origins;      /* browser Origins allowed to open a WebSocket (see auth.h) */
    int64_t rate_per_min;       /* user messages per minute per user; 0 = no limit */
    int64_t rate_burst;         /* ... of which this many may come at once */
    int64_t max_conns_user;     /* WebSocket connections per user id; 0 = no limit */
    int64_t max_conns_ip;       /* WebSocket connections per client IP; 0 = no limit */
    char *trusted_proxies;      /* GATEWAY_TRUSTED_PROXIES as written */
    struct gw_proxy_list proxies;   /* ... parsed: whose X-Forwarded-For names the client */
};

/* Fill 'c' from defaults, the environment and --name=value flags, and make
 * the default id ("<hostname>-<port>"). Returns 0, 1 after --help (exit 0)
 * or SH_EINVAL with the reason printed to stderr. The strings are owned by
 * 'c'; free them with gw_config_free(), also after an error. */
int gw_config_load(struct gw_config *c, int argc, char **argv);
/* Release the strings of 'c'. NULL-safe, safe to call twice. */
void gw_config_free(struct gw_config *c);
/* Log the effective configuration (debug level). */
void gw_config_log(struct gw_config *c);

#endif
