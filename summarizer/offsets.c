/* Commit points of every partition the summarizer reads: a map from partition to its
 * sh_offsets (libshared), where session_end events stay held while their summary runs. */
#include "offsets.h"
#include "sh_err.h"
#include "sh_offsets.h"

#include <stdlib.h>
#include <string.h>

struct part {
    int32_t partition;
    struct sh_offsets offs;
};

struct sum_offsets {
    struct part *parts;
    size_t n, cap;
};

struct sum_offsets *sum_offsets_create(void)
{
    return calloc(1, sizeof(struct sum_offsets));
}

void sum_offsets_destroy(struct sum_offsets *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++)
        sh_offsets_free(&o->parts[i].offs);
    free(o->parts);
    free(o);
}

static struct part *find(struct sum_offsets *o, int32_t partition)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->parts[i].partition == partition)
            return &o->parts[i];
    return NULL;
}

static struct part *get(struct sum_offsets *o, int32_t partition)
{
    struct part *p = find(o, partition);

    if (p)
        return p;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        struct part *np = realloc(o->parts, cap * sizeof(*np));
        if (!np)
            return NULL;
        o->parts = np;
        o->cap = cap;
    }
    p = &o->parts[o->n++];
    p->partition = partition;
    sh_offsets_init(&p->offs);
    return p;
}

int sum_offsets_seen(struct sum_offsets *o, int32_t partition, int64_t offset, bool held)
{
    struct part *p = get(o, partition);
    int rc;

    if (!p)
        return SH_ENOMEM;
    rc = sh_offsets_add(&p->offs, offset, held);
    /* An offset below one seen (only after a broker-side reset) that nobody holds changes
     * nothing: the commit point is already past it. */
    return rc == SH_EINVAL && !held ? SH_OK : rc;
}

int sum_offsets_done(struct sum_offsets *o, int32_t partition, int64_t offset)
{
    struct part *p = find(o, partition);

    return p ? sh_offsets_done(&p->offs, offset) : SH_ENOTFOUND;
}

void sum_offsets_forget(struct sum_offsets *o, int32_t partition)
{
    struct part *p = find(o, partition);

    if (!p)
        return;
    sh_offsets_free(&p->offs);
    *p = o->parts[--o->n];
}

size_t sum_offsets_collect(struct sum_offsets *o, int32_t *parts, int64_t *next, size_t max,
                           bool all)
{
    size_t k = 0;

    for (size_t i = 0; i < o->n && k < max; i++) {
        int64_t at = sh_offsets_commit_point(&o->parts[i].offs, all);
        if (at < 0)
            continue;
        parts[k] = o->parts[i].partition;
        next[k++] = at;
    }
    return k;
}

size_t sum_offsets_held(const struct sum_offsets *o)
{
    size_t n = 0;

    for (size_t i = 0; i < o->n; i++)
        n += sh_offsets_pending(&o->parts[i].offs);
    return n;
}
