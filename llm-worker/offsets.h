/* Per-partition commit tracking: offsets finish out of order, the commit
 * point is the lowest offset not yet finished. */
#ifndef LLM_OFFSETS_H
#define LLM_OFFSETS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct llm_offsets {
    int64_t *offs;      /* ring of offsets in arrival (= increasing) order */
    bool *done;
    size_t head, len, cap;
    int64_t next;       /* offset after the last one added (commit point when empty) */
    int64_t committed;  /* last commit point handed out by llm_offsets_commit_point() */
};

/* Embedded: init/free. */
void llm_offsets_init(struct llm_offsets *o);
void llm_offsets_free(struct llm_offsets *o);
/* Record a consumed offset (must be greater than the previous one).
 * Returns 0 or SH_ENOMEM / SH_EINVAL. */
int llm_offsets_add(struct llm_offsets *o, int64_t off);
/* Mark 'off' finished. Returns 0, or SH_ENOTFOUND when it was never added. */
int llm_offsets_done(struct llm_offsets *o, int64_t off);
/* The offset to commit (first unfinished, or next after the last), or -1
 * when nothing new is committable since the last call. */
int64_t llm_offsets_commit_point(struct llm_offsets *o);
/* Offsets added and not yet finished. */
size_t llm_offsets_pending(const struct llm_offsets *o);

#endif
