/* persister: writes every chat.events event to PostgreSQL (event_log, session_metadata).
 * main() only wires the parts together; see docs/ARCHITECTURE.md and schema/. */
#include "config.h"
#include "consume.h"
#include "metrics.h"
#include "sh_admin.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_log.h"
#include "sh_readiness.h"
#include "sh_signal.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    struct pst_config cfg;
    struct pst_consumer *c = NULL;
    struct sh_admin *admin = NULL;
    struct pst_metrics *m;
    char err[512];
    int rc;

    sh_log_init("persister");
    rc = pst_config_load(&cfg, argc, argv);
    if (rc) {
        pst_config_free(&cfg);
        return rc > 0 ? 0 : 2;
    }
    rc = 1;
    if (sh_signal_install(NULL))
        goto out;
    c = pst_consumer_create(&cfg, err, sizeof(err));
    if (!c) {
        sh_log(SH_LOG_ERROR, "startup failed", "err=\"%s\"", err);
        goto out;
    }
    m = pst_consumer_metrics(c);
    if (sh_admin_start(cfg.admin_host, (int)cfg.admin_port, m->reg, sh_readiness_check,
                       &m->ready, &admin))
        goto out;
    sh_log(SH_LOG_INFO, "persister started",
           "brokers=%s group=%s topic=%s dlq=%s batch_max=%lld", cfg.brokers, cfg.group,
           sh_topic(SH_TOPIC_EVENTS), sh_topic(SH_TOPIC_DLQ), (long long)cfg.batch_max);
    /* A batch abandoned at shutdown stays uncommitted and is written by the next run:
     * nothing is lost, so that is still a clean exit. */
    pst_consumer_run(c);
    rc = 0;
out:
    sh_admin_destroy(admin);        /* it reads the consumer's metrics */
    pst_consumer_destroy(c);
    sh_log(SH_LOG_INFO, "persister stopped", "status=%d", rc);
    pst_config_free(&cfg);
    return rc;
}
