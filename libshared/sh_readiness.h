/* Readiness of a service that consumes from Kafka and writes to PostgreSQL
 * (persister, summarizer): the main loop records what it sees, the admin
 * server's thread answers GET /readyz from it.
 *
 *   struct sh_readiness ready;
 *   sh_readiness_init(&ready);
 *   ... main loop:  sh_readiness_probe(&ready, rk, sh_pg_connected(pg));
 *   ... main():     sh_admin_start(host, port, reg, sh_readiness_check, &ready, &admin);
 *
 * Not ready until Kafka has answered a probe and the database was connected
 * at the last one. The state holds no resources, so there is no _free. */
#ifndef SH_READINESS_H
#define SH_READINESS_H
#include <librdkafka/rdkafka.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kafka is asked at most this often (the probe blocks the caller) ... */
#define SH_READINESS_PROBE_EVERY_MS 2000
/* ... and for at most this long: a metadata request to any broker. */
#define SH_READINESS_PROBE_TIMEOUT_MS 300

/* Embedded in the service's metrics or consumer struct. */
struct sh_readiness {
    atomic_bool kafka_up;       /* the last Kafka probe was answered */
    atomic_bool db_up;          /* the database was connected at the last probe */
    int64_t next_probe_ms;      /* monotonic time of the next Kafka probe; main loop only */
};

/* Start not ready, with the first Kafka probe due at once. NULL-safe. */
void sh_readiness_init(struct sh_readiness *r);
/* From the main loop (one thread): record 'db_up' now and, at most every
 * SH_READINESS_PROBE_EVERY_MS, probe Kafka through 'rk' (a metadata request,
 * blocking up to SH_READINESS_PROBE_TIMEOUT_MS). 'rk' NULL leaves the Kafka
 * state as it was. 'rk' is borrowed. No-op when 'r' is NULL. */
void sh_readiness_probe(struct sh_readiness *r, rd_kafka_t *rk, bool db_up);
/* An sh_admin_ready_fn; 'ctx' is the struct sh_readiness (borrowed; NULL is
 * never ready). Returns 0 when ready, else 1 with "kafka not reachable" or,
 * Kafka being up, "database not connected" in 'reason'. Reads atomics only,
 * so it is safe on the admin thread. */
int sh_readiness_check(void *ctx, char *reason, size_t reason_len);

#endif
