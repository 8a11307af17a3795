/* Commit points for a consumer whose messages finish out of order: per partition, the
 * offset to commit is the lowest one still held by a job, else the one after the last
 * message seen. The per-partition part is libshared's sh_offsets; this adds the map over
 * partitions. Unit-tested in tests/test_offsets.c. */
#ifndef SUM_OFFSETS_H
#define SUM_OFFSETS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sum_offsets;

/* Returns NULL on allocation failure. Destroy with sum_offsets_destroy(). */
struct sum_offsets *sum_offsets_create(void);
/* NULL-safe. */
void sum_offsets_destroy(struct sum_offsets *o);

/* A message was consumed; 'held' when a job now works on it (release it with
 * sum_offsets_done). Offsets of one partition must arrive in increasing order: a held
 * one below an offset seen before is refused with SH_EINVAL (an unheld one is ignored).
 * Returns 0, SH_ENOMEM or SH_EINVAL. */
int sum_offsets_seen(struct sum_offsets *o, int32_t partition, int64_t offset, bool held);
/* The job for (partition, offset) finished. Returns 0, or SH_ENOTFOUND (for example after
 * the partition was forgotten). */
int sum_offsets_done(struct sum_offsets *o, int32_t partition, int64_t offset);
/* Drop everything about 'partition' (revoked). */
void sum_offsets_forget(struct sum_offsets *o, int32_t partition);

/* Commit points that moved since the last call, at most 'max': fills 'parts'/'next' and
 * returns how many. With 'all', every known partition is listed (a final commit). */
size_t sum_offsets_collect(struct sum_offsets *o, int32_t *parts, int64_t *next, size_t max,
                           bool all);
/* Messages held by jobs, over all partitions. */
size_t sum_offsets_held(const struct sum_offsets *o);

#endif
