/* A worker thread that runs one job at a time for the persister's loop: the database write
 * of batch N runs there while the loop polls and decodes batch N+1. One slot only, so writes
 * stay strictly in order and the loop decides what happens after each one (offsets, DLQ,
 * retries). No I/O of its own. */
#ifndef PST_WRITER_H
#define PST_WRITER_H
#include <stdbool.h>

struct pst_writer;

typedef void (*pst_job_fn)(void *arg);

/* Start the thread. Returns NULL without memory or threads. Destroy with
 * pst_writer_destroy(). */
struct pst_writer *pst_writer_create(void);
/* Wait for the job in flight (if any) to finish, stop the thread, free. NULL-safe. */
void pst_writer_destroy(struct pst_writer *w);

/* Run fn(arg) on the thread. Returns 0, or SH_EINVAL while a job is still in flight (at
 * most one: collect it with pst_writer_wait() first). 'arg' belongs to the thread until
 * pst_writer_wait() returned 0 for it. */
int pst_writer_submit(struct pst_writer *w, pst_job_fn fn, void *arg);
/* True while a submitted job has not been collected by pst_writer_wait(). */
bool pst_writer_busy(const struct pst_writer *w);
/* True when the job in flight has finished (pst_writer_wait() will not block). */
bool pst_writer_done(struct pst_writer *w);
/* Wait up to 'timeout_ms' (< 0 = no limit) for the job in flight and collect it. Returns 0
 * (the job's effects are visible to the caller; a new job may be submitted), SH_ETIMEDOUT
 * (still running), or SH_EINVAL (nothing in flight). */
int pst_writer_wait(struct pst_writer *w, int timeout_ms);

#endif
