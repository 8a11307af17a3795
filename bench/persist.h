/* persist.h: the persister benchmark (chat.events -> persister -> event_log), run by loadgen
 * --events=N. */
#ifndef BENCH_PERSIST_H
#define BENCH_PERSIST_H

#include <stdint.h>

#include "bench.h"

/* What to run. Strings are not owned. */
struct bench_persist_opts {
    const char *brokers;       /* Kafka bootstrap servers */
    const char *database_url;  /* the database the persister writes to */
    uint64_t events;           /* envelopes to produce */
    double rate;               /* events per second; 0 = one burst, as fast as possible */
    int timeout_s;             /* give up waiting for rows after this long */
};

/* What one run measured. Embedded: bench_persist_result_init/free. */
struct bench_persist_result {
    uint64_t sent, delivered, rows;
    int64_t t0_us, t_sent_us, t_last_row_us;   /* bench_now_us() clock */
    struct bench_samples lag_ms;               /* row visible - envelope ts, one per row */
};

void bench_persist_result_init(struct bench_persist_result *r);
void bench_persist_result_free(struct bench_persist_result *r);

/* Produces o->events envelopes to chat.events (KAFKA_TOPIC_EVENTS) and reads event_log every
 * 10 ms until every row is there or the timeout passes. Returns 0 when it ran (missing rows are
 * counted in 'r'), negative when it could not run. */
int bench_persist_run(const struct bench_persist_opts *o, struct bench_persist_result *r);

/* Rows per second from the first produce to the last row seen. */
double bench_persist_rate(const struct bench_persist_result *r);

/* The table to stdout, and the JSON to 'path' (0 or negative). */
void bench_persist_print(const struct bench_persist_opts *o, struct bench_persist_result *r);
int bench_persist_json(const struct bench_persist_opts *o, struct bench_persist_result *r,
                       const char *label, const char *path);

#endif
