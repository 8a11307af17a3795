/* persister metrics (chat_persister_*); the readiness state is an sh_readiness.
 * Families are registered once at start; the batch loop updates them lock-free. */
#include "metrics.h"
#include "sh_err.h"

int pst_metrics_init(struct pst_metrics *m)
{
    static const double sizes[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
    struct sh_metrics *r = sh_metrics_create();

    sh_readiness_init(&m->ready);
    if (!r)
        return SH_ENOMEM;
    m->reg = r;
    m->written = sh_metrics_counter(r, "chat_persister_events_written_total",
                                    "Events inserted into event_log.", NULL);
    m->duplicates = sh_metrics_counter(r, "chat_persister_duplicates_total",
                                       "Events already stored (replays), skipped.", NULL);
    m->batch_size = sh_metrics_histogram(r, "chat_persister_batch_size",
                                         "Events per database batch.", NULL, sizes,
                                         sizeof(sizes) / sizeof(sizes[0]));
    m->write_seconds = sh_metrics_histogram(r, "chat_persister_db_write_seconds",
                                            "Duration of one batch write attempt, seconds.",
                                            NULL, NULL, 0);
    m->dead_letters = sh_metrics_counter(r, "chat_persister_dead_letters_total",
                                         "Poison events sent to chat.dlq.", NULL);
    m->db_errors = sh_metrics_counter(r, "chat_persister_db_errors_total",
                                      "Failed batch write attempts (then retried).", NULL);
    if (!m->written || !m->duplicates || !m->batch_size || !m->write_seconds ||
        !m->dead_letters || !m->db_errors) {
        pst_metrics_free(m);
        return SH_ENOMEM;
    }
    return SH_OK;
}

void pst_metrics_free(struct pst_metrics *m)
{
    if (!m)
        return;
    sh_metrics_destroy(m->reg);
    m->reg = NULL;
    m->written = m->duplicates = m->batch_size = m->write_seconds = NULL;
    m->dead_letters = m->db_errors = NULL;
}

void pst_metrics_probe(struct pst_metrics *m, rd_kafka_t *rk, bool db_up)
{
    sh_readiness_probe(&m->ready, rk, db_up);
}
