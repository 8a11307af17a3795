/* summarizer: after a session ends, writes its summary, end time and duration to
 * session_metadata. main() only wires the parts together; see docs/ARCHITECTURE.md. */
#include "config.h"
#include "consume.h"
#include "metrics.h"
#include "sh_admin.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_log.h"
#include "sh_readiness.h"
#include "sh_signal.h"

#include <curl/curl.h>
#include <stdio.h>

static struct sum_consumer *the_consumer;

/* Async-signal-safe: curl_multi_wakeup writes to a socketpair. */
static void wake(void)
{
    sum_consumer_wakeup(the_consumer);
}

int main(int argc, char **argv)
{
    struct sum_config cfg;
    struct sum_consumer *c = NULL;
    struct sh_admin *admin = NULL;
    struct sum_metrics *m;
    char err[512];
    int rc;

    sh_log_init("summarizer");
    rc = sum_config_load(&cfg, argc, argv);
    if (rc) {
        sum_config_free(&cfg);
        return rc > 0 ? 0 : 2;
    }
    rc = 1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT))
        goto out;
    if (sh_signal_install(wake))
        goto out;
    c = sum_consumer_create(&cfg, err, sizeof(err));
    if (!c) {
        sh_log(SH_LOG_ERROR, "startup failed", "err=\"%s\"", err);
        goto out;
    }
    the_consumer = c;
    m = sum_consumer_metrics(c);
    if (sh_admin_start(cfg.admin_host, (int)cfg.admin_port, m->reg, sh_readiness_check,
                       &m->ready, &admin))
        goto out;
    sh_log(SH_LOG_INFO, "summarizer started", "brokers=%s group=%s topic=%s llm=%s model=%s "
           "concurrency=%lld", cfg.brokers, cfg.group, sh_topic(SH_TOPIC_EVENTS), cfg.base_url,
           cfg.model, (long long)cfg.concurrency);
    sum_consumer_run(c);
    rc = 0;
out:
    sh_admin_destroy(admin);        /* it reads the consumer's metrics */
    the_consumer = NULL;
    sum_consumer_destroy(c);
    curl_global_cleanup();
    sh_log(SH_LOG_INFO, "summarizer stopped", "status=%d", rc);
    sum_config_free(&cfg);
    return rc;
}
