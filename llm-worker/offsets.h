/* Per-partition commit tracking of chat.requests: libshared's sh_offsets with
 * every request held until everything it caused is delivered, so the commit
 * point is the lowest offset not yet finished. The llm_offsets names are what
 * the worker's code calls. */
#ifndef LLM_OFFSETS_H
#define LLM_OFFSETS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sh_offsets.h"

struct llm_offsets {
    struct sh_offsets s;
};

/* Embedded: init/free (NULL-safe free). */
static inline void llm_offsets_init(struct llm_offsets *o)
{
    sh_offsets_init(&o->s);
}

static inline void llm_offsets_free(struct llm_offsets *o)
{
    if (o)
        sh_offsets_free(&o->s);
}

/* Record a consumed offset (must be greater than the previous one).
 * Returns 0 or SH_ENOMEM / SH_EINVAL. */
static inline int llm_offsets_add(struct llm_offsets *o, int64_t off)
{
    return sh_offsets_add(&o->s, off, true);
}

/* Mark 'off' finished. Returns 0, or SH_ENOTFOUND when it is not pending. */
static inline int llm_offsets_done(struct llm_offsets *o, int64_t off)
{
    return sh_offsets_done(&o->s, off);
}

/* The offset to commit (first unfinished, or next after the last), or -1
 * when nothing new is committable since the last call. */
static inline int64_t llm_offsets_commit_point(struct llm_offsets *o)
{
    return sh_offsets_commit_point(&o->s, false);
}

/* Offsets added and not yet finished. */
static inline size_t llm_offsets_pending(const struct llm_offsets *o)
{
    return sh_offsets_pending(&o->s);
}

#endif
