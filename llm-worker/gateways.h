/* Gateway liveness for the session actors: the worker reads every partition of the compacted
 * chat.gateways topic (no group) and drops the routes of gateways that stopped heartbeating
 * (GATEWAY_DEAD_MS) or were restarted after the route was attached, so that a crashed
 * gateway's sessions go through the normal grace period and end. */
#ifndef LLM_GATEWAYS_H
#define LLM_GATEWAYS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct llm_worker;
struct llm_gateways;

/* Heartbeat period of gateways and of the worker's own beacon. */
#define LLM_GATEWAYS_BEAT_MS 1000

/* Read chat.gateways from its beginning (creating it when missing, with the worker's
 * producer) and judge routes dead after 'dead_ms' of silence. Returns NULL with 'err' set.
 * The worker must outlive it; free with llm_gateways_destroy(). */
struct llm_gateways *llm_gateways_create(struct llm_worker *w, int64_t dead_ms, char *err,
                                         size_t errlen);

/* From the worker loop, never blocks: take the heartbeats that arrived, send the worker's
 * own beacon once a period and, once a period, drop dead routes from every session (each
 * change is snapshotted; a session left without routes starts its grace period). */
void llm_gateways_poll(struct llm_gateways *g);

/* True when the route 'reply_topic', last touched by a request stamped 'route_ts' (the
 * gateway's clock; 0 unknown), leads to a gateway that is known dead at 'now_mono': it was
 * restarted after that stamp, or the worker's own beacon kept arriving for more than
 * GATEWAY_DEAD_MS after its last heartbeat. A gateway never heard of is not judged, nor is
 * any while the beacon does not come back (Kafka away: silence proves nothing then). */
bool llm_gateways_route_dead(const struct llm_gateways *g, const char *reply_topic,
                             int64_t route_ts, int64_t now_mono);

/* The judging state alone, without Kafka or a worker (unit tests feed it with
 * llm_gateways_take()). NULL on ENOMEM; free with llm_gateways_destroy(). */
struct llm_gateways *llm_gateways_create_detached(int64_t dead_ms);
/* This worker's beacon key ("llm-worker/<uuid>"; static for g's life). */
const char *llm_gateways_beacon_key(const struct llm_gateways *g);
/* Take one record of chat.gateways (key, value; NULL value = tombstone) that arrived at
 * 'now_mono'. Records it does not understand are ignored. */
void llm_gateways_take(struct llm_gateways *g, const void *key, size_t key_len,
                       const void *value, size_t len, int64_t now_mono);

/* Write the worker's beacon tombstone, close the consumer and free. NULL-safe. */
void llm_gateways_destroy(struct llm_gateways *g);

#endif
