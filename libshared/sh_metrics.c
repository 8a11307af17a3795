/* Metrics registry with lock-free updates and Prometheus text rendering. */
#include "sh_metrics.h"
#include "sh_err.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sh_metric {
    enum sh_metric_type type;
    struct sh_metric *fam;              /* itself for a family, else its family */
    /* Family fields (NULL/0 in children). */
    char *name, *help, *label;
    double *bounds;
    size_t n_bounds;
    size_t n_children;                  /* guarded by the registry mutex */
    _Atomic(struct sh_metric *) first_child;
    struct sh_metric *last_child;       /* guarded by the registry mutex */
    struct sh_metric *next;             /* next family; guarded by the mutex */
    struct sh_metrics *reg;
    /* Series fields. */
    char *label_value;                  /* children only */
    _Atomic(struct sh_metric *) next_child;
    _Atomic uint64_t value;             /* counter count, or gauge bits */
    _Atomic uint64_t sum_bits;          /* histogram sum, as double bits */
    _Atomic uint64_t *buckets;          /* histogram: n_bounds + 1 (last: +Inf) */
};

struct sh_metrics {
    pthread_mutex_t mu;
    struct sh_metric *first, *last;
};

static const double default_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static uint64_t d2u(double d)
{
    uint64_t u;

    memcpy(&u, &d, sizeof(u));
    return u;
}

static double u2d(uint64_t u)
{
    double d;

    memcpy(&d, &u, sizeof(d));
    return d;
}

/* Lock-free 'a += delta' on a double kept as bits. */
static void atomic_add_double(_Atomic uint64_t *a, double delta)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(a, &old, d2u(u2d(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

static bool name_ok(const char *s, bool colon)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                     (colon && c == ':');
        if (!alpha && (p == s || c < '0' || c > '9'))
            return false;
    }
    return true;
}

static bool label_ok(const char *s)
{
    return name_ok(s, false) && strncmp(s, "__", 2) != 0 && strcmp(s, "le") != 0;
}

static void metric_free(struct sh_metric *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->help);
    free(m->label);
    free(m->label_value);
    free(m->bounds);
    free(m->buckets);
    free(m);
}

/* A zeroed series of family 'fam' (whose type and bounds are set). */
static struct sh_metric *series_new(struct sh_metric *fam)
{
    struct sh_metric *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->type = fam->type;
    s->fam = fam;
    atomic_init(&s->value, 0);
    atomic_init(&s->sum_bits, d2u(0.0));
    atomic_init(&s->first_child, NULL);
    atomic_init(&s->next_child, NULL);
    if (fam->type == SH_METRIC_HISTOGRAM) {
        s->buckets = malloc((fam->n_bounds + 1) * sizeof(*s->buckets));
        if (!s->buckets) {
            free(s);
            return NULL;
        }
        for (size_t i = 0; i <= fam->n_bounds; i++)
            atomic_init(&s->buckets[i], 0);
    }
    return s;
}

static struct sh_metric *family_new(struct sh_metrics *reg, enum sh_metric_type type,
                                    const char *name, const char *help, const char *label,
                                    const double *bounds, size_t n_bounds)
{
    struct sh_metric *m = NULL;
    struct sh_metric tmpl = {.type = type, .n_bounds = n_bounds};

    if (!reg || !name_ok(name, true) || (label && !label_ok(label)))
        return NULL;
    if (type == SH_METRIC_HISTOGRAM) {
        if (n_bounds > SH_METRICS_MAX_BUCKETS || (n_bounds && !bounds))
            return NULL;
        for (size_t i = 0; i < n_bounds; i++)
            if (!isfinite(bounds[i]) || (i && bounds[i] <= bounds[i - 1]))
                return NULL;
    }
    if (!(m = series_new(&tmpl)))
        return NULL;
    m->fam = m;
    m->reg = reg;
    m->n_bounds = n_bounds;
    m->name = strdup(name);
    m->help = strdup(help ? help : "");
    m->label = label ? strdup(label) : NULL;
    if (n_bounds) {
        m->bounds = malloc(n_bounds * sizeof(*bounds));
        if (m->bounds)
            memcpy(m->bounds, bounds, n_bounds * sizeof(*bounds));
    }
    if (!m->name || !m->help || (label && !m->label) || (n_bounds && !m->bounds)) {
        metric_free(m);
        return NULL;
    }
    return m;
}

/* Add 'm' to the registry unless its name is taken; frees it then. */
static struct sh_metric *family_add(struct sh_metrics *reg, struct sh_metric *m)
{
    if (!m)
        return NULL;
    pthread_mutex_lock(&reg->mu);
    for (struct sh_metric *f = reg->first; f; f = f->next) {
        if (!strcmp(f->name, m->name)) {
            pthread_mutex_unlock(&reg->mu);
            metric_free(m);
            return NULL;
        }
    }
    if (reg->last)
        reg->last->next = m;
    else
        reg->first = m;
    reg->last = m;
    pthread_mutex_unlock(&reg->mu);
    return m;
}

struct sh_metrics *sh_metrics_create(void)
{
    struct sh_metrics *reg = calloc(1, sizeof(*reg));

    if (!reg)
        return NULL;
    if (pthread_mutex_init(&reg->mu, NULL) != 0) {
        free(reg);
        return NULL;
    }
    return reg;
}

void sh_metrics_destroy(struct sh_metrics *reg)
{
    struct sh_metric *f, *fnext, *c, *cnext;

    if (!reg)
        return;
    for (f = reg->first; f; f = fnext) {
        fnext = f->next;
        for (c = atomic_load(&f->first_child); c; c = cnext) {
            cnext = atomic_load(&c->next_child);
            metric_free(c);
        }
        metric_free(f);
    }
    pthread_mutex_destroy(&reg->mu);
    free(reg);
}

struct sh_metric *sh_metrics_counter(struct sh_metrics *reg, const char *name,
                                     const char *help, const char *label)
{
    return family_add(reg, family_new(reg, SH_METRIC_COUNTER, name, help, label, NULL, 0));
}

struct sh_metric *sh_metrics_gauge(struct sh_metrics *reg, const char *name,
                                   const char *help, const char *label)
{
    return family_add(reg, family_new(reg, SH_METRIC_GAUGE, name, help, label, NULL, 0));
}

struct sh_metric *sh_metrics_histogram(struct sh_metrics *reg, const char *name,
                                       const char *help, const char *label,
                                       const double *bounds, size_t n_bounds)
{
    if (!bounds && !n_bounds) {
        bounds = default_bounds;
        n_bounds = sizeof(default_bounds) / sizeof(default_bounds[0]);
    }
    return family_add(reg, family_new(reg, SH_METRIC_HISTOGRAM, name, help, label, bounds,
                                      n_bounds));
}

static struct sh_metric *child_find(struct sh_metric *fam, const char *value)
{
    struct sh_metric *c = atomic_load_explicit(&fam->first_child, memory_order_acquire);

    for (; c; c = atomic_load_explicit(&c->next_child, memory_order_acquire))
        if (!strcmp(c->label_value, value))
            return c;
    return NULL;
}

struct sh_metric *sh_metric_child(struct sh_metric *fam, const char *value)
{
    struct sh_metric *c;

    if (!fam || fam->fam != fam || !fam->label || !value)
        return NULL;
    if ((c = child_find(fam, value)))
        return c;
    pthread_mutex_lock(&fam->reg->mu);
    /* Another thread may have added it between the lock-free look and here. */
    if ((c = child_find(fam, value)) || fam->n_children >= SH_METRICS_MAX_CHILDREN)
        goto out;
    if (!(c = series_new(fam)))
        goto out;
    if (!(c->label_value = strdup(value))) {
        metric_free(c);
        c = NULL;
        goto out;
    }
    /* Release: a reader that sees the pointer sees the initialised series. */
    if (fam->last_child)
        atomic_store_explicit(&fam->last_child->next_child, c, memory_order_release);
    else
        atomic_store_explicit(&fam->first_child, c, memory_order_release);
    fam->last_child = c;
    fam->n_children++;
out:
    pthread_mutex_unlock(&fam->reg->mu);
    return c;
}

void sh_counter_add(struct sh_metric *c, uint64_t n)
{
    if (c && c->type == SH_METRIC_COUNTER)
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

void sh_counter_inc(struct sh_metric *c)
{
    sh_counter_add(c, 1);
}

void sh_gauge_set(struct sh_metric *g, double v)
{
    if (g && g->type == SH_METRIC_GAUGE)
        atomic_store_explicit(&g->value, d2u(v), memory_order_relaxed);
}

void sh_gauge_add(struct sh_metric *g, double delta)
{
    if (g && g->type == SH_METRIC_GAUGE)
        atomic_add_double(&g->value, delta);
}

void sh_histogram_observe(struct sh_metric *h, double v)
{
    size_t i, n;

    if (!h || h->type != SH_METRIC_HISTOGRAM || isnan(v))
        return;
    n = h->fam->n_bounds;
    for (i = 0; i < n && v > h->fam->bounds[i]; i++)
        ;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_add_double(&h->sum_bits, v);
}

uint64_t sh_counter_value(const struct sh_metric *c)
{
    if (!c || c->type != SH_METRIC_COUNTER)
        return 0;
    return atomic_load_explicit(&((struct sh_metric *)c)->value, memory_order_relaxed);
}

double sh_gauge_value(const struct sh_metric *g)
{
    if (!g || g->type != SH_METRIC_GAUGE)
        return 0;
    return u2d(atomic_load_explicit(&((struct sh_metric *)g)->value, memory_order_relaxed));
}

uint64_t sh_histogram_count(const struct sh_metric *h)
{
    uint64_t n = 0;

    if (!h || h->type != SH_METRIC_HISTOGRAM)
        return 0;
    for (size_t i = 0; i <= h->fam->n_bounds; i++)
        n += atomic_load_explicit(&((struct sh_metric *)h)->buckets[i], memory_order_relaxed);
    return n;
}

/* ---- rendering ---------------------------------------------------------------------- */

/* A value as Prometheus writes it: shortest text that reads back exactly. */
static void put_double(FILE *f, double d)
{
    char buf[40];

    if (isnan(d)) {
        fputs("NaN", f);
        return;
    }
    if (isinf(d)) {
        fputs(d > 0 ? "+Inf" : "-Inf", f);
        return;
    }
    snprintf(buf, sizeof(buf), "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, sizeof(buf), "%.17g", d);
    fputs(buf, f);
}

/* HELP text escapes '\' and newline; label values also escape '"'. */
static void put_escaped(FILE *f, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else if (quote && *s == '"')
            fputs("\\\"", f);
        else
            fputc(*s, f);
    }
}

/* "{label="value"" without the closing brace, or nothing for a plain series. */
static void put_labels_open(FILE *f, const struct sh_metric *fam, const struct sh_metric *s)
{
    if (!s->label_value)
        return;
    fprintf(f, "{%s=\"", fam->label);
    put_escaped(f, s->label_value, true);
    fputc('"', f);
}

static void render_series(FILE *f, const struct sh_metric *fam, struct sh_metric *s)
{
    uint64_t cum = 0;

    switch (fam->type) {
    case SH_METRIC_COUNTER:
    case SH_METRIC_GAUGE:
        fputs(fam->name, f);
        put_labels_open(f, fam, s);
        fputs(s->label_value ? "} " : " ", f);
        if (fam->type == SH_METRIC_COUNTER)
            fprintf(f, "%llu", (unsigned long long)sh_counter_value(s));
        else
            put_double(f, sh_gauge_value(s));
        fputc('\n', f);
        return;
    case SH_METRIC_HISTOGRAM:
        /* _count is the +Inf bucket as rendered, so the two always agree even
         * while other threads observe. */
        for (size_t i = 0; i <= fam->n_bounds; i++) {
            cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
            fprintf(f, "%s_bucket", fam->name);
            put_labels_open(f, fam, s);
            fputs(s->label_value ? ",le=\"" : "{le=\"", f);
            if (i < fam->n_bounds)
                put_double(f, fam->bounds[i]);
            else
                fputs("+Inf", f);
            fprintf(f, "\"} %llu\n", (unsigned long long)cum);
        }
        fprintf(f, "%s_sum", fam->name);
        put_labels_open(f, fam, s);
        fputs(s->label_value ? "} " : " ", f);
        put_double(f, u2d(atomic_load_explicit(&s->sum_bits, memory_order_relaxed)));
        fprintf(f, "\n%s_count", fam->name);
        put_labels_open(f, fam, s);
        fprintf(f, "%s %llu\n", s->label_value ? "}" : "", (unsigned long long)cum);
        return;
    }
}

int sh_metrics_render(struct sh_metrics *reg, char **out, size_t *len)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    char *buf = NULL;
    size_t n = 0;
    FILE *f;
    int rc;

    if (!reg || !out)
        return SH_EINVAL;
    *out = NULL;
    if (!(f = open_memstream(&buf, &n)))
        return SH_ENOMEM;
    pthread_mutex_lock(&reg->mu);
    for (struct sh_metric *m = reg->first; m; m = m->next) {
        fprintf(f, "# HELP %s ", m->name);
        put_escaped(f, m->help, false);
        fprintf(f, "\n# TYPE %s %s\n", m->name, type_names[m->type]);
        if (!m->label) {
            render_series(f, m, m);
            continue;
        }
        for (struct sh_metric *c = atomic_load_explicit(&m->first_child, memory_order_acquire);
             c; c = atomic_load_explicit(&c->next_child, memory_order_acquire))
            render_series(f, m, c);
    }
    pthread_mutex_unlock(&reg->mu);
    rc = ferror(f) ? SH_ENOMEM : SH_OK;
    if (fclose(f) != 0)
        rc = SH_ENOMEM;
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    if (len)
        *len = n;
    return SH_OK;
}
