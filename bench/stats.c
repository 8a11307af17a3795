/* stats.c: sample sets, nearest-rank percentiles, rates and comparisons used by the load generator. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void bench_samples_init(struct bench_samples *s)
{
    memset(s, 0, sizeof(*s));
}

void bench_samples_free(struct bench_samples *s)
{
    if (!s)
        return;
    free(s->v);
    memset(s, 0, sizeof(*s));
}

int bench_samples_add(struct bench_samples *s, double x)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        double *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    s->sorted = 0;
    return 0;
}

int bench_samples_merge(struct bench_samples *dst, const struct bench_samples *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (bench_samples_add(dst, src->v[i]) < 0)
            return -1;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void sort_once(struct bench_samples *s)
{
    if (!s->sorted && s->n > 1)
        qsort(s->v, s->n, sizeof(*s->v), cmp_double);
    s->sorted = 1;
}

double bench_samples_pct(struct bench_samples *s, double p)
{
    if (s->n == 0)
        return 0;
    sort_once(s);
    if (p <= 0)
        return s->v[0];
    if (p >= 100)
        return s->v[s->n - 1];
    /* Nearest rank: the smallest sample with at least p% of the samples at or below it.
     * The small epsilon keeps 0.9 * 10 from rounding up to rank 10 through 9.000000000000002. */
    double rank = ceil(p / 100.0 * (double)s->n - 1e-9);
    size_t r = rank < 1 ? 1 : (size_t)rank;
    if (r > s->n)
        r = s->n;
    return s->v[r - 1];
}

void bench_samples_summarize(struct bench_samples *s, struct bench_summary *out)
{
    memset(out, 0, sizeof(*out));
    if (s->n == 0)
        return;
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += s->v[i];
    out->n = s->n;
    out->mean = sum / (double)s->n;
    out->min = bench_samples_pct(s, 0);
    out->p50 = bench_samples_pct(s, 50);
    out->p90 = bench_samples_pct(s, 90);
    out->p99 = bench_samples_pct(s, 99);
    out->max = bench_samples_pct(s, 100);
}

double bench_rate(uint64_t count, double seconds)
{
    return seconds > 0 ? (double)count / seconds : 0;
}

double bench_diff(double a, double b)
{
    return a - b;
}

double bench_ratio(double a, double b)
{
    return b != 0 ? a / b : 0;
}

int64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
