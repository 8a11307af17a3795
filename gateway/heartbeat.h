/* The gateway's heartbeat on the compacted chat.gateways topic: once a second
 * {"v":1,"kind":"gateway","reply_to":...,"epoch":<start ms>,"ts":<now ms>} under the key
 * of its reply topic, so that workers can drop the routes of a gateway that died without
 * closing its sessions (docs/ARCHITECTURE.md, "Gateway liveness"). */
#ifndef GW_HEARTBEAT_H
#define GW_HEARTBEAT_H
#include <stddef.h>
#include <stdint.h>

/* Heartbeat period; the workers' GATEWAY_DEAD_MS must be several of these. */
#define GW_HEARTBEAT_MS 1000

struct gw_heartbeat;

/* A heartbeat for 'reply_topic' (copied) whose epoch is now: create it before the gateway
 * publishes any request, so every request it ever sends is stamped at or after its epoch.
 * Talks to no broker yet. Returns NULL with 'err' set; free with gw_heartbeat_destroy(). */
struct gw_heartbeat *gw_heartbeat_create(const char *brokers, const char *reply_topic,
                                         char *err, size_t errlen);
/* Start the heartbeat thread (it creates the topic when missing, retrying while Kafka is
 * away). Returns 0 or SH_EIO. */
int gw_heartbeat_start(struct gw_heartbeat *h);
/* Stop and join the thread, drop heartbeats not yet sent and free. NULL-safe. */
void gw_heartbeat_destroy(struct gw_heartbeat *h);

#endif
