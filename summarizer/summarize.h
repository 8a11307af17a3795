/* Summary jobs: one per session_end event. Each waits until the persister has stored the
 * event (so the whole session is in event_log), reads the transcript, asks the LLM (not
 * streamed, through sh_oai_client, retried with backoff), and writes the outcome. Jobs
 * run concurrently up to a limit; database calls are short and made in this thread. */
#ifndef SUM_SUMMARIZE_H
#define SUM_SUMMARIZE_H
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sh_envelope.h"
#include "sh_pg.h"

struct sum_jobs;

/* Called once per job that reached its end (written, skipped as already done, or given
 * up on after logging), never for dropped or abandoned ones: its offset may be committed. */
typedef void (*sum_done_fn)(void *ctx, int32_t partition, int64_t offset);

/* An engine using 'pg' (borrowed) and its own LLM client built from 'cfg' (borrowed, must
 * outlive it). Call curl_global_init() first. Returns NULL on failure. Destroy with
 * sum_jobs_destroy(). */
struct sum_jobs *sum_jobs_create(const struct sum_config *cfg, struct sh_pg *pg,
                                 sum_done_fn done, void *ctx);
/* Count outcomes and LLM latency in 'm' (borrowed, must outlive 'j'; NULL: nowhere). */
struct sum_metrics;
void sum_jobs_set_metrics(struct sum_jobs *j, struct sum_metrics *m);
/* Cancel every request and free every job (their offsets stay uncommitted). NULL-safe. */
void sum_jobs_destroy(struct sum_jobs *j);

/* Queue a job for session_end envelope 'e' read at (partition, offset). Returns 0 or
 * SH_ENOMEM. */
int sum_jobs_add(struct sum_jobs *j, const struct sh_env *e, int32_t partition, int64_t offset);
/* Drop the jobs of a revoked partition: queued and waiting ones at once, LLM requests are
 * cancelled; a write already running finishes. No done callback for them. */
void sum_jobs_drop_partition(struct sum_jobs *j, int32_t partition);

/* Move every job forward that can move, waiting at most 'timeout_ms' for the LLM. Returns
 * the number of jobs that reached their end. */
int sum_jobs_step(struct sum_jobs *j, int timeout_ms);
/* Jobs not finished (queued, waiting or working). */
size_t sum_jobs_count(const struct sum_jobs *j);
/* Make a sum_jobs_step() blocked in the LLM client return; async-signal-safe. */
void sum_jobs_wakeup(struct sum_jobs *j);

/* Counters since start. */
struct sum_stats {
    uint64_t ok, empty, failed, skipped, llm_calls;
};
void sum_jobs_stats(const struct sum_jobs *j, struct sum_stats *out);

#endif
