/* One turn: the user's message through the LLM (and tools) to `done`. */
#ifndef LLM_TURN_H
#define LLM_TURN_H

struct llm_worker;
struct llm_session;
struct llm_pending;
struct llm_turn;
struct sh_env;

/* Start the turn for the queued request 'p' of 's' (which has no running
 * turn). Takes ownership of 'p' and its tracker reference. The turn ends
 * itself: it emits done, updates the session, and calls
 * llm_sched_turn_done(). Returns 0; on failure the turn has already ended
 * with an error frame. */
int llm_turn_start(struct llm_worker *w, struct llm_session *s, struct llm_pending *p);
/* Cancel the session's running turn; it ends with finish_reason
 * "cancelled", possibly before this returns (do not touch s->turn after). */
void llm_turn_stop(struct llm_worker *w, struct llm_session *s);
/* Tear the running turn down without emitting anything (partition revoked,
 * shutdown): its request stays uncommitted so the next owner re-runs it. */
void llm_turn_abandon(struct llm_worker *w, struct llm_session *s);

/* The request the running turn answers (borrowed). */
const struct sh_env *llm_turn_env(const struct llm_turn *t);

/* Scheduler hook (scheduler.c). */
void llm_sched_turn_done(struct llm_worker *w, struct llm_session *s);

#endif
