/* The gateway's heartbeat on chat.gateways: a thread with its own small producer, so that
 * neither the lws loop nor the request bridge ever waits for it. */
#include "heartbeat.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_log.h"
#include "sh_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOPIC_RETRY_MS 5000

struct gw_heartbeat {
    struct sh_producer *prod;
    char reply_topic[256];
    int64_t epoch_ms;           /* wall clock of this process's start */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;                  /* under mu */
};

struct gw_heartbeat *gw_heartbeat_create(const char *brokers, const char *reply_topic,
                                         char *err, size_t errlen)
{
    struct gw_heartbeat *h = calloc(1, sizeof(*h));

    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->epoch_ms = sh_now_ms();
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    if (snprintf(h->reply_topic, sizeof(h->reply_topic), "%s", reply_topic) >=
        (int)sizeof(h->reply_topic)) {
        snprintf(err, errlen, "reply topic name too long");
        goto fail;
    }
    h->prod = sh_producer_create(brokers, NULL, NULL, err, errlen);
    if (!h->prod)
        goto fail;
    return h;
fail:
    gw_heartbeat_destroy(h);
    return NULL;
}

/* Create the topic when missing: compacted, one partition (a handful of small records). */
static int ensure_topic(struct gw_heartbeat *h)
{
    static const char *const cfg[] = {"cleanup.policy", "compact", "segment.ms", "3600000",
                                      "min.cleanable.dirty.ratio", "0.1", NULL};
    char err[256];
    int rc = sh_kafka_create_topic(sh_producer_rk(h->prod), sh_topic(SH_TOPIC_GATEWAYS), 1, cfg,
                                   5000, err, sizeof(err));

    if (rc)
        sh_log(SH_LOG_WARN, "heartbeat topic not ready; retrying", "topic=%s err=\"%s\"",
               sh_topic(SH_TOPIC_GATEWAYS), err);
    return rc;
}

static void beat(struct gw_heartbeat *h)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "{\"v\":1,\"kind\":\"gateway\",\"reply_to\":\"%s\",\"epoch\":%lld,"
                     "\"ts\":%lld}", h->reply_topic, (long long)h->epoch_ms,
                     (long long)sh_now_ms());

    /* A full local queue means Kafka has been away for a while: skipping a beat is right,
     * the next one says the same thing more recently. */
    if (n > 0 && n < (int)sizeof(buf))
        sh_producer_send(h->prod, sh_topic(SH_TOPIC_GATEWAYS), h->reply_topic, buf, (size_t)n,
                         NULL);
}

/* Wait up to 'ms' or until stopped; returns true when stopped. */
static bool sleep_or_stop(struct gw_heartbeat *h, int64_t ms)
{
    struct timespec ts;
    bool stop;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&h->mu);
    while (!h->stop)
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) == ETIMEDOUT)
            break;
    stop = h->stop;
    pthread_mutex_unlock(&h->mu);
    return stop;
}

static void *run(void *arg)
{
    struct gw_heartbeat *h = arg;
    int64_t retry_at = 0;
    bool topic_ok = false;

    for (;;) {
        int64_t now = sh_mono_ms();

        if (!topic_ok && now >= retry_at) {
            topic_ok = ensure_topic(h) == SH_OK;
            retry_at = now + TOPIC_RETRY_MS;
        }
        if (topic_ok)
            beat(h);
        sh_producer_poll(h->prod, 0);
        if (sleep_or_stop(h, GW_HEARTBEAT_MS))
            break;
    }
    return NULL;
}

int gw_heartbeat_start(struct gw_heartbeat *h)
{
    if (pthread_create(&h->thread, NULL, run, h) != 0)
        return SH_EIO;
    h->started = true;
    sh_log(SH_LOG_INFO, "heartbeat started", "topic=%s key=%s epoch=%lld",
           sh_topic(SH_TOPIC_GATEWAYS), h->reply_topic, (long long)h->epoch_ms);
    return SH_OK;
}

void gw_heartbeat_destroy(struct gw_heartbeat *h)
{
    if (!h)
        return;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->stop = true;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    /* Heartbeats still queued are worth nothing once the gateway is gone: drop them rather
     * than make a shutdown wait for an absent broker. */
    if (h->prod)
        rd_kafka_purge(sh_producer_rk(h->prod), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    sh_producer_destroy(h->prod);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
