/* Gateway entry point: configuration, the lws context, the Kafka bridge,
 * the read API's database threads, the service loop and the shutdown
 * order. Wiring only. */
#include "api.h"
#include "app.h"
#include "config.h"
#include "heartbeat.h"
#include "http.h"
#include "kafka_bridge.h"
#include "quota.h"
#include "sessions.h"
#include "sh_err.h"
#include "sh_log.h"
#include "sh_signal.h"
#include "sh_time.h"
#include "ws.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

static struct lws_context *volatile signal_ctx;   /* what the signal handler wakes */

static struct {
    lws_sorted_usec_list_t sul;
    struct lws_context *ctx;
} shutdown_tick;

/* SIGTERM/SIGINT: sh_stop is set; get lws_service() to return. */
static void wake_from_signal(void)
{
    struct lws_context *ctx = signal_ctx;

    if (ctx)
        lws_cancel_service(ctx);
}

/* The Kafka thread has queued something for the lws thread. */
static void wake_from_kafka(void *arg)
{
    lws_cancel_service(arg);
}

/* During shutdown lws_service() must return now and then to check the
 * deadline even when no socket stirs. */
static void on_shutdown_tick(lws_sorted_usec_list_t *sul)
{
    lws_sul_schedule(shutdown_tick.ctx, 0, sul, on_shutdown_tick, 100 * LWS_US_PER_MS);
}

/* Route lws's own warnings and errors through sh_log. */
static void lws_log_emit(int level, const char *line)
{
    char msg[512];
    size_t n = 0;

    for (; line[n] && line[n] != '\n' && n < sizeof(msg) - 1; n++)
        msg[n] = line[n] == '"' ? '\'' : line[n];
    msg[n] = '\0';
    sh_log(level & LLL_ERR ? SH_LOG_ERROR : level & LLL_WARN ? SH_LOG_WARN : SH_LOG_DEBUG,
           "lws", "line=\"%s\"", msg);
}

int main(int argc, char **argv)
{
    struct lws_protocols protocols[] = {
        {"chat", gw_api_callback, 0, 0, 0, NULL, 0},   /* API events, then gw_ws_callback */
        {"bearer", gw_ws_bearer_callback, 0, 0, 0, NULL, 0},   /* token as a subprotocol */
        {NULL, NULL, 0, 0, 0, NULL, 0},
    };
    struct lws_context_creation_info info;
    lws_retry_bo_t keepalive = {0};
    struct lws_context *ctx = NULL;
    struct gw_config cfg;
    struct gw_app app;
    struct gw_heartbeat *hb = NULL;
    char err[512];
    int64_t deadline;
    int rc, status = 1;

    memset(&app, 0, sizeof(app));
    sh_log_init("gateway");
    rc = gw_config_load(&cfg, argc, argv);
    if (rc) {
        status = rc == 1 ? 0 : 2;
        goto out;
    }
    gw_config_log(&cfg);
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
    app.cfg = &cfg;
    if (gw_metrics_init(&app.metrics))
        sh_log(SH_LOG_WARN, "metrics disabled", "err=\"out of memory\"");
    app.sessions = gw_sessions_create();
    if (!app.sessions)
        goto out;
    gw_http_static_init(&app, cfg.static_dir);
    app.quota = gw_quota_create(cfg.max_conns_user, cfg.max_conns_ip, cfg.rate_per_min,
                                  cfg.rate_burst);
    if (!app.quota)
        goto out;
    if (!cfg.jwt_secret[0])
        sh_log(SH_LOG_WARN, "anonymous mode: JWT_SECRET is not set", "detail=\"clients name "
               "their own user id; anyone who knows a session id and user id can resume it\"");
    app.api = gw_api_create(&app);
    if (!app.api)
        goto out;
    app.bridge = gw_bridge_create(cfg.brokers, cfg.id, cfg.reply_retention_ms, err, sizeof(err));
    if (!app.bridge) {
        sh_log(SH_LOG_ERROR, "kafka setup failed", "error=\"%s\"", err);
        goto out;
    }
    /* Before any request: its epoch must precede them all. */
    hb = gw_heartbeat_create(cfg.brokers, gw_bridge_reply_topic(app.bridge), err, sizeof(err));
    if (!hb) {
        sh_log(SH_LOG_ERROR, "kafka setup failed", "error=\"%s\"", err);
        goto out;
    }

    protocols[0].per_session_data_size = protocols[1].per_session_data_size = gw_ws_pss_size();
    protocols[0].rx_buffer_size = protocols[1].rx_buffer_size = (size_t)cfg.rx_buffer;
    memset(&info, 0, sizeof(info));
    info.port = (int)cfg.port;
    info.iface = cfg.host;
    info.protocols = protocols;
    info.user = &app;
    info.vhost_name = "gateway";
    if (cfg.ping_interval_s > 0) {
        keepalive.secs_since_valid_ping = (uint16_t)cfg.ping_interval_s;
        keepalive.secs_since_valid_hangup = (uint16_t)(cfg.ping_interval_s * 2);
        info.retry_and_idle_policy = &keepalive;
    }
    ctx = lws_create_context(&info);
    if (!ctx) {
        sh_log(SH_LOG_ERROR, "cannot listen", "host=%s port=%lld", cfg.host,
               (long long)cfg.port);
        goto out;
    }
    app.ctx = ctx;
    signal_ctx = ctx;
    if (sh_signal_install(wake_from_signal) || gw_bridge_start(app.bridge, wake_from_kafka, ctx) ||
        gw_api_start(app.api, ctx) || gw_heartbeat_start(hb)) {
        sh_log(SH_LOG_ERROR, "cannot start", NULL);
        goto out;
    }
    sh_log(SH_LOG_INFO, "gateway listening", "host=%s port=%lld id=%s reply_topic=%s",
           cfg.host, (long long)cfg.port, cfg.id, gw_bridge_reply_topic(app.bridge));

    while (!sh_stop)
        if (lws_service(ctx, 0) < 0)
            break;
    status = sh_stop ? 0 : 1;

    /* Shutdown: stop accepting, close every WebSocket with 1001 (each
     * publishes its session_close), flush, stop Kafka, destroy. */
    sh_log(SH_LOG_INFO, "shutting down", "connections=%zu", app.nconns);
    gw_ws_shutdown(&app);
    shutdown_tick.ctx = ctx;
    on_shutdown_tick(&shutdown_tick.sul);
    deadline = sh_mono_ms() + cfg.shutdown_ms;
    while (app.nconns > 0 && sh_mono_ms() < deadline)
        if (lws_service(ctx, 0) < 0)
            break;
    lws_sul_cancel(&shutdown_tick.sul);
    if (gw_bridge_flush(app.bridge, 3000) > 0)
        sh_log(SH_LOG_WARN, "requests still unsent at shutdown", NULL);
    gw_bridge_stop(app.bridge);         /* no more wake-ups into lws */
out:
    signal_ctx = NULL;
    gw_api_stop(app.api);               /* database threads: no more wake-ups either */
    if (ctx)
        lws_context_destroy(ctx);       /* stragglers publish session_close */
    gw_bridge_destroy(app.bridge);      /* flushes those */
    gw_heartbeat_destroy(hb);           /* last: the gateway was alive until here */
    gw_api_destroy(app.api);            /* after the context: its closes touch the table */
    gw_sessions_destroy(app.sessions);
    gw_quota_destroy(app.quota);      /* after the context: closes uncount themselves */
    gw_metrics_free(&app.metrics);      /* after the context: closes update the gauge */
    gw_config_free(&cfg);
    if (ctx)
        sh_log(SH_LOG_INFO, "gateway stopped", "status=%d", status);
    return status;
}
