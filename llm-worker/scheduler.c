/* Turn scheduling: one turn at a time per session, a global cap per process.
 * Sessions with queued turns wait in a FIFO for a free slot, so a busy
 * session cannot starve the others. */
#include "scheduler.h"
#include "turn.h"
#include "worker.h"

#include <stddef.h>

static void start_next(struct llm_worker *w, struct llm_session *s)
{
    struct llm_pending *p = s->pending;

    s->pending = p->next;
    if (!s->pending)
        s->pending_tail = NULL;
    p->next = NULL;
    llm_turn_start(w, s, p);
}

static void wait_push(struct llm_worker *w, struct llm_session *s)
{
    s->queued = true;
    s->next_waiting = NULL;
    if (w->wait_tail)
        w->wait_tail->next_waiting = s;
    else
        w->wait_head = s;
    w->wait_tail = s;
}

/* Start waiting sessions while slots are free. */
static void drain(struct llm_worker *w)
{
    while (w->wait_head && w->running < w->cfg->max_turns) {
        struct llm_session *s = w->wait_head;
        w->wait_head = s->next_waiting;
        if (!w->wait_head)
            w->wait_tail = NULL;
        s->queued = false;
        if (!s->turn && s->pending)
            start_next(w, s);
    }
}

void llm_sched_enqueue(struct llm_worker *w, struct llm_session *s, struct llm_pending *p)
{
    p->next = NULL;
    if (s->pending_tail)
        s->pending_tail->next = p;
    else
        s->pending = p;
    s->pending_tail = p;
    if (s->turn || s->queued)
        return;
    if (w->running < w->cfg->max_turns && !w->wait_head)
        start_next(w, s);
    else
        wait_push(w, s);
}

void llm_sched_turn_done(struct llm_worker *w, struct llm_session *s)
{
    if (s->pending && !s->queued)
        wait_push(w, s);
    drain(w);
}

void llm_sched_forget(struct llm_worker *w, struct llm_session *s)
{
    struct llm_session **pp = &w->wait_head, *prev = NULL;

    if (!s->queued)
        return;
    while (*pp && *pp != s) {
        prev = *pp;
        pp = &(*pp)->next_waiting;
    }
    if (*pp) {
        *pp = s->next_waiting;
        if (w->wait_tail == s)
            w->wait_tail = prev;
    }
    s->queued = false;
}
