/* persister metrics (chat_persister_*) and readiness state for the admin server. */
#ifndef PST_METRICS_H
#define PST_METRICS_H
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sh_metrics.h"

/* Every pointer may be NULL (not initialised): the sh_* updates are then no-ops. */
struct pst_metrics {
    struct sh_metrics *reg;
    struct sh_metric *written;          /* chat_persister_events_written_total */
    struct sh_metric *duplicates;       /* chat_persister_duplicates_total */
    struct sh_metric *batch_size;       /* chat_persister_batch_size (histogram, events) */
    struct sh_metric *write_seconds;    /* chat_persister_db_write_seconds */
    struct sh_metric *dead_letters;     /* chat_persister_dead_letters_total */
    struct sh_metric *db_errors;        /* chat_persister_db_errors_total */
    /* Readiness, written by the main loop, read by the admin thread. */
    atomic_bool kafka_up;
    atomic_bool db_up;
    int64_t next_probe_ms;              /* main loop only */
};

/* Create the registry and every family. Returns 0 or SH_ENOMEM (then every update is a
 * no-op). Free with pst_metrics_free(). */
int pst_metrics_init(struct pst_metrics *m);
/* Free the registry; after the admin server is gone. NULL-safe. */
void pst_metrics_free(struct pst_metrics *m);
/* From the main loop: record 'db_up' now and, at most every 2 s, probe Kafka through 'rk'
 * (a metadata request, <= 300 ms). */
void pst_metrics_probe(struct pst_metrics *m, rd_kafka_t *rk, bool db_up);
/* sh_admin_ready_fn: ready when Kafka answers and the database connection is up.
 * 'ctx' is the struct pst_metrics. Reads atomics only. */
int pst_metrics_ready(void *ctx, char *reason, size_t reason_len);

#endif
