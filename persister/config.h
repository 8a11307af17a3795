/* persister configuration: one table (env var, flag, default, range), environment first. */
#ifndef PST_CONFIG_H
#define PST_CONFIG_H
#include <stdint.h>

struct pst_config {
    char *brokers;              /* KAFKA_BROKERS */
    char *group;                /* PERSISTER_GROUP */
    char *database_url;         /* DATABASE_URL */
    int64_t batch_max;          /* events per transaction at most */
    int64_t batch_wait_ms;      /* how long a started batch waits for more events */
    int64_t db_timeout_ms;      /* deadline of one statement (and of a connect) */
    int64_t backoff_ms;         /* first retry delay after a database failure */
    int64_t backoff_max_ms;     /* cap on the retry delay */
    int64_t drain_ms;           /* on SIGTERM, how long the batch in flight may still take */
    int64_t dlq_timeout_ms;     /* wait for the DLQ producer's delivery reports */
    char *admin_host;           /* ADMIN_HOST */
    int64_t admin_port;         /* ADMIN_PORT: 0 ephemeral, -1 off */
};

/* Load defaults, the environment, then --name=value flags. Returns 0, 1 after --help
 * (exit 0), or SH_EINVAL with the reason already printed to stderr. Free with
 * pst_config_free() in every case. */
int pst_config_load(struct pst_config *c, int argc, char **argv);
/* Release the strings; NULL-safe, may be called twice. */
void pst_config_free(struct pst_config *c);

#endif
