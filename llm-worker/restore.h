/* Rebuilding sessions from the compacted chat.context topic. */
#ifndef LLM_RESTORE_H
#define LLM_RESTORE_H
#include <librdkafka/rdkafka.h>

struct llm_worker;

/* Read the given partitions (numbers as in chat.requests) of chat.context
 * from the beginning to their current end and put every session found into
 * w->sessions. Returns the number of sessions restored or a negative code. */
int llm_restore_partitions(struct llm_worker *w, const rd_kafka_topic_partition_list_t *parts);

#endif
