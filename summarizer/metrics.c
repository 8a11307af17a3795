/* summarizer metrics (chat_summarizer_*) and readiness state for the admin server.
 * Families are registered once at start; the jobs update them lock-free. */
#include "metrics.h"
#include "sh_kafka.h"
#include "sh_err.h"
#include "sh_time.h"

#include <stdio.h>

#define PROBE_EVERY_MS 2000
#define PROBE_TIMEOUT_MS 300

int sum_metrics_init(struct sum_metrics *m)
{
    struct sh_metrics *r = sh_metrics_create();

    atomic_store(&m->kafka_up, false);
    atomic_store(&m->db_up, false);
    m->next_probe_ms = 0;
    if (!r)
        return SH_ENOMEM;
    m->reg = r;
    m->summaries = sh_metrics_counter(r, "chat_summarizer_summaries_total",
                                      "Session summaries stored, by status (ok, empty, failed).",
                                      "status");
    m->llm_seconds = sh_metrics_histogram(r, "chat_summarizer_llm_request_seconds",
                                          "Duration of one summary LLM request, seconds.", NULL,
                                          NULL, 0);
    if (!m->summaries || !m->llm_seconds) {
        sum_metrics_free(m);
        return SH_ENOMEM;
    }
    return SH_OK;
}

void sum_metrics_free(struct sum_metrics *m)
{
    if (!m)
        return;
    sh_metrics_destroy(m->reg);
    m->reg = NULL;
    m->summaries = m->llm_seconds = NULL;
}

void sum_metrics_probe(struct sum_metrics *m, rd_kafka_t *rk, bool db_up)
{
    int64_t now = sh_mono_ms();
    bool up;

    atomic_store(&m->db_up, db_up);
    if (!rk || now < m->next_probe_ms)
        return;
    m->next_probe_ms = now + PROBE_EVERY_MS;
    /* A metadata round trip is the cheapest proof that a broker answers. */
    up = sh_kafka_reachable(rk, PROBE_TIMEOUT_MS);
    atomic_store(&m->kafka_up, up);
}

int sum_metrics_ready(void *ctx, char *reason, size_t reason_len)
{
    struct sum_metrics *m = ctx;

    if (!atomic_load(&m->kafka_up)) {
        snprintf(reason, reason_len, "kafka not reachable");
        return 1;
    }
    if (!atomic_load(&m->db_up)) {
        snprintf(reason, reason_len, "database not connected");
        return 1;
    }
    return 0;
}
