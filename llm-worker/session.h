/* The session actor's state: owner, history, seq, routes, queued turns and
 * the replay buffer, plus its snapshot form on the chat.context topic. */
#ifndef LLM_SESSION_H
#define LLM_SESSION_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "encode.h"
#include "sh_envelope.h"

#define LLM_MAX_ROUTES   8
#define LLM_RECENT_TURNS 64

struct llm_turn;
struct llm_req;

/* A user_message waiting for the session's running turn to finish. */
struct llm_pending {
    struct llm_pending *next;
    struct sh_env env;          /* owns its payload */
    struct llm_req *req;        /* offset tracker reference, released when done */
};

/* One buffered reply frame for replay to a reconnecting client. */
struct llm_frame {
    int64_t seq;
    char *data;                 /* encoded envelope (no reply_to) */
    size_t len;
};

struct llm_session {
    char id[SH_UUID_LEN + 1];
    char user_id[SH_USER_ID_MAX + 1];
    int32_t partition;
    int64_t created_ms;         /* wall clock of session start */
    int64_t last_active_ms;     /* monotonic */
    int64_t next_seq;
    json_t *history;            /* [{role, content}] */
    struct llm_jbuf hist_enc;   /* the same messages JSON-encoded, comma-joined, no brackets:
                                 * snapshots and request bodies copy it instead of dumping */
    size_t *hist_lens;          /* encoded length of each message of hist_enc */
    size_t hist_lens_cap;
    json_t *done_turns;         /* recent finished turn ids */
    json_t *client_ids;         /* recent client message ids */
    char running_turn[SH_UUID_LEN + 1];   /* from the snapshot: a turn was in progress */
    int64_t seq_reserved;       /* seq values below this may already be used */
    char routes[LLM_MAX_ROUTES][SH_TOPIC_MAX + 1];
    int64_t route_ts[LLM_MAX_ROUTES];   /* newest request ts (gateway clock) per route; 0 unknown */
    int n_routes;
    int64_t closed_ms;          /* wall clock when the last route left; 0 = open or ended */
    int64_t applied_offset;     /* newest chat.requests offset of this session whose effects
                                 * are in the state (-1 none): replays at or below it are old */
    struct llm_turn *turn;      /* running turn or NULL */
    struct llm_pending *pending, *pending_tail;
    struct llm_frame *frames;   /* replay buffer: current or last turn */
    size_t n_frames, cap_frames;
    bool queued;                /* waiting for a free turn slot */
    struct llm_session *next_waiting;
};

/* A new empty session owned by 'user_id'. NULL on allocation failure.
 * Free with llm_session_destroy(). */
struct llm_session *llm_session_create(const char *id, const char *user_id, int32_t partition);
/* Frees pending requests (without releasing their trackers: the caller
 * does that first), frames and JSON. The turn must already be gone. NULL-safe. */
void llm_session_destroy(struct llm_session *s);

/* Snapshot payload for chat.context. New reference, NULL on ENOMEM. */
json_t *llm_session_snapshot(const struct llm_session *s);
/* Append the same snapshot, JSON-encoded (the bytes json_dumps(llm_session_snapshot(s),
 * JSON_COMPACT) makes), to 'b'. Returns 0 or SH_ENOMEM. */
int llm_session_snapshot_write(const struct llm_session *s, struct llm_jbuf *b);
/* Rebuild a session from a snapshot payload. A snapshot taken mid-turn
 * moves next_seq past the turn's reservation so seq never goes back.
 * NULL when the payload is malformed. */
struct llm_session *llm_session_restore(const char *id, int32_t partition, json_t *snap);

/* Route handling: add/remove a gateway reply topic. Add returns SH_EFULL
 * when LLM_MAX_ROUTES are taken (the oldest is then replaced). */
int llm_session_route_add(struct llm_session *s, const char *topic);
void llm_session_route_del(struct llm_session *s, const char *topic);
/* Like llm_session_route_del(), but the session counts as closed at 'when_ms' (wall clock)
 * when this was its last route: give it the close request's own timestamp, so that a replay
 * of that request closes it at the same instant and its session_end keeps the same id. */
void llm_session_route_close(struct llm_session *s, const char *topic, int64_t when_ms);
/* Record that the gateway behind route 'topic' sent a request stamped 'ts' (its own wall
 * clock, ms) for this session: the route belongs to the gateway process that was running then
 * (see gateways.h). Keeps the newest; no-op when 'topic' is not a route. */
void llm_session_route_touch(struct llm_session *s, const char *topic, int64_t ts);

/* Append a user/assistant message, keeping at most 'max' messages. */
int llm_session_history_add(struct llm_session *s, const char *role, const char *content,
                            int64_t max);
/* Remember a finished turn (and its client id); bounded. */
int llm_session_mark_done(struct llm_session *s, const char *turn_id, const char *client_id);
/* True when the turn id or (non-empty) client id was already answered. */
bool llm_session_seen(const struct llm_session *s, const char *turn_id, const char *client_id);

/* Replay buffer: clear it (a new turn starts) or append a copy of 'data'. */
void llm_session_frames_clear(struct llm_session *s);
int llm_session_frames_add(struct llm_session *s, int64_t seq, const char *data, size_t len);

#endif
