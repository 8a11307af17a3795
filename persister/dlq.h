/* The dead-letter path: events that can never be written go to chat.dlq with the reason. */
#ifndef PST_DLQ_H
#define PST_DLQ_H
#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "batch.h"

struct pst_dlq;

/* A producer for 'topic' (copied). Returns NULL with 'err' set. Destroy with
 * pst_dlq_destroy(). */
struct pst_dlq *pst_dlq_create(const char *brokers, const char *topic, char *err,
                               size_t errlen);
/* Flush (up to 5 s) and free. NULL-safe. */
void pst_dlq_destroy(struct pst_dlq *d);

/* The DLQ record for message 'm' of 'src_topic' and its poison 'row', as compact JSON:
 *   {"v":1,"type":"dlq","ts":<now ms>,"service":"persister","reason":"...",
 *    "source":{"topic","partition","offset","key"},"event_id","session_id","event_type",
 *    "original":"<the message value>"}
 * (original_base64 instead of original when the value is not UTF-8; ids are null when
 * unknown). '*out' is malloc'd; the caller frees it. Returns 0 or SH_ENOMEM. */
int pst_dlq_record(const rd_kafka_message_t *m, const char *src_topic, const struct pst_row *row,
                   char **out);

/* Queue the record for 'm' (key = the original key). Returns 0, SH_ENOMEM or a
 * sh_producer_send() error. */
int pst_dlq_send(struct pst_dlq *d, const rd_kafka_message_t *m, const char *src_topic,
                 const struct pst_row *row);
/* Wait up to 'timeout_ms' until everything queued is acknowledged. Returns 0 when every
 * record since the previous call was delivered, else SH_EKAFKA (send them again:
 * duplicates in the DLQ are acceptable, losses are not). */
int pst_dlq_flush(struct pst_dlq *d, int timeout_ms);

#endif
