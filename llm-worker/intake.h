/* The chat.requests consumer: group membership, rebalances, dispatch. */
#ifndef LLM_INTAKE_H
#define LLM_INTAKE_H

struct llm_worker;

/* Create w->consumer, subscribed to chat.requests in the worker group.
 * Returns 0 or a negative code (logged). */
int llm_intake_create(struct llm_worker *w);
/* Handle up to 'max' queued requests without blocking; returns how many. */
int llm_intake_poll(struct llm_worker *w, int max);
/* Leave the group (revokes everything) and destroy the consumer. NULL-safe. */
void llm_intake_destroy(struct llm_worker *w);

#endif
