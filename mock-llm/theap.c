/* Binary min-heap of deadlines (intrusive): one timer per connection, so firing and re-arming are O(log n). */
#include "theap.h"
#include "sh_err.h"

#include <stdlib.h>

void mock_timer_init(struct mock_timer *t)
{
    t->due_us = 0;
    t->idx = SIZE_MAX;
}

void mock_theap_init(struct mock_theap *h)
{
    h->v = NULL;
    h->n = 0;
    h->cap = 0;
}

void mock_theap_free(struct mock_theap *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        h->v[i]->idx = SIZE_MAX;
    free(h->v);
    mock_theap_init(h);
}

static void place(struct mock_theap *h, size_t i, struct mock_timer *t)
{
    h->v[i] = t;
    t->idx = i;
}

static void sift_up(struct mock_theap *h, size_t i)
{
    struct mock_timer *t = h->v[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->v[parent]->due_us <= t->due_us)
            break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(struct mock_theap *h, size_t i)
{
    struct mock_timer *t = h->v[i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1]->due_us < h->v[c]->due_us)
            c++;
        if (t->due_us <= h->v[c]->due_us)
            break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, t);
}

int mock_theap_arm(struct mock_theap *h, struct mock_timer *t, int64_t due_us)
{
    if (mock_timer_armed(t)) {
        int64_t old = t->due_us;
        t->due_us = due_us;
        if (due_us < old)
            sift_up(h, t->idx);
        else
            sift_down(h, t->idx);
        return SH_OK;
    }
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        struct mock_timer **v = realloc(h->v, cap * sizeof(*v));
        if (!v)
            return SH_ENOMEM;
        h->v = v;
        h->cap = cap;
    }
    t->due_us = due_us;
    place(h, h->n++, t);
    sift_up(h, t->idx);
    return SH_OK;
}

void mock_theap_disarm(struct mock_theap *h, struct mock_timer *t)
{
    size_t i = t->idx;
    struct mock_timer *last;

    if (!mock_timer_armed(t))
        return;
    t->idx = SIZE_MAX;
    last = h->v[--h->n];
    if (i == h->n)
        return;
    place(h, i, last);
    /* The moved timer may belong above or below its new slot. */
    if (i > 0 && h->v[(i - 1) / 2]->due_us > last->due_us)
        sift_up(h, i);
    else
        sift_down(h, i);
}
