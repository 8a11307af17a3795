/* Per-partition commit tracking: offsets finish out of order, the commit point is the lowest
 * offset still held, else the one after the last seen. */
#include "sh_offsets.h"
#include "sh_err.h"

#include <stdlib.h>
#include <string.h>

void sh_offsets_init(struct sh_offsets *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof(*o));
    o->next = -1;
    o->committed = -1;
}

void sh_offsets_free(struct sh_offsets *o)
{
    if (!o)
        return;
    free(o->offs);
    free(o->done);
    sh_offsets_init(o);
}

static int grow(struct sh_offsets *o)
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

int sh_offsets_add(struct sh_offsets *o, int64_t off, bool held)
{
    size_t i;

    if (off < o->next)
        return SH_EINVAL;
    if (held) {
        if (o->len == o->cap && grow(o))
            return SH_ENOMEM;
        i = (o->head + o->len) % o->cap;
        o->offs[i] = off;
        o->done[i] = false;
        o->len++;
        o->held++;
    }
    o->next = off + 1;
    return SH_OK;
}

int sh_offsets_done(struct sh_offsets *o, int64_t off)
{
    /* Offsets are sorted, so binary search over the ring. */
    size_t lo = 0, hi = o->len;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2, at = (o->head + mid) % o->cap;
        int64_t v = o->offs[at];

        if (v == off) {
            if (o->done[at])
                return SH_ENOTFOUND;
            o->done[at] = true;
            o->held--;
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

int64_t sh_offsets_position(const struct sh_offsets *o)
{
    if (o->next < 0)
        return -1;
    return o->len ? o->offs[o->head] : o->next;
}

int64_t sh_offsets_commit_point(struct sh_offsets *o, bool again)
{
    int64_t point = sh_offsets_position(o);

    /* The point never goes back (held offsets are >= it), so "moved" is "greater". */
    if (point < 0 || (!again && point <= o->committed))
        return -1;
    o->committed = point;
    return point;
}

size_t sh_offsets_pending(const struct sh_offsets *o)
{
    return o->held;
}
