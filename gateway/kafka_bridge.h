/* The gateway's Kafka side: a producer for chat.requests, the reply topic
 * chat.replies.<id> read from its end, and the thread that serves both and
 * hands replies and delivery reports to the lws thread through a
 * mutex-protected queue. */
#ifndef GW_KAFKA_BRIDGE_H
#define GW_KAFKA_BRIDGE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sh_envelope.h"

struct gw_bridge;

/* Handlers the lws thread passes to gw_bridge_drain(). 'e' is borrowed for
 * the call (the handler may take its payload with json_incref). 'opaque' is
 * what was given to gw_bridge_publish() and now belongs to the handler;
 * 'err' is 0 when Kafka acknowledged the message, else SH_EKAFKA. */
typedef void (*gw_reply_fn)(void *ctx, struct sh_env *e);
typedef void (*gw_delivery_fn)(void *ctx, void *opaque, int err);

/* Create the producer and the (not yet started) reply consumer for gateway
 * 'gateway_id'. Talks to no broker yet. Returns NULL with 'err' set.
 * Destroy with gw_bridge_destroy(). */
struct gw_bridge *gw_bridge_create(const char *brokers, const char *gateway_id,
                                   int64_t reply_retention_ms, char *err, size_t errlen);
/* Start the Kafka thread. It creates the reply topic (retrying while Kafka
 * is away), starts reading it at its current end and calls 'wake(arg)'
 * whenever the queue for the lws thread becomes non-empty; 'wake' must be
 * safe to call from another thread (lws_cancel_service). Returns 0 or
 * SH_EIO. */
int gw_bridge_start(struct gw_bridge *b, void (*wake)(void *arg), void *arg);

/* Encode 'e' (reply_to is set to the reply topic) and queue it for
 * chat.requests under key session_id. On 0, 'opaque' comes back through
 * gw_bridge_drain()'s delivery handler exactly once; on error (SH_EKAFKA,
 * SH_EFULL, SH_ENOMEM) it stays with the caller. 'opaque' must be a single
 * malloc'd block: undelivered ones are free()d by gw_bridge_destroy(). */
int gw_bridge_publish(struct gw_bridge *b, struct sh_env *e, void *opaque);

/* In the lws thread: hand up to 'max' queued items to the handlers, in
 * arrival order. Returns how many items are still queued (call again, e.g.
 * after another lws_cancel_service, when > 0). */
size_t gw_bridge_drain(struct gw_bridge *b, size_t max, gw_reply_fn on_reply,
                       gw_delivery_fn on_delivery, void *ctx);

/* True when Kafka answered recently and the reply topic is being read. */
bool gw_bridge_ready(const struct gw_bridge *b);
/* "chat.replies.<id>" (static for the bridge's life). */
const char *gw_bridge_reply_topic(const struct gw_bridge *b);
/* Wait up to 'timeout_ms' for queued messages to reach Kafka; returns the
 * number still outstanding. */
int gw_bridge_flush(struct gw_bridge *b, int timeout_ms);
/* Stop and join the Kafka thread (idempotent); publishing still works. */
void gw_bridge_stop(struct gw_bridge *b);
/* Stop the thread, flush (up to 5 s) and free everything, including queued
 * items and their opaques. NULL-safe. */
void gw_bridge_destroy(struct gw_bridge *b);

#endif
