/* llm-worker metrics (chat_llm_*) and readiness state for the admin server.
 * Families are registered once at start; the turn code updates them lock-free. */
#include "metrics.h"
#include "sh_kafka.h"
#include "sh_err.h"
#include "sh_time.h"

#include <stdio.h>
#include <string.h>

#define PROBE_EVERY_MS 2000
#define PROBE_TIMEOUT_MS 300

int llm_metrics_init(struct llm_metrics *m)
{
    struct sh_metrics *r = sh_metrics_create();

    if (!r)
        return SH_ENOMEM;
    m->reg = r;
    m->turns_started = sh_metrics_counter(r, "chat_llm_turns_started_total",
                                          "Turns started (LLM streams begun).", NULL);
    m->turns_finished = sh_metrics_counter(r, "chat_llm_turns_finished_total",
                                           "Turns finished, by finish_reason.", "finish_reason");
    m->tokens = sh_metrics_counter(r, "chat_llm_tokens_total",
                                   "Token frames streamed to clients.", NULL);
    m->first_token = sh_metrics_histogram(r, "chat_llm_request_first_token_seconds",
                                          "LLM request start to first token, seconds.", NULL,
                                          NULL, 0);
    m->errors = sh_metrics_counter(r, "chat_llm_errors_total", "Turns ended by an error, by code.",
                                   "code");
    m->running = sh_metrics_gauge(r, "chat_llm_running_turns", "Turns in flight in this process.",
                                  NULL);
    m->tool_calls = sh_metrics_counter(r, "chat_llm_tool_calls_total",
                                       "Tool calls run for the model.", NULL);
    atomic_store(&m->kafka_up, false);
    atomic_store(&m->joined, false);
    m->next_probe_ms = 0;
    if (!m->turns_started || !m->turns_finished || !m->tokens || !m->first_token || !m->errors ||
        !m->running || !m->tool_calls) {
        llm_metrics_free(m);
        return SH_ENOMEM;
    }
    return SH_OK;
}

void llm_metrics_free(struct llm_metrics *m)
{
    if (!m)
        return;
    sh_metrics_destroy(m->reg);
    m->reg = NULL;
    m->turns_started = m->turns_finished = m->tokens = m->first_token = NULL;
    m->errors = m->running = m->tool_calls = NULL;
}

void llm_metrics_error(struct llm_metrics *m, const char *code)
{
    sh_counter_inc(sh_metric_child(m->errors, code));
}

void llm_metrics_finished(struct llm_metrics *m, const char *reason)
{
    sh_counter_inc(sh_metric_child(m->turns_finished, reason));
}

void llm_metrics_probe(struct llm_metrics *m, rd_kafka_t *rk, bool assigned)
{
    int64_t now = sh_mono_ms();
    char *member;
    bool up;

    if (!rk || now < m->next_probe_ms)
        return;
    m->next_probe_ms = now + PROBE_EVERY_MS;
    /* A metadata round trip is the cheapest proof that a broker answers. */
    up = sh_kafka_reachable(rk, PROBE_TIMEOUT_MS);
    atomic_store(&m->kafka_up, up);
    member = rd_kafka_memberid(rk);
    atomic_store(&m->joined, assigned || (member && *member));
    if (member)
        rd_kafka_mem_free(rk, member);
}

int llm_metrics_ready(void *ctx, char *reason, size_t reason_len)
{
    struct llm_metrics *m = ctx;

    if (!atomic_load(&m->kafka_up)) {
        snprintf(reason, reason_len, "kafka not reachable");
        return 1;
    }
    if (!atomic_load(&m->joined)) {
        snprintf(reason, reason_len, "consumer not in its group yet");
        return 1;
    }
    return 0;
}
