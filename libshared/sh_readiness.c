/* Kafka + database readiness of a consuming service, written by its main loop and read by
 * the admin thread for /readyz. */
#include "sh_readiness.h"
#include "sh_kafka.h"
#include "sh_time.h"

#include <stdio.h>

void sh_readiness_init(struct sh_readiness *r)
{
    if (!r)
        return;
    atomic_store(&r->kafka_up, false);
    atomic_store(&r->db_up, false);
    r->next_probe_ms = 0;
}

void sh_readiness_probe(struct sh_readiness *r, rd_kafka_t *rk, bool db_up)
{
    int64_t now = sh_mono_ms();

    if (!r)
        return;
    atomic_store(&r->db_up, db_up);
    if (!rk || now < r->next_probe_ms)
        return;
    r->next_probe_ms = now + SH_READINESS_PROBE_EVERY_MS;
    /* A metadata round trip is the cheapest proof that a broker answers. */
    atomic_store(&r->kafka_up, sh_kafka_reachable(rk, SH_READINESS_PROBE_TIMEOUT_MS));
}

int sh_readiness_check(void *ctx, char *reason, size_t reason_len)
{
    struct sh_readiness *r = ctx;

    if (!r) {
        snprintf(reason, reason_len, "no readiness state");
        return 1;
    }
    if (!atomic_load(&r->kafka_up)) {
        snprintf(reason, reason_len, "kafka not reachable");
        return 1;
    }
    if (!atomic_load(&r->db_up)) {
        snprintf(reason, reason_len, "database not connected");
        return 1;
    }
    return 0;
}
