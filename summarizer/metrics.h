/* summarizer metrics (chat_summarizer_*) and the readiness state (libshared/sh_readiness.h)
 * the admin server answers /readyz from. */
#ifndef SUM_METRICS_H
#define SUM_METRICS_H
#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "sh_metrics.h"
#include "sh_readiness.h"

/* Every pointer may be NULL (not initialised): the sh_* updates are then no-ops. */
struct sum_metrics {
    struct sh_metrics *reg;
    struct sh_metric *summaries;        /* chat_summarizer_summaries_total{status} */
    struct sh_metric *llm_seconds;      /* chat_summarizer_llm_request_seconds */
    /* Kafka + database, written by the main loop, read by the admin thread
     * (sh_readiness_check with &ready). */
    struct sh_readiness ready;
};

/* Create the registry and every family. Returns 0 or SH_ENOMEM (then every update is a
 * no-op). Free with sum_metrics_free(). */
int sum_metrics_init(struct sum_metrics *m);
/* Free the registry; after the admin server is gone. NULL-safe. */
void sum_metrics_free(struct sum_metrics *m);
/* From the main loop: sh_readiness_probe() on the readiness state. */
void sum_metrics_probe(struct sum_metrics *m, rd_kafka_t *rk, bool db_up);

#endif
