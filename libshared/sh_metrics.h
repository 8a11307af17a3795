/* A small metrics registry: counters, gauges and fixed-bucket histograms,
 * each without labels or with one label, rendered in the Prometheus text
 * exposition format (version 0.0.4).
 *
 * Threads: registering families and children takes the registry's mutex;
 * updates (sh_counter_*, sh_gauge_*, sh_histogram_observe) are lock-free
 * C11 atomics and may run on any thread at any rate. Every update function
 * is a no-op on NULL, so a service may keep going when registration failed.
 *
 * Ownership: the registry owns every struct sh_metric it hands out; they
 * stay valid until sh_metrics_destroy(), which must run after the last
 * update and the last render (stop the admin server first). */
#ifndef SH_METRICS_H
#define SH_METRICS_H
#include <stddef.h>
#include <stdint.h>

enum sh_metric_type { SH_METRIC_COUNTER, SH_METRIC_GAUGE, SH_METRIC_HISTOGRAM };

struct sh_metrics;      /* the registry */
struct sh_metric;       /* a family, or one labelled series of a family */

/* Most histogram buckets a family may have (+Inf comes on top). */
#define SH_METRICS_MAX_BUCKETS 32
/* Most label values (children) one labelled family may have. */
#define SH_METRICS_MAX_CHILDREN 1024

/* An empty registry, or NULL on allocation failure. Free with
 * sh_metrics_destroy(). */
struct sh_metrics *sh_metrics_create(void);
/* Free the registry and every metric it handed out. NULL-safe. */
void sh_metrics_destroy(struct sh_metrics *reg);

/* Register a counter (monotonic, uint64) named 'name' with one help line.
 * 'label' is NULL for a plain counter, or the name of its single label:
 * then update the children from sh_metric_child(), not the family itself.
 * Names follow Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*; labels
 * [a-zA-Z_][a-zA-Z0-9_]*, not "le" nor starting with "__"); by convention
 * counter names end in _total. 'name', 'help', 'label' are copied.
 * Returns the family, or NULL on a bad or duplicate name, or no memory. */
struct sh_metric *sh_metrics_counter(struct sh_metrics *reg, const char *name,
                                     const char *help, const char *label);
/* Register a gauge (a double that goes up and down); as sh_metrics_counter(). */
struct sh_metric *sh_metrics_gauge(struct sh_metrics *reg, const char *name,
                                   const char *help, const char *label);
/* Register a histogram with 'n_bounds' finite, strictly increasing upper
 * bounds (+Inf is implicit); 'bounds' NULL with 'n_bounds' 0 picks the
 * latency buckets in seconds 0.005 .. 10. 'bounds' is copied. Returns
 * NULL as sh_metrics_counter() does, or on bad bounds or more than
 * SH_METRICS_MAX_BUCKETS of them. */
struct sh_metric *sh_metrics_histogram(struct sh_metrics *reg, const char *name,
                                       const char *help, const char *label,
                                       const double *bounds, size_t n_bounds);

/* The series of labelled family 'fam' whose label has 'value' (copied),
 * made on first use. Look it up once and keep the pointer: a lookup walks
 * the children (lock-free), a first use takes the registry mutex. Returns
 * NULL when 'fam' is NULL or unlabelled, or past SH_METRICS_MAX_CHILDREN
 * values, or without memory. Owned by the registry. */
struct sh_metric *sh_metric_child(struct sh_metric *fam, const char *value);

/* Add 'n' / 1 to a counter. No-op on NULL or on another type. */
void sh_counter_add(struct sh_metric *c, uint64_t n);
void sh_counter_inc(struct sh_metric *c);
/* Set a gauge to 'v' / add 'delta' (negative to decrease). No-op on NULL
 * or on another type. */
void sh_gauge_set(struct sh_metric *g, double v);
void sh_gauge_add(struct sh_metric *g, double delta);
/* Count 'v' in the first bucket whose bound is >= v and add it to the sum.
 * NaN is ignored. No-op on NULL or on another type. */
void sh_histogram_observe(struct sh_metric *h, double v);

/* Current values, for tests and for services that also act on them: a
 * counter's count, a gauge's value, a histogram's number of observations.
 * 0 on NULL or on another type. */
uint64_t sh_counter_value(const struct sh_metric *c);
double sh_gauge_value(const struct sh_metric *g);
uint64_t sh_histogram_count(const struct sh_metric *h);

/* Render every family in registration order (children in creation order)
 * as Prometheus text: "# HELP", "# TYPE", then the samples; histograms as
 * cumulative name_bucket{le="..."} lines, name_sum and name_count.
 * On success '*out' is a NUL-terminated malloc'd string the caller frees
 * and '*len' (may be NULL) its length. Returns 0 or SH_ENOMEM/SH_EINVAL. */
int sh_metrics_render(struct sh_metrics *reg, char **out, size_t *len);

#endif
