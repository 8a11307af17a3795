/* Kafka helpers: configuration with low-latency defaults, a producer
 * wrapper with delivery callbacks, and topic creation. */
#include "sh_kafka.h"
#include "sh_err.h"
#include "sh_log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

struct sh_producer {
    rd_kafka_t *rk;
    sh_delivery_fn dr;
    void *dr_ctx;
};

const char *sh_topic(const char *logical)
{
    static char names[5][256];
    static const char *const logicals[5] = {SH_TOPIC_REQUESTS, SH_TOPIC_EVENTS,
                                            SH_TOPIC_CONTEXT, SH_TOPIC_DLQ, SH_TOPIC_GATEWAYS};
    static const char *const envs[5] = {"KAFKA_TOPIC_REQUESTS", "KAFKA_TOPIC_EVENTS",
                                        "KAFKA_TOPIC_CONTEXT", "KAFKA_TOPIC_DLQ",
                                        "KAFKA_TOPIC_GATEWAYS"};

    for (int i = 0; i < 5; i++) {
        if (strcmp(logical, logicals[i]) != 0)
            continue;
        if (!names[i][0]) {
            const char *v = getenv(envs[i]);
            snprintf(names[i], sizeof(names[i]), "%s", v && *v ? v : logicals[i]);
        }
        return names[i];
    }
    return logical;
}

int sh_kafka_set(rd_kafka_conf_t *conf, const char *key, const char *val, char *err,
                 size_t errlen)
{
    if (rd_kafka_conf_set(conf, key, val, err, errlen) != RD_KAFKA_CONF_OK)
        return SH_EINVAL;
    return SH_OK;
}

/* Apply KAFKA_FOO_BAR=x as foo.bar=x for every such variable. */
static int apply_env_passthrough(rd_kafka_conf_t *conf, char *err, size_t errlen)
{
    for (char **ep = environ; ep && *ep; ep++) {
        const char *kv = *ep, *eq = strchr(kv, '=');
        char key[128];
        size_t klen;

        if (!eq || strncmp(kv, "KAFKA_", 6) != 0)
            continue;
        if (!strncmp(kv, "KAFKA_BROKERS=", 14) || !strncmp(kv, "KAFKA_TOPIC", 11))
            continue;
        klen = (size_t)(eq - kv - 6);
        if (klen == 0 || klen >= sizeof(key))
            continue;
        for (size_t i = 0; i < klen; i++) {
            char c = kv[6 + i];
            key[i] = c == '_' ? '.' : (char)tolower((unsigned char)c);
        }
        key[klen] = '\0';
        /* Unknown names (KAFKA_PORT of some harness, say) are not ours to
         * refuse; a bad value for a real property is. */
        switch (rd_kafka_conf_set(conf, key, eq + 1, err, errlen)) {
        case RD_KAFKA_CONF_OK:
        case RD_KAFKA_CONF_UNKNOWN:
            break;
        default:
            return SH_EINVAL;
        }
    }
    return SH_OK;
}

/* librdkafka's own log lines, in our format. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum sh_log_level lv = level <= 3 ? SH_LOG_ERROR : level <= 4 ? SH_LOG_WARN
                         : level <= 6 ? SH_LOG_INFO : SH_LOG_DEBUG;

    sh_log(lv, "librdkafka", "client=%s facility=%s detail=\"%s\"", rd_kafka_name(rk), fac, buf);
}

rd_kafka_conf_t *sh_kafka_conf(const char *brokers, const char *group, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Latency first: no batching delay, no Nagle. fetch.wait.max.ms is how long the broker may
     * hold a fetch that finds no data; data arriving completes it at once, so a short wait buys
     * no latency, only empty round trips: at 10 ms every idle consumer cost the broker 100
     * requests/s (an idle bench stack kept the JVM at 10% of a core; 2% at 500 ms). 100 ms keeps
     * a newly assigned partition's first fetch prompt. */
    static const char *const common[] = {
        "socket.nagle.disable", "true",
        "reconnect.backoff.ms", "50",
        "reconnect.backoff.max.ms", "2000",
        "topic.metadata.refresh.interval.ms", "30000",
        "log.connection.close", "false",
        NULL,
    };
    static const char *const producer[] = {
        "linger.ms", "0",
        "partitioner", "murmur2_random",      /* same key -> partition as Java clients */
        NULL,
    };
    static const char *const consumer[] = {
        "fetch.wait.max.ms", "100",
        "fetch.error.backoff.ms", "50",
        NULL,
    };
    const char *const *role = group ? consumer : producer;

    rd_kafka_conf_set_log_cb(conf, on_log);
    for (int i = 0; common[i]; i += 2)
        if (sh_kafka_set(conf, common[i], common[i + 1], err, errlen))
            goto fail;
    for (int i = 0; role[i]; i += 2)
        if (sh_kafka_set(conf, role[i], role[i + 1], err, errlen))
            goto fail;
    if (sh_kafka_set(conf, "bootstrap.servers", brokers, err, errlen))
        goto fail;
    if (group && sh_kafka_set(conf, "group.id", group, err, errlen))
        goto fail;
    if (apply_env_passthrough(conf, err, errlen))
        goto fail;
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct sh_producer *p = opaque;

    (void)rk;
    if (p->dr)
        p->dr(p->dr_ctx, m->_private, m->err);
}

struct sh_producer *sh_producer_create(const char *brokers, sh_delivery_fn dr, void *dr_ctx,
                                       char *err, size_t errlen)
{
    struct sh_producer *p = calloc(1, sizeof(*p));
    rd_kafka_conf_t *conf = NULL;

    if (!p) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->dr = dr;
    p->dr_ctx = dr_ctx;
    conf = sh_kafka_conf(brokers, NULL, err, errlen);
    if (!conf)
        goto fail;
    /* Idempotence keeps per-partition order and drops broker-side duplicates
     * across retries: what "never lose, never reorder" needs. */
    if (sh_kafka_set(conf, "enable.idempotence", "true", err, errlen) ||
        sh_kafka_set(conf, "message.timeout.ms", "300000", err, errlen) ||
        sh_kafka_set(conf, "queue.buffering.max.messages", "1000000", err, errlen))
        goto fail;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, p);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
    if (!p->rk)
        goto fail;
    conf = NULL; /* now owned by rk */
    return p;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    free(p);
    return NULL;
}

int sh_producer_send(struct sh_producer *p, const char *topic, const char *key,
                     const void *payload, size_t len, void *opaque)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
            RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return SH_OK;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return SH_EKAFKA;
        rd_kafka_poll(p->rk, 10);   /* make room by serving delivery reports */
    }
    return SH_EFULL;
}

int sh_producer_poll(struct sh_producer *p, int timeout_ms)
{
    return rd_kafka_poll(p->rk, timeout_ms);
}

int sh_producer_flush(struct sh_producer *p, int timeout_ms)
{
    rd_kafka_flush(p->rk, timeout_ms);
    return rd_kafka_outq_len(p->rk);
}

int sh_producer_outq(const struct sh_producer *p)
{
    return rd_kafka_outq_len(p->rk);
}

rd_kafka_t *sh_producer_rk(struct sh_producer *p)
{
    return p->rk;
}

void sh_producer_destroy(struct sh_producer *p)
{
    if (!p)
        return;
    if (p->rk) {
        rd_kafka_flush(p->rk, 5000);
        rd_kafka_destroy(p->rk);
    }
    free(p);
}

int sh_kafka_create_topic(rd_kafka_t *rk, const char *topic, int partitions,
                          const char *const *cfg, int timeout_ms, char *err, size_t errlen)
{
    rd_kafka_NewTopic_t *nt = NULL;
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    int rc = SH_EKAFKA;

    nt = rd_kafka_NewTopic_new(topic, partitions, -1, err, errlen);
    if (!nt)
        goto out;
    for (int i = 0; cfg && cfg[i]; i += 2)
        rd_kafka_NewTopic_set_config(nt, cfg[i], cfg[i + 1]);
    opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, err, errlen);
    q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
    ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
    if (!ev) {
        snprintf(err, errlen, "create topic %s: timed out", topic);
        rc = SH_ETIMEDOUT;
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(err, errlen, "create topic %s: %s", topic, rd_kafka_event_error_string(ev));
        goto out;
    } else {
        size_t n;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        rd_kafka_resp_err_t te = n ? rd_kafka_topic_result_error(res[0]) : 0;
        if (te && te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
            snprintf(err, errlen, "create topic %s: %s", topic,
                     rd_kafka_topic_result_error_string(res[0]));
            goto out;
        }
    }
    rc = SH_OK;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    if (opts)
        rd_kafka_AdminOptions_destroy(opts);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    return rc;
}

bool sh_kafka_reachable(rd_kafka_t *rk, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    bool up = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR &&
              md->broker_cnt > 0;

    if (md)
        rd_kafka_metadata_destroy(md);
    return up;
}
