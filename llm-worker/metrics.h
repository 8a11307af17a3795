/* llm-worker metrics (chat_llm_*) and readiness state for the admin server. */
#ifndef LLM_METRICS_H
#define LLM_METRICS_H
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sh_metrics.h"

/* Every pointer may be NULL (metrics off or not initialised): the sh_* updates are no-ops. */
struct llm_metrics {
    struct sh_metrics *reg;
    struct sh_metric *turns_started;    /* chat_llm_turns_started_total */
    struct sh_metric *turns_finished;   /* chat_llm_turns_finished_total{finish_reason} */
    struct sh_metric *tokens;           /* chat_llm_tokens_total */
    struct sh_metric *first_token;      /* chat_llm_request_first_token_seconds */
    struct sh_metric *errors;           /* chat_llm_errors_total{code} */
    struct sh_metric *running;          /* chat_llm_running_turns */
    struct sh_metric *tool_calls;       /* chat_llm_tool_calls_total */
    /* Readiness, written by the main loop, read by the admin thread. */
    atomic_bool kafka_up;
    atomic_bool joined;
    int64_t next_probe_ms;              /* main loop only */
};

/* Create the registry and every family. Returns 0 or SH_ENOMEM (then 'm' holds no
 * registry and every update is a no-op). Free with llm_metrics_free(). */
int llm_metrics_init(struct llm_metrics *m);
/* Free the registry; after the admin server is gone. NULL-safe. */
void llm_metrics_free(struct llm_metrics *m);
/* Count an error frame with 'code' (a fixed set of codes). */
void llm_metrics_error(struct llm_metrics *m, const char *code);
/* Count a finished turn with 'reason'. */
void llm_metrics_finished(struct llm_metrics *m, const char *reason);
/* From the main loop: at most every 2 s, probe Kafka (metadata, <= 300 ms) through 'rk'
 * and check that the consumer has joined its group; updates the readiness atomics. */
void llm_metrics_probe(struct llm_metrics *m, rd_kafka_t *rk, bool assigned);
/* sh_admin_ready_fn: ready when Kafka answers and the consumer is in its group.
 * 'ctx' is the struct llm_metrics. Reads atomics only. */
int llm_metrics_ready(void *ctx, char *reason, size_t reason_len);

#endif
