/* A consumer-group member of one topic with manual commits, pause/resume and ownership. */
#include "sh_consumer.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_time.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sh_consumer {
    rd_kafka_t *rk;
    char *topic;
    sh_rebalance_fn on_rebalance;
    void *ctx;
    bool paused;
    bool assigned_once;      /* a first assignment was served (sh_consumer_close_rk) */
    int32_t *owned;          /* assigned partitions, unsorted */
    size_t n_owned, cap_owned;
    uint64_t commit_failures;
};

/* Set 'key' unless the environment already did (KAFKA_<KEY> with '.' -> '_'). */
static int set_default(rd_kafka_conf_t *conf, const char *key, const char *val, char *err,
                       size_t errlen)
{
    char env[128] = "KAFKA_";
    size_t n = 6;

    for (const char *k = key; *k && n + 1 < sizeof(env); k++)
        env[n++] = *k == '.' ? '_' : (char)toupper((unsigned char)*k);
    env[n] = '\0';
    if (getenv(env))
        return SH_OK;
    return sh_kafka_set(conf, key, val, err, errlen);
}

static void owned_add(struct sh_consumer *c, int32_t p)
{
    if (sh_consumer_owns(c, p))
        return;
    if (c->n_owned == c->cap_owned) {
        size_t cap = c->cap_owned ? c->cap_owned * 2 : 16;
        int32_t *np = realloc(c->owned, cap * sizeof(*np));
        if (!np)
            return;   /* commits for it are skipped: replays, never losses */
        c->owned = np;
        c->cap_owned = cap;
    }
    c->owned[c->n_owned++] = p;
}

static void owned_del(struct sh_consumer *c, int32_t p)
{
    for (size_t i = 0; i < c->n_owned; i++)
        if (c->owned[i] == p) {
            c->owned[i] = c->owned[--c->n_owned];
            return;
        }
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct sh_consumer *c = opaque;
    bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        c->assigned_once = true;
        for (int i = 0; i < parts->cnt; i++)
            owned_add(c, parts->elems[i].partition);
        /* librdkafka keeps a partition's pause flag across revoke and re-assign: set it
         * explicitly either way. */
        if (c->paused)
            rd_kafka_pause_partitions(rk, parts);
        else
            rd_kafka_resume_partitions(rk, parts);
        if (c->on_rebalance)
            c->on_rebalance(c->ctx, parts, true);
        return;
    }
    if (c->on_rebalance)
        c->on_rebalance(c->ctx, parts, false);
    for (int i = 0; i < parts->cnt; i++)
        owned_del(c, parts->elems[i].partition);
    if (coop)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    struct sh_consumer *c = opaque;

    (void)rk;
    (void)offsets;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        c->commit_failures++;
}

struct sh_consumer *sh_consumer_create(const char *brokers, const char *group, const char *topic,
                                       sh_rebalance_fn on_rebalance, void *ctx, char *err,
                                       size_t errlen)
{
    struct sh_consumer *c = calloc(1, sizeof(*c));
    rd_kafka_conf_t *conf = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    static const char *const defaults[] = {
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        "auto.offset.reset", "earliest",
        "partition.assignment.strategy", "cooperative-sticky",
        "session.timeout.ms", "10000",
        "heartbeat.interval.ms", "1000",
        NULL,
    };

    if (!c || !(c->topic = strdup(topic))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    c->on_rebalance = on_rebalance;
    c->ctx = ctx;
    conf = sh_kafka_conf(brokers, group, err, errlen);
    if (!conf)
        goto fail;
    for (int i = 0; defaults[i]; i += 2)
        if (set_default(conf, defaults[i], defaults[i + 1], err, errlen))
            goto fail;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
    rd_kafka_conf_set_opaque(conf, c);
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!c->rk)
        goto fail;
    conf = NULL; /* now owned by rk */
    rd_kafka_poll_set_consumer(c->rk);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e) {
        snprintf(err, errlen, "subscribe to %s: %s", topic, rd_kafka_err2str(e));
        goto fail;
    }
    return c;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    sh_consumer_destroy(c);
    return NULL;
}

/* Serve 'rk' (rebalance callbacks included) for up to 100 ms; a message polled here is
 * dropped uncommitted, so the partition's next owner reads it again. */
static void serve_once(rd_kafka_t *rk)
{
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

    if (m)
        rd_kafka_message_destroy(m);
}

void sh_consumer_close_rk(rd_kafka_t *rk, const bool *assigned_once, int timeout_ms)
{
    int64_t deadline = sh_mono_ms() + timeout_ms;
    rd_kafka_topic_partition_list_t *a = NULL;

    /* A member that closes between joining and its first assignment aborts in
     * rd_kafka_destroy() (sticky assignor state still NULL): let the join finish. */
    while (!*assigned_once && sh_mono_ms() < deadline)
        serve_once(rk);
    /* Closing while an incremental assignment is being served hangs for ever: leave the
     * group with unsubscribe, serve its revoke here, and close once nothing is assigned. */
    rd_kafka_unsubscribe(rk);
    while (sh_mono_ms() < deadline) {
        serve_once(rk);
        if (rd_kafka_assignment(rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a->cnt == 0)
            break;
        if (a)
            rd_kafka_topic_partition_list_destroy(a);
        a = NULL;
    }
    if (a)
        rd_kafka_topic_partition_list_destroy(a);
    rd_kafka_consumer_close(rk);
}

void sh_consumer_destroy(struct sh_consumer *c)
{
    if (!c)
        return;
    if (c->rk) {
        sh_consumer_close_rk(c->rk, &c->assigned_once, SH_CONSUMER_CLOSE_WAIT_MS);
        rd_kafka_destroy(c->rk);
    }
    free(c->owned);
    free(c->topic);
    free(c);
}

rd_kafka_message_t *sh_consumer_poll(struct sh_consumer *c, int timeout_ms)
{
    return rd_kafka_consumer_poll(c->rk, timeout_ms);
}

/* Apply pause (or resume) to the current assignment. */
static int set_paused(struct sh_consumer *c, bool pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t e;

    c->paused = pause;
    if (rd_kafka_assignment(c->rk, &parts))
        return SH_EKAFKA;
    e = parts->cnt == 0 ? RD_KAFKA_RESP_ERR_NO_ERROR
        : pause ? rd_kafka_pause_partitions(c->rk, parts)
                : rd_kafka_resume_partitions(c->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    return e ? SH_EKAFKA : SH_OK;
}

int sh_consumer_pause(struct sh_consumer *c)
{
    return set_paused(c, true);
}

int sh_consumer_resume(struct sh_consumer *c)
{
    return set_paused(c, false);
}

int sh_consumer_pause_partition(struct sh_consumer *c, int32_t partition)
{
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_resp_err_t e;

    rd_kafka_topic_partition_list_add(parts, c->topic, partition);
    e = rd_kafka_pause_partitions(c->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    return e ? SH_EKAFKA : SH_OK;
}

bool sh_consumer_paused(const struct sh_consumer *c)
{
    return c->paused;
}

bool sh_consumer_owns(const struct sh_consumer *c, int32_t partition)
{
    for (size_t i = 0; i < c->n_owned; i++)
        if (c->owned[i] == partition)
            return true;
    return false;
}

int sh_consumer_commit(struct sh_consumer *c, const int32_t *parts, const int64_t *next, size_t n,
                       bool sync, char *err, size_t errlen)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n + 1);
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;

    for (size_t i = 0; i < n; i++) {
        if (!sh_consumer_owns(c, parts[i]) || next[i] < 0)
            continue;
        rd_kafka_topic_partition_list_add(list, c->topic, parts[i])->offset = next[i];
    }
    if (list->cnt > 0)
        e = rd_kafka_commit(c->rk, list, sync ? 0 : 1);
    rd_kafka_topic_partition_list_destroy(list);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        snprintf(err, errlen, "%s", rd_kafka_err2str(e));
        return SH_EKAFKA;
    }
    return SH_OK;
}

uint64_t sh_consumer_commit_failures(const struct sh_consumer *c)
{
    return c->commit_failures;
}

rd_kafka_t *sh_consumer_rk(struct sh_consumer *c)
{
    return c->rk;
}
