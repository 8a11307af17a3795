/* The llm-worker process state shared by its modules. */
#ifndef LLM_WORKER_H
#define LLM_WORKER_H
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "encode.h"
#include "metrics.h"
#include "offsets.h"
#include "session.h"

struct sh_producer;
struct sh_oai_client;
struct sh_map;
struct llm_gateways;

/* A consumed request, alive until everything it caused is delivered to
 * Kafka; then its offset becomes committable. */
struct llm_req {
    int32_t partition;
    int64_t offset;
    uint32_t gen;           /* partition generation when consumed */
    int refs;
    bool failed;            /* a delivery failed: never commit past it */
};

/* The token frame being coalesced (emit.c): tokens of one turn that arrive in the same poll
 * round leave as one frame, so a busy worker sends fewer, larger frames instead of falling
 * behind. Flushed before any other emit and at the end of every poll round. */
struct llm_tokbuf {
    struct llm_session *s;          /* borrowed; NULL when nothing is pending */
    char turn_id[SH_UUID_LEN + 1];
    char *text;                     /* owned, the concatenated contents */
    size_t len, cap;
    char *out;                      /* owned, encode buffer reused between frames */
    size_t out_cap;
};

/* One partition of chat.requests as this worker sees it. */
struct llm_part {
    bool assigned;
    uint32_t gen;           /* bumped on every assign/revoke */
    struct llm_offsets offs;
};

struct llm_worker {
    struct llm_config *cfg;
    rd_kafka_t *consumer;
    struct sh_producer *producer;
    struct sh_oai_client *llm;
    struct sh_map *sessions;        /* session id -> struct llm_session */
    struct llm_part *parts;
    int n_parts;
    int running;                    /* turns in flight */
    struct llm_session *wait_head, *wait_tail;  /* sessions waiting for a slot */
    json_t *tools;                  /* tools schema sent to the model */
    const char *t_requests, *t_events, *t_context;
    int64_t last_commit_ms;
    int64_t last_sweep_ms;
    uint64_t n_turns, n_tokens, n_errors;
    struct llm_metrics m;           /* chat_llm_* and readiness */
    struct llm_gateways *gateways;  /* gateway liveness (gateways.c), may be NULL */
    struct llm_tokbuf tok;          /* pending token frame (emit.c) */
    struct llm_jbuf enc;            /* envelope buffer reused by every other emit (emit.c) */
    struct llm_jbuf body;           /* request body buffer reused by every turn (turn.c) */
    char *tools_json;               /* 'tools' encoded once (turn.c); owned, NULL until used */
};

/* Request trackers (worker.c). */
struct llm_req *llm_req_new(struct llm_worker *w, int32_t partition, int64_t offset);
void llm_req_hold(struct llm_req *r);
/* Drop one reference; the last one marks the offset finished. NULL-safe. */
void llm_req_release(struct llm_worker *w, struct llm_req *r);
/* The partition slot, growing the table; NULL on ENOMEM. */
struct llm_part *llm_worker_part(struct llm_worker *w, int32_t partition);
/* Commit finished offsets of every assigned partition. */
void llm_worker_commit(struct llm_worker *w, bool sync);

/* Emitting (emit.c). Every function takes ownership of 'payload'. */
/* A client-visible frame of 'turn_id' to every route of 's', with the next
 * seq, kept in the replay buffer. Returns the seq used or a negative code.
 * A "token" frame whose payload is just {"content"} is held and joined with
 * the next tokens of the same turn until llm_emit_flush() or any other emit. */
int64_t llm_emit_frame(struct llm_worker *w, struct llm_session *s, const char *turn_id,
                       const char *type, json_t *payload);
/* A "token" frame with 'len' bytes of UTF-8 'text' (copied): llm_emit_frame() with payload
 * {"content": text}, held for coalescing without building that payload. */
int64_t llm_emit_token(struct llm_worker *w, struct llm_session *s, const char *turn_id,
                       const char *text, size_t len);
/* Send the pending coalesced token frame, if any. Called at the end of every poll round. */
void llm_emit_flush(struct llm_worker *w);
/* Flush, then free the coalescing and encoding buffers (at shutdown). */
void llm_emit_free(struct llm_worker *w);
/* A frame without seq to one reply topic (attached, refusals). */
int llm_emit_direct(struct llm_worker *w, const char *topic, const char *session_id,
                    const char *user_id, const char *turn_id, const char *type, json_t *payload);
/* A durable event on chat.events with an id derived from 'id_base'+'salt'
 * (so a re-run produces the same id); delivery is tracked by 'req'. */
int llm_emit_event(struct llm_worker *w, const struct llm_session *s, const char *turn_id,
                   const char *type, const char *id_base, const char *salt, json_t *payload,
                   struct llm_req *req);
/* The session's snapshot on chat.context, tracked by 'req' (may be NULL). */
int llm_emit_context(struct llm_worker *w, const struct llm_session *s, struct llm_req *req);
/* Re-send buffered frames with seq > after_seq to 'topic'. */
void llm_emit_replay(struct llm_worker *w, const struct llm_session *s, const char *topic,
                     int64_t after_seq);



/* Delivery callback for the worker's producer (ctx = worker). */
void llm_worker_on_delivery(void *ctx, void *opaque, rd_kafka_resp_err_t err);
/* Consume and stream until sh_stop, then finish running turns for up to
 * 'drain_ms', hand back the rest, flush and commit. */
int llm_worker_run(struct llm_worker *w, int64_t drain_ms);
#endif
