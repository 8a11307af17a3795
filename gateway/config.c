/* Gateway configuration: the table of every environment variable, its
 * default, range and help line, plus the derived default gateway id. */
#include "config.h"
#include "sh_config.h"
#include "sh_envelope.h"
#include "sh_err.h"
#include "sh_kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_ITEMS 26

/* The id becomes part of a topic name, which also travels in reply_to. */
#define ID_MAX (SH_TOPIC_MAX - (int)sizeof(SH_TOPIC_REPLIES_PFX) + 1)

static void table(struct gw_config *c, struct sh_cfg_item *t)
{
    struct sh_cfg_item items[N_ITEMS] = {
        {"host", "GATEWAY_HOST", SH_CFG_STR, "0.0.0.0", 0, -1, false,
         "address to listen on (HTTP and WebSocket)", &c->host},
        {"port", "GATEWAY_PORT", SH_CFG_INT, "8000", 1, 65535, false,
         "port to listen on", &c->port},
        {"id", "GATEWAY_ID", SH_CFG_STR, "", 0, -1, false,
         "gateway id, [A-Za-z0-9._-]; replies arrive on chat.replies.<id> "
         "(empty: <hostname>-<port>)", &c->id},
        {"brokers", "KAFKA_BROKERS", SH_CFG_STR, "127.0.0.1:9092", 0, -1, false,
         "Kafka bootstrap servers", &c->brokers},
        {"llm-label", "GATEWAY_LLM_LABEL", SH_CFG_STR, "openai", 0, -1, false,
         "\"llm\" value of the session frame (the stack sets \"mock\")", &c->llm_label},
        {"static-dir", "GATEWAY_STATIC_DIR", SH_CFG_STR, "frontend/out", 0, -1, false,
         "web UI files served at / (not served when the folder is missing)", &c->static_dir},
        {"max-message", "GATEWAY_MAX_MESSAGE_BYTES", SH_CFG_INT, "65536", 128, 16777216, false,
         "largest client frame or reassembled message; larger closes with 1009",
         &c->max_message},
        {"outq-max", "GATEWAY_OUTQ_MAX_BYTES", SH_CFG_INT, "1048576", 4096, 1073741824, false,
         "outbound bytes queued per connection before it is closed with 1008", &c->outq_max},
        {"rx-buffer", "GATEWAY_RX_BUFFER_BYTES", SH_CFG_INT, "2048", 256, 65536, false,
         "receive buffer lws keeps per connection (bigger frames arrive in pieces)",
         &c->rx_buffer},
        {"max-pending", "GATEWAY_MAX_PENDING", SH_CFG_INT, "16", 1, 1024, false,
         "unanswered user messages per connection before \"busy\"", &c->max_pending},
        {"ping-interval", "GATEWAY_PING_INTERVAL_S", SH_CFG_INT, "30", 0, 3600, false,
         "ping a silent client after this many seconds, drop it after twice that (0: off)",
         &c->ping_interval_s},
        {"reply-retention", "GATEWAY_REPLY_RETENTION_MS", SH_CFG_INT, "3600000", 60000,
         604800000, false, "retention.ms of the reply topic when this gateway creates it",
         &c->reply_retention_ms},
        {"open-timeout-ms", "GATEWAY_OPEN_TIMEOUT_MS", SH_CFG_INT, "10000", 100, 300000, false,
         "how long a new session waits for Kafka to take its opening before it is refused",
         &c->open_timeout_ms},
        {"shutdown-ms", "GATEWAY_SHUTDOWN_MS", SH_CFG_INT, "3000", 0, 60000, false,
         "on SIGTERM, how long to wait for clients to take their 1001 close",
         &c->shutdown_ms},
        {"database-url", "DATABASE_URL", SH_CFG_STR, "", 0, -1, true,
         "PostgreSQL for the history read API /api/* (empty: the API answers 503)",
         &c->database_url},
        {"db-pool", "GATEWAY_DB_POOL", SH_CFG_INT, "2", 1, 32, false,
         "database connections for the read API, one thread each", &c->db_pool},
        {"api-page-max", "GATEWAY_API_PAGE_MAX", SH_CFG_INT, "50", 1, 1000, false,
         "largest page (?limit=) of GET /api/sessions; also the default", &c->api_page_max},
        {"jwt-secret", "JWT_SECRET", SH_CFG_STR, "", 0, -1, true,
         "HS256 secret (its bytes, as Supabase uses it): WebSockets and /api/ need a valid "
         "token (empty: anonymous mode)", &c->jwt_secret},
        {"jwt-audience", "JWT_AUDIENCE", SH_CFG_STR, "", 0, -1, false,
         "required \"aud\" claim, e.g. authenticated for Supabase (empty: not checked)",
         &c->jwt_audience},
        {"jwt-leeway", "JWT_LEEWAY_S", SH_CFG_INT, "30", 0, 600, false,
         "clock skew in seconds allowed for exp, nbf and iat", &c->jwt_leeway_s},
        {"allowed-origins", "ALLOWED_ORIGINS", SH_CFG_STR, "", 0, -1, false,
         "comma list of browser Origins allowed to open a WebSocket, * = any (empty: the "
         "gateway's own host and localhost)", &c->allowed_origins},
        {"rate-per-min", "GATEWAY_RATE_PER_MIN", SH_CFG_INT, "60", 0, 1000000, false,
         "user messages per minute per user before rate_limited (0: no limit)",
         &c->rate_per_min},
        {"rate-burst", "GATEWAY_RATE_BURST", SH_CFG_INT, "20", 1, 1000000, false,
         "messages a user may send at once before the per-minute rate applies",
         &c->rate_burst},
        {"max-conns-per-user", "GATEWAY_MAX_CONNS_PER_USER", SH_CFG_INT, "32", 0, 1000000, false,
         "WebSocket connections per user id on this gateway, more get HTTP 429 (0: no limit)",
         &c->max_conns_user},
        {"max-conns-per-ip", "GATEWAY_MAX_CONNS_PER_IP", SH_CFG_INT, "4096", 0, 1000000, false,
         "WebSocket connections per client IP on this gateway, more get HTTP 429 (0: no limit)",
         &c->max_conns_ip},
        {"trusted-proxies", "GATEWAY_TRUSTED_PROXIES", SH_CFG_STR, "", 0, -1, false,
         "comma list of reverse-proxy IPs/CIDRs (IPv4, IPv6) whose X-Forwarded-For names the "
         "client for the per-IP cap and the logs (empty: trust none, use the TCP peer)",
         &c->trusted_proxies},
    };
    memcpy(t, items, sizeof(items));
}

static int id_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '-';
}

/* "<hostname>-<port>" with characters Kafka does not allow in topic names
 * replaced by '-'. Returns 0 or SH_ENOMEM. */
static int default_id(struct gw_config *c)
{
    char host[128] = "gateway", id[ID_MAX + 1];

    if (gethostname(host, sizeof(host)) != 0 || !host[0])
        snprintf(host, sizeof(host), "gateway");
    host[sizeof(host) - 1] = '\0';
    for (char *p = host; *p; p++)
        if (!id_char_ok(*p))
            *p = '-';
    snprintf(id, sizeof(id), "%s-%lld", host, (long long)c->port);
    free(c->id);
    c->id = strdup(id);
    return c->id ? SH_OK : SH_ENOMEM;
}

int gw_config_load(struct gw_config *c, int argc, char **argv)
{
    struct sh_cfg_item t[N_ITEMS];
    char err[256];
    int rc;

    memset(c, 0, sizeof(*c));
    table(c, t);
    rc = sh_config_load(t, N_ITEMS, argc, argv, err, sizeof(err));
    if (rc) {
        if (rc < 0)
            fprintf(stderr, "gateway: configuration error: %s\n", err);
        return rc;
    }
    if (!c->id[0] && default_id(c)) {
        fprintf(stderr, "gateway: out of memory\n");
        return SH_ENOMEM;
    }
    if (strlen(c->id) > ID_MAX) {
        fprintf(stderr, "gateway: configuration error: GATEWAY_ID is longer than %d\n", ID_MAX);
        return SH_EINVAL;
    }
    for (const char *p = c->id; *p; p++) {
        if (!id_char_ok(*p)) {
            fprintf(stderr, "gateway: configuration error: GATEWAY_ID=\"%s\" may only hold "
                    "A-Z a-z 0-9 . _ -\n", c->id);
            return SH_EINVAL;
        }
    }
    if (gw_proxy_list_parse(&c->proxies, c->trusted_proxies, err, sizeof(err))) {
        fprintf(stderr, "gateway: configuration error: GATEWAY_TRUSTED_PROXIES: %s\n", err);
        return SH_EINVAL;
    }
    if (!c->brokers[0]) {
        fprintf(stderr, "gateway: configuration error: KAFKA_BROKERS is empty\n");
        return SH_EINVAL;
    }
    return SH_OK;
}

void gw_config_log(struct gw_config *c)
{
    struct sh_cfg_item t[N_ITEMS];

    table(c, t);
    sh_config_log(t, N_ITEMS);
}

void gw_config_free(struct gw_config *c)
{
    struct sh_cfg_item t[N_ITEMS];

    if (!c)
        return;
    table(c, t);
    sh_config_free(t, N_ITEMS);
}
