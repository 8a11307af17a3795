/* summarizer metrics (chat_summarizer_*); the readiness state is an sh_readiness.
 * Families are registered once at start; the jobs update them lock-free. */
#include "metrics.h"
#include "sh_err.h"

int sum_metrics_init(struct sum_metrics *m)
{
    struct sh_metrics *r = sh_metrics_create();

    sh_readiness_init(&m->ready);
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
    sh_readiness_probe(&m->ready, rk, db_up);
}
