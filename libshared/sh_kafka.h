/* Kafka helpers: configuration with low-latency defaults, a producer
 * wrapper with delivery callbacks, and topic creation.
 *
 * Every KAFKA_<NAME> environment variable except KAFKA_BROKERS and
 * KAFKA_TOPIC_* is passed to librdkafka as <name> with '_' -> '.', lower
 * case (KAFKA_SECURITY_PROTOCOL=SASL_SSL -> security.protocol=SASL_SSL). */
#ifndef SH_KAFKA_H
#define SH_KAFKA_H
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Topic names; each can be overridden with KAFKA_TOPIC_<NAME>. */
#define SH_TOPIC_REQUESTS      "chat.requests"
#define SH_TOPIC_EVENTS        "chat.events"
#define SH_TOPIC_CONTEXT       "chat.context"
#define SH_TOPIC_DLQ           "chat.dlq"
#define SH_TOPIC_GATEWAYS      "chat.gateways"
#define SH_TOPIC_REPLIES_PFX   "chat.replies."

/* Topic name for 'logical' (one of the SH_TOPIC_* above), honouring
 * KAFKA_TOPIC_REQUESTS / _EVENTS / _CONTEXT / _DLQ / _GATEWAYS. Static storage. */
const char *sh_topic(const char *logical);

/* A new librdkafka conf with bootstrap.servers='brokers', the project's
 * low-latency defaults and every KAFKA_* pass-through applied, logging
 * through sh_log. With a 'group' it is a consumer conf (group.id set; note
 * librdkafka needs one even for assign(); "" gives a consumer conf without
 * one), with NULL a producer conf.
 * Returns NULL with 'err' set. Caller owns it until rd_kafka_new(). */
rd_kafka_conf_t *sh_kafka_conf(const char *brokers, const char *group, char *err, size_t errlen);
/* rd_kafka_conf_set() that copies librdkafka's message into 'err'. */
int sh_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *val, char *err,
                 size_t errlen);

/* Called from sh_producer_poll() once per produced message with the
 * 'opaque' given to sh_producer_send() and the delivery result. */
typedef void (*sh_delivery_fn)(void *ctx, void *opaque, rd_kafka_resp_err_t err);

struct sh_producer;

/* An idempotent producer (acks=all, linger.ms=0). 'dr' may be NULL.
 * Returns NULL with 'err' set. Destroy with sh_producer_destroy(). */
struct sh_producer *sh_producer_create(const char *brokers, sh_delivery_fn dr, void *dr_ctx,
                                       char *err, size_t errlen);
/* Queue one message (payload and key are copied). Returns 0, SH_EFULL when
 * the local queue stays full after a short poll, or SH_EKAFKA. */
int sh_producer_send(struct sh_producer *p, const char *topic, const char *key,
                     const void *payload, size_t len, void *opaque);
/* Serve delivery reports; returns the number served. */
int sh_producer_poll(struct sh_producer *p, int timeout_ms);
/* Wait up to 'timeout_ms' for everything queued to be delivered; returns
 * the number of messages still outstanding (0 = all delivered). */
int sh_producer_flush(struct sh_producer *p, int timeout_ms);
/* Messages queued or in flight. */
int sh_producer_outq(const struct sh_producer *p);
/* The underlying handle, borrowed (for admin calls and metadata). */
rd_kafka_t *sh_producer_rk(struct sh_producer *p);
/* Flush up to 5 s, then free. NULL-safe. */
void sh_producer_destroy(struct sh_producer *p);

/* True when a broker answers a metadata request within 'timeout_ms': the
 * cheapest proof that Kafka is reachable (for /readyz). Blocks that long. */
bool sh_kafka_reachable(rd_kafka_t *rk, int timeout_ms);

/* Create 'topic' with 'partitions' partitions and optional 'cfg' pairs
 * (NULL-terminated key, value, ...) if it does not exist. Returns 0 also
 * when it already exists. */
int sh_kafka_create_topic(rd_kafka_t *rk, const char *topic, int partitions,
                          const char *const *cfg, int timeout_ms, char *err, size_t errlen);

#endif
