/* Per-partition commit tracking: offsets finish out of order, the commit
 * point is the lowest offset not yet finished. */
#include "offsets.h"
#include "sh_err.h"

#include <stdlib.h>
#include <string.h>

void llm_offsets_init(struct llm_offsets *o)
{
    memset(o, 0, sizeof(*o));
    o->next = -1;
    o->committed = -1;
}

void llm_offsets_free(struct llm_offsets *o)
{
    if (!o)
        return;
    free(o->offs);
    free(o->done);
    llm_offsets_init(o);
}

static int grow(struct llm_offsets *o)
{
    size_t cap = o->cap ? o->cap * 2 : 64;
    int64_t *offs = malloc(cap * sizeof(*offs));
    bool *done = malloc(cap * sizeof(*done));

    if (!offs || !done) {
        free(offs);
        free(done);
        return SH_ENOMEM;
    }
    for (size_t i = 0; i < o->len; i++) {     /* unwrap the ring */
        offs[i] = o->offs[(o->head + i) % o->cap];
        done[i] = o->done[(o->head + i) % o->cap];
    }
    free(o->offs);
    free(o->done);
    o->offs = offs;
    o->done = done;
    o->head = 0;
    o->cap = cap;
    return SH_OK;
}

int llm_offsets_add(struct llm_offsets *o, int64_t off)
{
    size_t i;

    if (off < o->next)
        return SH_EINVAL;
    if (o->len == o->cap && grow(o))
        return SH_ENOMEM;
    i = (o->head + o->len) % o->cap;
    o->offs[i] = off;
    o->done[i] = false;
    o->len++;
    o->next = off + 1;
    return SH_OK;
}

int llm_offsets_done(struct llm_offsets *o, int64_t off)
{
    /* Offsets are sorted, so binary search over the ring. */
    size_t lo = 0, hi = o->len;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int64_t v = o->offs[(o->head + mid) % o->cap];
        if (v == off) {
            o->done[(o->head + mid) % o->cap] = true;
            while (o->len && o->done[o->head]) {   /* drop the finished prefix */
                o->head = (o->head + 1) % o->cap;
                o->len--;
            }
            return SH_OK;
        }
        if (v < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SH_ENOTFOUND;
}

int64_t llm_offsets_commit_point(struct llm_offsets *o)
{
    int64_t point;

    if (o->next < 0)
        return -1;
    point = o->len ? o->offs[o->head] : o->next;
    if (point <= o->committed)
        return -1;
    o->committed = point;
    return point;
}

size_t llm_offsets_pending(const struct llm_offsets *o)
{
    return o->len;
}
