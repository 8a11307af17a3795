/* Gateway liveness: the chat.gateways reader, the worker's own beacon and the sweep that
 * drops dead routes.
 *
 * Silence is measured on this worker's monotonic clock (when a heartbeat arrived), never by
 * comparing another host's wall clock with ours. Silence only means something while Kafka
 * delivers: the worker writes its own beacon to the same topic, a gateway is dead only when
 * our beacons kept arriving for GATEWAY_DEAD_MS after its last heartbeat, nobody is judged
 * while they stop, and after a gap every gateway gets a fresh GATEWAY_DEAD_MS to show up. A restart is read from the gateway's own clock only: a route last touched
 * by a request stamped before the gateway's current epoch belongs to a process that is gone. */
#include "gateways.h"
#include "worker.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_log.h"
#include "sh_map.h"
#include "sh_time.h"
#include "sh_uuid.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BEACON_PFX      "llm-worker/"
#define POLL_BURST      200
#define STALE_BEATS     3               /* own beacon missing this many periods: Kafka away */

struct gateway {
    int64_t epoch;                      /* its start, its wall clock */
    int64_t seen_mono;                  /* our clock when its last heartbeat arrived */
};

struct llm_gateways {
    struct llm_worker *w;
    rd_kafka_t *rk;                     /* consumer: assign() only, never joins its group */
    const char *topic;
    struct sh_map *gws;                 /* reply topic -> struct gateway */
    char beacon_key[sizeof(BEACON_PFX) + SH_UUID_LEN];
    int64_t dead_ms;
    bool own_seen;                      /* our beacon came back at least once */
    int64_t own_seen_mono;              /* when it last did */
    int64_t healthy_since;              /* first beacon after a gap */
    int64_t beat_at, sweep_at;
};

static void free_gateway(void *ctx, const char *key, void *val)
{
    (void)ctx;
    (void)key;
    free(val);
}

/* Assign every partition of the topic from its beginning: the compacted history holds each
 * gateway's last heartbeat. */
static int assign_all(struct llm_gateways *g, char *err, size_t errlen)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(g->rk, g->topic, NULL);
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_resp_err_t e;
    int rc = SH_EKAFKA;

    if (!rkt) {
        snprintf(err, errlen, "topic handle for %s", g->topic);
        return rc;
    }
    /* Right after the topic is created its partitions have no leader for a moment. */
    for (int attempt = 0; attempt < 40; attempt++) {
        e = rd_kafka_metadata(g->rk, 0, rkt, &md, 10000);
        if (!e && md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0)
            break;
        if (md)
            rd_kafka_metadata_destroy(md);
        md = NULL;
        rd_kafka_poll(g->rk, 250);
    }
    if (e || !md || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt < 1) {
        snprintf(err, errlen, "metadata of %s: %s", g->topic,
                 rd_kafka_err2str(e ? e : md && md->topic_cnt ? md->topics[0].err
                                                              : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        goto out;
    }
    l = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(l, g->topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    if ((e = rd_kafka_assign(g->rk, l))) {
        snprintf(err, errlen, "assign %s: %s", g->topic, rd_kafka_err2str(e));
        goto out;
    }
    rc = SH_OK;
out:
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

struct llm_gateways *llm_gateways_create_detached(int64_t dead_ms)
{
    struct llm_gateways *g = calloc(1, sizeof(*g));
    char id[SH_UUID_LEN + 1];

    if (!g || !(g->gws = sh_map_create())) {
        free(g);
        return NULL;
    }
    g->dead_ms = dead_ms;
    g->topic = sh_topic(SH_TOPIC_GATEWAYS);
    sh_uuid_v7(id);
    snprintf(g->beacon_key, sizeof(g->beacon_key), "%s%s", BEACON_PFX, id);
    return g;
}

const char *llm_gateways_beacon_key(const struct llm_gateways *g)
{
    return g->beacon_key;
}

struct llm_gateways *llm_gateways_create(struct llm_worker *w, int64_t dead_ms, char *err,
                                         size_t errlen)
{
    static const char *const compact[] = {"cleanup.policy", "compact", "segment.ms", "3600000",
                                          "min.cleanable.dirty.ratio", "0.1", NULL};
    struct llm_gateways *g = llm_gateways_create_detached(dead_ms);
    rd_kafka_conf_t *conf = NULL;
    char group[256];

    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->w = w;
    if (sh_kafka_create_topic(sh_producer_rk(w->producer), g->topic, 1, compact, 10000, err,
                              errlen))
        goto fail;
    /* assign() wants a group.id; nothing joins a group or commits: every worker reads
     * every partition for itself. */
    snprintf(group, sizeof(group), "%s-gateways", w->cfg->group);
    conf = sh_kafka_conf(w->cfg->brokers, group, err, errlen);
    if (!conf || sh_kafka_set(conf, "enable.auto.commit", "false", err, errlen) ||
        sh_kafka_set(conf, "enable.auto.offset.store", "false", err, errlen))
        goto fail;
    g->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!g->rk)
        goto fail;
    conf = NULL; /* now owned by rk */
    if (assign_all(g, err, errlen))
        goto fail;
    rd_kafka_poll_set_consumer(g->rk);
    return g;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    llm_gateways_destroy(g);
    return NULL;
}

void llm_gateways_take(struct llm_gateways *g, const void *k, size_t key_len,
                       const void *value, size_t len, int64_t now)
{
    char key[SH_TOPIC_MAX + 1];
    struct gateway *gw;
    json_t *root;
    json_int_t epoch = 0;

    if (!k || key_len == 0 || key_len > SH_TOPIC_MAX)
        return;
    memcpy(key, k, key_len);
    key[key_len] = '\0';
    if (!strcmp(key, g->beacon_key)) {
        if (!value)
            return;
        if (!g->own_seen || now - g->own_seen_mono > STALE_BEATS * LLM_GATEWAYS_BEAT_MS)
            g->healthy_since = now;
        g->own_seen = true;
        g->own_seen_mono = now;
        return;
    }
    if (!strncmp(key, BEACON_PFX, sizeof(BEACON_PFX) - 1) || !value)
        return;     /* other workers' beacons; a tombstone removes nothing we rely on */
    root = json_loadb(value, len, 0, NULL);
    if (!root || json_unpack(root, "{s:I}", "epoch", &epoch) || epoch <= 0) {
        json_decref(root);
        return;
    }
    json_decref(root);
    gw = sh_map_get(g->gws, key);
    if (!gw) {
        gw = calloc(1, sizeof(*gw));
        if (!gw || sh_map_set(g->gws, key, gw)) {
            free(gw);
            return;
        }
        sh_log(SH_LOG_DEBUG, "gateway heard", "reply_to=%s epoch=%lld", key, (long long)epoch);
    } else if (epoch > gw->epoch && gw->epoch) {
        sh_log(SH_LOG_INFO, "gateway restarted", "reply_to=%s epoch=%lld previous=%lld", key,
               (long long)epoch, (long long)gw->epoch);
    }
    if (epoch > gw->epoch)
        gw->epoch = epoch;
    gw->seen_mono = now;
}

bool llm_gateways_route_dead(const struct llm_gateways *g, const char *reply_topic,
                             int64_t route_ts, int64_t now_mono)
{
    const struct gateway *gw;
    int64_t since;

    if (!g || g->dead_ms <= 0 || !g->own_seen ||
        now_mono - g->own_seen_mono > STALE_BEATS * LLM_GATEWAYS_BEAT_MS)
        return false;
    gw = sh_map_get(g->gws, reply_topic);
    if (!gw)
        return false;
    if (route_ts > 0 && route_ts < gw->epoch)
        return true;
    /* Measured up to our newest beacon, not to now: a gateway's last heartbeat may lag ours
     * by a period when Kafka goes away, and only beacons that did arrive prove that its
     * heartbeats would have. */
    since = gw->seen_mono > g->healthy_since ? gw->seen_mono : g->healthy_since;
    return g->own_seen_mono - since > g->dead_ms;
}

/* Proof, not suspicion: the gateway started after the route's last request. */
static bool route_restarted(const struct llm_gateways *g, const char *reply_topic,
                            int64_t route_ts)
{
    const struct gateway *gw = sh_map_get(g->gws, reply_topic);

    return gw && route_ts > 0 && route_ts < gw->epoch;
}

struct sweep {
    struct llm_gateways *g;
    int64_t now;
};

static void sweep_session(void *ctx, const char *key, void *val)
{
    struct sweep *c = ctx;
    struct llm_session *s = val;
    bool changed = false;

    (void)key;
    for (int i = s->n_routes - 1; i >= 0; i--) {
        char route[SH_TOPIC_MAX + 1];
        if (!llm_gateways_route_dead(c->g, s->routes[i], s->route_ts[i], c->now))
            continue;
        /* Silence alone may be a gateway starved of CPU for a while: a session that is
         * answering keeps its route until the turn ends, so a live client is never cut off
         * mid-answer. A restart is proof and drops it at once. */
        if ((s->turn || s->pending) && !route_restarted(c->g, s->routes[i], s->route_ts[i]))
            continue;
        memcpy(route, s->routes[i], sizeof(route));
        llm_session_route_del(s, route);
        sh_log(SH_LOG_INFO, "route to a dead gateway dropped", "session=%s reply_to=%s routes=%d",
               s->id, route, s->n_routes);
        changed = true;
    }
    if (changed)
        llm_emit_context(c->g->w, s, NULL);
}

static void beacon(struct llm_gateways *g)
{
    char buf[96];
    int n = snprintf(buf, sizeof(buf), "{\"v\":1,\"kind\":\"worker\",\"ts\":%lld}",
                     (long long)sh_now_ms());

    sh_producer_send(g->w->producer, g->topic, g->beacon_key, buf, (size_t)n, NULL);
}

void llm_gateways_poll(struct llm_gateways *g)
{
    int64_t now = sh_mono_ms();

    if (!g)
        return;
    for (int i = 0; i < POLL_BURST; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(g->rk, 0);
        if (!m)
            break;
        if (!m->err)
            llm_gateways_take(g, m->key, m->key_len, m->payload, m->len, now);
        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            sh_log(SH_LOG_DEBUG, "gateways topic", "err=\"%s\"", rd_kafka_message_errstr(m));
        rd_kafka_message_destroy(m);
    }
    if (now >= g->beat_at) {
        beacon(g);
        g->beat_at = now + LLM_GATEWAYS_BEAT_MS;
    }
    if (now >= g->sweep_at) {
        struct sweep c = {g, now};
        sh_map_each(g->w->sessions, sweep_session, &c);
        g->sweep_at = now + LLM_GATEWAYS_BEAT_MS;
    }
}

void llm_gateways_destroy(struct llm_gateways *g)
{
    if (!g)
        return;
    /* The beacon's key is this process's alone: leave no record of it behind. */
    if (g->rk && g->w && g->w->producer)
        sh_producer_send(g->w->producer, g->topic, g->beacon_key, NULL, 0, NULL);
    if (g->rk) {
        rd_kafka_consumer_close(g->rk);
        rd_kafka_destroy(g->rk);
    }
    if (g->gws)
        sh_map_each(g->gws, free_gateway, NULL);
    sh_map_destroy(g->gws);
    free(g);
}
