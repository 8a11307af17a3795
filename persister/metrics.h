/* persister metrics (chat_persister_*) and the readiness state (libshared/sh_readiness.h)
 * the admin server answers /readyz from. */
#ifndef PST_METRICS_H
#define PST_METRICS_H
#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "sh_metrics.h"
#include "sh_readiness.h"

/* Every pointer may be NULL (not initialised): the sh_* updates are then no-ops. */
struct pst_metrics {
    struct sh_metrics *reg;
    struct sh_metric *written;          /* chat_persister_events_written_total */
    struct sh_metric *duplicates;       /* chat_persister_duplicates_total */
    struct sh_metric *batch_size;       /* chat_persister_batch_size (histogram, events) */
    struct sh_metric *write_seconds;    /* chat_persister_db_write_seconds */
    struct sh_metric *dead_letters;     /* chat_persister_dead_letters_total */
    struct sh_metric *db_errors;        /* chat_persister_db_errors_total */
    /* Kafka + database, written by the main loop, read by the admin thread
     * (sh_readiness_check with &ready). */
    struct sh_readiness ready;
};

/* Create the registry and every family. Returns 0 or SH_ENOMEM (then every update is a
 * no-op). Free with pst_metrics_free(). */
int pst_metrics_init(struct pst_metrics *m);
/* Free the registry; after the admin server is gone. NULL-safe. */
void pst_metrics_free(struct pst_metrics *m);
/* From the main loop: sh_readiness_probe() on the readiness state. */
void pst_metrics_probe(struct pst_metrics *m, rd_kafka_t *rk, bool db_up);

#endif
