/* summarizer metrics (chat_summarizer_*) and readiness state for the admin server. */
#ifndef SUM_METRICS_H
#define SUM_METRICS_H
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sh_metrics.h"

/* Every pointer may be NULL (not initialised): the sh_* updates are then no-ops. */
struct sum_metrics {
    struct sh_metrics *reg;
    struct sh_metric *summaries;        /* chat_summarizer_summaries_total{status} */
    struct sh_metric *llm_seconds;      /* chat_summarizer_llm_request_seconds */
    /* Readiness, written by the main loop, read by the admin thread. */
    atomic_bool kafka_up;
    atomic_bool db_up;
    int64_t next_probe_ms;              /* main loop only */
};

/* Create the registry and every family. Returns 0 or SH_ENOMEM (then every update is a
 * no-op). Free with sum_metrics_free(). */
int sum_metrics_init(struct sum_metrics *m);
/* Free the registry; after the admin server is gone. NULL-safe. */
void sum_metrics_free(struct sum_metrics *m);
/* From the main loop: record 'db_up' now and, at most every 2 s, probe Kafka through 'rk'
 * (a metadata request, <= 300 ms). */
void sum_metrics_probe(struct sum_metrics *m, rd_kafka_t *rk, bool db_up);
/* sh_admin_ready_fn: ready when Kafka answers and the database connection is up.
 * 'ctx' is the struct sum_metrics. Reads atomics only. */
int sum_metrics_ready(void *ctx, char *reason, size_t reason_len);

#endif
