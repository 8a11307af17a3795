/* Commit point of one Kafka partition whose messages finish out of order:
 * the lowest offset still held (being worked on), else the one after the last
 * offset seen. Pure bookkeeping for the llm-worker (every request is held
 * until its effects are delivered) and the summarizer (only session_end
 * events are held, by their summary jobs).
 *
 * Offsets must arrive in increasing order (gaps are fine: compaction, control
 * records); finishing them may happen in any order. Adding is amortised O(1),
 * finishing O(log n). Not thread-safe: one owner thread. */
#ifndef SH_OFFSETS_H
#define SH_OFFSETS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Embedded; sh_offsets_init() before use, sh_offsets_free() after. */
struct sh_offsets {
    int64_t *offs;      /* ring of held offsets in arrival (= increasing) order */
    bool *done;         /* done[i]: offs[i] has finished (dropped once it leads the ring) */
    size_t head, len, cap;
    size_t held;        /* entries of the ring not done */
    int64_t next;       /* offset after the last one seen, -1 before the first */
    int64_t committed;  /* last point handed out by sh_offsets_commit_point(), -1 = none */
};

/* An empty tracker (nothing seen, nothing committed). NULL-safe. */
void sh_offsets_init(struct sh_offsets *o);
/* Free the ring and leave 'o' empty as after sh_offsets_init(). NULL-safe. */
void sh_offsets_free(struct sh_offsets *o);
/* Offset 'off' was consumed. 'held': it stays uncommitted until
 * sh_offsets_done(); otherwise it only moves the point past itself (it is
 * finished already). Returns 0, SH_EINVAL when 'off' is below one seen
 * before (nothing changes), or SH_ENOMEM (nothing changes). */
int sh_offsets_add(struct sh_offsets *o, int64_t off, bool held);
/* Held offset 'off' finished. Returns 0, or SH_ENOTFOUND when it is not held
 * (never added as held, or finished already). */
int sh_offsets_done(struct sh_offsets *o, int64_t off);
/* The commit point now, or -1 before the first offset. Changes nothing. */
int64_t sh_offsets_position(const struct sh_offsets *o);
/* The commit point to hand to Kafka: sh_offsets_position() when it moved
 * since the last call (or, with 'again', whenever there is one: a final
 * commit), else -1. Remembers what it returned. */
int64_t sh_offsets_commit_point(struct sh_offsets *o, bool again);
/* Offsets held and not yet finished. */
size_t sh_offsets_pending(const struct sh_offsets *o);

#endif
