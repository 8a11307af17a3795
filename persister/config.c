/* persister configuration: one table, environment first. */
#include "config.h"
#include "sh_config.h"
#include "sh_err.h"

#include <stdio.h>
#include <string.h>

#define N_ITEMS 12

static void table(struct pst_config *c, struct sh_cfg_item *t)
{
    struct sh_cfg_item items[N_ITEMS] = {
        {"brokers", "KAFKA_BROKERS", SH_CFG_STR, "127.0.0.1:9092", 0, -1, false,
         "Kafka bootstrap servers", &c->brokers},
        {"group", "PERSISTER_GROUP", SH_CFG_STR, "persister", 0, -1, false,
         "consumer group on chat.events shared by all persisters", &c->group},
        {"database-url", "DATABASE_URL", SH_CFG_STR, "postgresql://chat@127.0.0.1:5432/chat", 0,
         -1, true, "PostgreSQL connection URI (libpq)", &c->database_url},
        {"batch-max", "PERSISTER_BATCH_MAX", SH_CFG_INT, "2000", 1, 10000, false,
         "events written in one transaction at most", &c->batch_max},
        {"batch-wait-ms", "PERSISTER_BATCH_WAIT_MS", SH_CFG_INT, "20", 0, 5000, false,
         "after the first event of a batch, wait this long for more", &c->batch_wait_ms},
        {"db-timeout-ms", "PERSISTER_DB_TIMEOUT_MS", SH_CFG_INT, "15000", 100, 600000, false,
         "deadline of one database statement or connect; then reconnect", &c->db_timeout_ms},
        {"backoff-ms", "PERSISTER_BACKOFF_MS", SH_CFG_INT, "200", 1, 60000, false,
         "first retry delay after a database failure (doubles, with jitter)", &c->backoff_ms},
        {"backoff-max-ms", "PERSISTER_BACKOFF_MAX_MS", SH_CFG_INT, "5000", 1, 600000, false,
         "longest retry delay", &c->backoff_max_ms},
        {"drain-ms", "PERSISTER_DRAIN_MS", SH_CFG_INT, "10000", 0, 600000, false,
         "on SIGTERM, time the batch in flight gets to reach the database", &c->drain_ms},
        {"dlq-timeout-ms", "PERSISTER_DLQ_TIMEOUT_MS", SH_CFG_INT, "10000", 100, 600000, false,
         "wait for chat.dlq to acknowledge poison events before retrying them", &c->dlq_timeout_ms},
        {"admin-host", "ADMIN_HOST", SH_CFG_STR, "127.0.0.1", 0, -1, false,
         "address of the admin server (/healthz, /readyz, /metrics)", &c->admin_host},
        {"admin-port", "ADMIN_PORT", SH_CFG_INT, "9102", -1, 65535, false,
         "port of the admin server; 0 = ephemeral, -1 = off", &c->admin_port},
    };
    memcpy(t, items, sizeof(items));
}

int pst_config_load(struct pst_config *c, int argc, char **argv)
{
    struct sh_cfg_item t[N_ITEMS];
    char err[256];
    int rc;

    memset(c, 0, sizeof(*c));
    table(c, t);
    rc = sh_config_load(t, N_ITEMS, argc, argv, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "persister: configuration error: %s\n", err);
    else if (rc == 0)
        sh_config_log(t, N_ITEMS);
    return rc;
}

void pst_config_free(struct pst_config *c)
{
    struct sh_cfg_item t[N_ITEMS];

    if (!c)
        return;
    table(c, t);
    sh_config_free(t, N_ITEMS);
}
