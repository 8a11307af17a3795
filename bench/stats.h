/* stats.h: sample sets with nearest-rank percentiles, rates, and overhead comparisons for the benchmarks. */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/* A growable set of samples (milliseconds, usually). Embedded: bench_samples_init/free. */
struct bench_samples {
    double *v;
    size_t n;
    size_t cap;
    int sorted;
};

/* A summary of one sample set; all zero when the set is empty. */
struct bench_summary {
    size_t n;
    double min, mean, p50, p90, p99, max;
};

/* Makes 's' empty; no allocation until the first add. */
void bench_samples_init(struct bench_samples *s);
/* Frees the storage of 's' (NULL-safe) and leaves it empty. */
void bench_samples_free(struct bench_samples *s);
/* Appends one sample; returns 0, or -1 when out of memory (the sample is lost). */
int bench_samples_add(struct bench_samples *s, double x);
/* Appends every sample of 'src' to 'dst'; returns 0 or -1 (out of memory). */
int bench_samples_merge(struct bench_samples *dst, const struct bench_samples *src);
/* Nearest-rank percentile, p in [0,100] (0 = min, 100 = max); sorts 's' in place once.
 * Returns 0 for an empty set. */
double bench_samples_pct(struct bench_samples *s, double p);
/* Fills 'out' with count, min, mean, p50/p90/p99, max of 's' (sorts it). */
void bench_samples_summarize(struct bench_samples *s, struct bench_summary *out);

/* count / seconds, or 0 when seconds <= 0. */
double bench_rate(uint64_t count, double seconds);
/* a - b (how much the pipeline adds over the direct baseline). */
double bench_diff(double a, double b);
/* a / b, or 0 when b is 0 (no meaningful ratio). */
double bench_ratio(double a, double b);

/* Monotonic clock in microseconds. */
int64_t bench_now_us(void);

#endif
