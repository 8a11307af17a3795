/* The persister's loop: chat.events in batches -> PostgreSQL -> offsets, with back-pressure
 * while the database is away and poison events set aside in chat.dlq. */
#ifndef PST_CONSUME_H
#define PST_CONSUME_H
#include <stddef.h>

#include "config.h"

struct pst_consumer;
struct pst_metrics;

/* Join the consumer group, create the DLQ producer and the (not yet connected) database
 * handle. 'cfg' is borrowed and must outlive the consumer. Returns NULL with 'err' set.
 * Destroy with pst_consumer_destroy(). */
struct pst_consumer *pst_consumer_create(const struct pst_config *cfg, char *err, size_t errlen);

/* Consume until sh_stop is set, then finish the batch in flight (bounded by the configured
 * drain time) and commit synchronously. Returns 0, or SH_ETIMEDOUT when the last batch could
 * not be written in time (it stays uncommitted: the next run writes it). */
int pst_consumer_run(struct pst_consumer *c);

/* The consumer's metrics and readiness state (owned by 'c', valid until it is destroyed):
 * hand its registry and pst_metrics_ready() to the admin server. */
struct pst_metrics *pst_consumer_metrics(struct pst_consumer *c);

/* Leave the group, flush the DLQ producer, close the database. NULL-safe. */
void pst_consumer_destroy(struct pst_consumer *c);

#endif
