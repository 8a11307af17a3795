/* Turn scheduling: one turn at a time per session, a global cap per process. */
#ifndef LLM_SCHEDULER_H
#define LLM_SCHEDULER_H

struct llm_worker;
struct llm_session;
struct llm_pending;

/* Queue a user_message for 's' (takes ownership of 'p') and start it when
 * the session is idle and a slot is free. */
void llm_sched_enqueue(struct llm_worker *w, struct llm_session *s, struct llm_pending *p);
/* Forget 's' in the wait list (before destroying it). */
void llm_sched_forget(struct llm_worker *w, struct llm_session *s);

#endif
