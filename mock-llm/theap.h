/* Binary min-heap of deadlines (intrusive): one timer per connection, so firing and re-arming are O(log n). */
#ifndef MOCK_THEAP_H
#define MOCK_THEAP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embed in the object that owns the deadline; start with mock_timer_init(). */
struct mock_timer {
    int64_t due_us;            /* monotonic microseconds */
    size_t idx;                /* slot in the heap, SIZE_MAX when not armed */
};

/* Embedded: mock_theap_init() / mock_theap_free(). Holds pointers only; owns no timers. */
struct mock_theap {
    struct mock_timer **v;
    size_t n;
    size_t cap;
};

void mock_timer_init(struct mock_timer *t);
static inline bool mock_timer_armed(const struct mock_timer *t) { return t->idx != SIZE_MAX; }

void mock_theap_init(struct mock_theap *h);
/* Free the slot array (the timers stay with their owners); NULL-safe. */
void mock_theap_free(struct mock_theap *h);
/* Arm 't' at 'due_us', or move it there if armed. Returns 0 or SH_ENOMEM. */
int mock_theap_arm(struct mock_theap *h, struct mock_timer *t, int64_t due_us);
/* Disarm 't' (no-op when not armed). */
void mock_theap_disarm(struct mock_theap *h, struct mock_timer *t);
/* Earliest timer, or NULL when empty. */
static inline struct mock_timer *mock_theap_peek(const struct mock_theap *h) { return h->n ? h->v[0] : NULL; }

#endif
