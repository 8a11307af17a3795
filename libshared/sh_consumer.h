/* A consumer-group member of one topic that commits offsets by hand: rebalances (eager or
 * cooperative), pausing the whole assignment for back-pressure, and commits limited to the
 * partitions it still owns.
 *
 * Defaults, each overridable with its KAFKA_* variable (sh_kafka.h): enable.auto.commit=false,
 * enable.auto.offset.store=false, auto.offset.reset=earliest,
 * partition.assignment.strategy=cooperative-sticky, session.timeout.ms=10000,
 * heartbeat.interval.ms=1000. Not thread-safe; use from the polling thread. */
#ifndef SH_CONSUMER_H
#define SH_CONSUMER_H
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sh_consumer;

/* Called from inside sh_consumer_poll() on a rebalance: with assigned=true after
 * 'parts' were added to the assignment, with assigned=false before they are taken away
 * (commit what is finished now; later commits for them are skipped). */
typedef void (*sh_rebalance_fn)(void *ctx, const rd_kafka_topic_partition_list_t *parts,
                                bool assigned);

/* Join 'group' and subscribe to 'topic'. 'on_rebalance' may be NULL. Returns NULL with a
 * reason in 'err'. Strings are copied. Destroy with sh_consumer_destroy(). */
struct sh_consumer *sh_consumer_create(const char *brokers, const char *group, const char *topic,
                                       sh_rebalance_fn on_rebalance, void *ctx, char *err,
                                       size_t errlen);
/* Leave the group (sh_consumer_close_rk: no commit of its own) and free. NULL-safe. */
void sh_consumer_destroy(struct sh_consumer *c);

/* Longest wait of sh_consumer_destroy() for the group before it closes anyway. */
#define SH_CONSUMER_CLOSE_WAIT_MS 5000

/* Close the cooperative-sticky group member 'rk' (rd_kafka_consumer_close; 'rk' is not
 * destroyed) around two librdkafka 2.0 bugs (Debian 12 ships 2.0.2): a member closed after
 * joining but before its first assignment aborts in rd_kafka_destroy() (librdkafka #4312,
 * fixed in 2.3.0), and close hangs for ever when an incremental assignment is served while it
 * runs (#4527, fixed in 2.4.0). So it first serves the queue until '*assigned_once' (set by
 * the caller's rebalance callback on every assignment, also an empty one) is true, then
 * unsubscribes and serves the queue until nothing is assigned, then closes; at most
 * 'timeout_ms' before the close. Messages polled meanwhile are dropped uncommitted. */
void sh_consumer_close_rk(rd_kafka_t *rk, const bool *assigned_once, int timeout_ms);

/* The next message or event, waiting up to 'timeout_ms'; NULL when none. The caller
 * destroys it with rd_kafka_message_destroy(). Serves rebalances and commit results. */
rd_kafka_message_t *sh_consumer_poll(struct sh_consumer *c, int timeout_ms);

/* Pause every owned partition, now and as it is assigned, until sh_consumer_resume().
 * librdkafka drops what it prefetched and resumes after the last message handed out. */
int sh_consumer_pause(struct sh_consumer *c);
/* Pause one partition (a message from it arrived while paused). */
int sh_consumer_pause_partition(struct sh_consumer *c, int32_t partition);
int sh_consumer_resume(struct sh_consumer *c);
bool sh_consumer_paused(const struct sh_consumer *c);

/* True when 'partition' is in the current assignment. */
bool sh_consumer_owns(const struct sh_consumer *c, int32_t partition);

/* Commit 'next[i]' (the offset after the last finished message) for 'parts[i]', skipping
 * partitions not owned any more. 'sync' waits for the broker. Returns 0, or SH_EKAFKA with
 * the reason in 'err' (async failures are only counted, see sh_consumer_commit_failures). */
int sh_consumer_commit(struct sh_consumer *c, const int32_t *parts, const int64_t *next, size_t n,
                       bool sync, char *err, size_t errlen);
/* Asynchronous commits the broker refused so far. */
uint64_t sh_consumer_commit_failures(const struct sh_consumer *c);

/* The underlying handle, borrowed. */
rd_kafka_t *sh_consumer_rk(struct sh_consumer *c);

#endif
