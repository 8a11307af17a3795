/* The summarizer's loop: chat.events (group "summarizer"), session_end events become summary
 * jobs; offsets are committed once every earlier session_end of the partition is written. */
#ifndef SUM_CONSUME_H
#define SUM_CONSUME_H
#include <stddef.h>

#include "config.h"

struct sum_consumer;

/* Join the group and create the database handle and the job engine. 'cfg' is borrowed and
 * must outlive the consumer. Returns NULL with 'err' set. Destroy with sum_consumer_destroy(). */
struct sum_consumer *sum_consumer_create(const struct sum_config *cfg, char *err, size_t errlen);

/* Consume until sh_stop is set; then stop taking events, give the jobs in flight up to the
 * drain time, and commit what finished. Returns 0. */
int sum_consumer_run(struct sum_consumer *c);

/* The consumer's metrics and readiness state (owned by 'c', valid until it is destroyed):
 * hand its registry and sum_metrics_ready() to the admin server. */
struct sum_metrics;
struct sum_metrics *sum_consumer_metrics(struct sum_consumer *c);
/* Make a blocked run loop look at sh_stop now; async-signal-safe. */
void sum_consumer_wakeup(struct sum_consumer *c);

/* Cancel what is left, leave the group, close the database. NULL-safe. */
void sum_consumer_destroy(struct sum_consumer *c);

#endif
