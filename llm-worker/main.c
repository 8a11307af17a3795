/* llm-worker: consumes chat requests, streams LLM answers back through Kafka.
 * main() only wires the parts together; see docs/ARCHITECTURE.md. */
#include "config.h"
#include "gateways.h"
#include "intake.h"
#include "tools.h"
#include "worker.h"
#include "sh_admin.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_log.h"
#include "sh_map.h"
#include "sh_oai_client.h"
#include "sh_signal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct llm_worker *the_worker;

/* Async-signal-safe enough: curl_multi_wakeup writes to a socketpair. */
static void wake(void)
{
    if (the_worker && the_worker->llm)
        sh_oai_client_wakeup(the_worker->llm);
}

static void free_session(void *ctx, const char *key, void *val)
{
    (void)ctx;
    (void)key;
    llm_session_destroy(val);
}

/* Create the worker's topics when they are missing, with the right
 * settings: an auto-created chat.context would not be compacted. */
static int ensure_topics(struct llm_worker *w)
{
    static const char *const compact[] = {"cleanup.policy", "compact", "segment.ms", "3600000",
                                          "min.cleanable.dirty.ratio", "0.1", NULL};
    const char *topics[3] = {w->t_requests, w->t_events, w->t_context};
    char err[512];

    for (int i = 0; i < 3; i++) {
        if (sh_kafka_create_topic(sh_producer_rk(w->producer), topics[i], (int)w->cfg->partitions,
                                  i == 2 ? compact : NULL, 10000, err, sizeof(err))) {
            sh_log(SH_LOG_ERROR, "topic setup failed", "err=\"%s\"", err);
            return SH_EKAFKA;
        }
    }
    return SH_OK;
}

int main(int argc, char **argv)
{
    struct llm_config cfg;
    struct llm_worker w;
    struct sh_admin *admin = NULL;
    char err[512];
    int rc = 1;

    memset(&w, 0, sizeof(w));
    sh_log_init("llm-worker");
    rc = llm_config_load(&cfg, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;
    rc = 1;
    w.cfg = &cfg;
    w.t_requests = sh_topic(SH_TOPIC_REQUESTS);
    w.t_events = sh_topic(SH_TOPIC_EVENTS);
    w.t_context = sh_topic(SH_TOPIC_CONTEXT);
    if (curl_global_init(CURL_GLOBAL_DEFAULT))
        goto out;
    struct sh_oai_client_conf oc = {
        .base_url = cfg.base_url,
        .api_key = cfg.api_key,
        .timeout_ms = cfg.request_timeout_ms,
        .idle_timeout_ms = cfg.idle_timeout_ms,
        .max_retries = cfg.max_retries ? (int)cfg.max_retries : -1,  /* 0 means none */
        .backoff_base_ms = cfg.backoff_ms,
        .max_transfers = (int)cfg.max_turns,
    };
    w.llm = sh_oai_client_create(&oc);
    w.sessions = sh_map_create();
    w.tools = llm_tools_schema();
    if (!w.llm || !w.sessions || !w.tools) {
        sh_log(SH_LOG_ERROR, "startup failed", "err=\"cannot create the LLM client\"");
        goto out;
    }
    the_worker = &w;
    if (sh_signal_install(wake))
        goto out;
    w.producer = sh_producer_create(cfg.brokers, llm_worker_on_delivery, &w, err, sizeof(err));
    if (!w.producer) {
        sh_log(SH_LOG_ERROR, "kafka producer", "err=\"%s\"", err);
        goto out;
    }
    if (ensure_topics(&w))
        goto out;
    if (llm_intake_create(&w))
        goto out;
    w.gateways = llm_gateways_create(&w, cfg.gateway_dead_ms, err, sizeof(err));
    if (!w.gateways) {
        sh_log(SH_LOG_ERROR, "gateways topic", "err=\"%s\"", err);
        goto out;
    }
    if (llm_metrics_init(&w.m))
        sh_log(SH_LOG_WARN, "metrics disabled", "err=\"out of memory\"");
    if (cfg.admin_port >= 0) {
        admin = sh_admin_create(cfg.admin_host, (int)cfg.admin_port, w.m.reg, llm_metrics_ready,
                                &w.m, err, sizeof(err));
        if (!admin) {
            sh_log(SH_LOG_ERROR, "admin server", "err=\"%s\"", err);
            goto out;
        }
        sh_log(SH_LOG_INFO, "admin listening", "host=%s port=%d", cfg.admin_host,
               sh_admin_port(admin));
    }
    sh_log(SH_LOG_INFO, "llm-worker started", "brokers=%s group=%s llm=%s model=%s", cfg.brokers,
           cfg.group, cfg.base_url, cfg.model);
    llm_worker_run(&w, cfg.drain_ms);
    rc = 0;
out:
    /* Order: stop the admin thread (it reads the metrics), leave the group, flush what was
     * produced, then free. */
    sh_admin_destroy(admin);
    llm_gateways_destroy(w.gateways);   /* its beacon tombstone goes out with the flush */
    llm_intake_destroy(&w);
    sh_producer_destroy(w.producer);
    sh_oai_client_destroy(w.llm);
    if (w.sessions)
        sh_map_each(w.sessions, free_session, NULL);
    sh_map_destroy(w.sessions);
    json_decref(w.tools);
    for (int i = 0; i < w.n_parts; i++)
        llm_offsets_free(&w.parts[i].offs);
    free(w.parts);
    the_worker = NULL;
    curl_global_cleanup();
    sh_log(SH_LOG_INFO, "llm-worker stopped", "turns=%llu tokens=%llu errors=%llu",
           (unsigned long long)w.n_turns, (unsigned long long)w.n_tokens,
           (unsigned long long)w.n_errors);
    llm_metrics_free(&w.m);
    llm_config_free(&cfg);
    return rc;
}
