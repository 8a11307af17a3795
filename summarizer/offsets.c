/* Commit points for out-of-order completion: lowest held offset, else after the last seen. */
#include "offsets.h"
#include "sh_err.h"

#include <stdlib.h>
#include <string.h>

struct part {
    int32_t partition;
    int64_t next;          /* after the last offset seen */
    int64_t reported;      /* last commit point handed out, -1 = none */
    int64_t *held;         /* increasing */
    size_t n_held, cap_held;
};

struct sum_offsets {
    struct part *parts;
    size_t n, cap;
    size_t held;
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
        free(o->parts[i].held);
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
    memset(p, 0, sizeof(*p));
    p->partition = partition;
    p->next = -1;
    p->reported = -1;
    return p;
}

int sum_offsets_seen(struct sum_offsets *o, int32_t partition, int64_t offset, bool held)
{
    struct part *p = get(o, partition);

    if (!p)
        return SH_ENOMEM;
    if (held) {
        if (p->n_held == p->cap_held) {
            size_t cap = p->cap_held ? p->cap_held * 2 : 16;
            int64_t *nh = realloc(p->held, cap * sizeof(*nh));
            if (!nh)
                return SH_ENOMEM;
            p->held = nh;
            p->cap_held = cap;
        }
        p->held[p->n_held++] = offset;
        o->held++;
    }
    if (offset + 1 > p->next)
        p->next = offset + 1;
    return SH_OK;
}

int sum_offsets_done(struct sum_offsets *o, int32_t partition, int64_t offset)
{
    struct part *p = find(o, partition);

    if (!p)
        return SH_ENOTFOUND;
    for (size_t i = 0; i < p->n_held; i++)
        if (p->held[i] == offset) {
            memmove(&p->held[i], &p->held[i + 1], (p->n_held - i - 1) * sizeof(*p->held));
            p->n_held--;
            o->held--;
            return SH_OK;
        }
    return SH_ENOTFOUND;
}

void sum_offsets_forget(struct sum_offsets *o, int32_t partition)
{
    struct part *p = find(o, partition);

    if (!p)
        return;
    o->held -= p->n_held;
    free(p->held);
    *p = o->parts[--o->n];
}

size_t sum_offsets_collect(struct sum_offsets *o, int32_t *parts, int64_t *next, size_t max,
                           bool all)
{
    size_t k = 0;

    for (size_t i = 0; i < o->n && k < max; i++) {
        struct part *p = &o->parts[i];
        int64_t at = p->n_held ? p->held[0] : p->next;
        if (at < 0 || (!all && at == p->reported))
            continue;
        parts[k] = p->partition;
        next[k++] = at;
        p->reported = at;
    }
    return k;
}

size_t sum_offsets_held(const struct sum_offsets *o)
{
    return o->held;
}
