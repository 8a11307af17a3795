/* The gateway's Kafka side: producer for chat.requests, the reply topic
 * read from its end, and the Kafka thread that serves both and hands the
 * results to the lws thread through a mutex-protected queue.
 *
 * The reply consumer uses librdkafka's simple (legacy) consumer API:
 * rd_kafka_assign() insists on a group.id, and the reply topic belongs to
 * this gateway alone, so there is no group. It starts at the high
 * watermark queried first, which is the "end" at that moment without the
 * race of OFFSET_END being resolved later. Both librdkafka queues signal a
 * pipe, so the thread sleeps in poll() yet sees replies and delivery
 * reports at once. */
#include "kafka_bridge.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_log.h"
#include "sh_time.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH            256      /* replies taken from librdkafka per round */
#define QUEUE_SOFT_MAX   20000    /* stop reading replies while this many wait */
#define PROBE_EVERY_MS   2000     /* how often Kafka reachability is checked */
#define PROBE_TIMEOUT_MS 1500
#define RETRY_MS         1000     /* reply topic setup retry interval */

/* One item for the lws thread: a decoded reply or a delivery report. */
struct item {
    struct item *next;
    struct sh_env *env;           /* reply; NULL for a delivery report */
    void *opaque;                 /* delivery: the publisher's opaque */
    int err;
};

struct gw_bridge {
    struct sh_producer *prod;
    rd_kafka_t *cons;
    rd_kafka_topic_t *rkt;        /* reply topic on the consumer handle */
    rd_kafka_queue_t *cons_q;     /* the reply partition's messages */
    char topic[SH_TOPIC_MAX + 1];
    int64_t retention_ms;
    int pipe_fd[2];               /* librdkafka queues and stop wake the thread */
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    atomic_bool consuming;        /* reply partition is being read */
    atomic_bool reachable;        /* the last metadata probe succeeded */
    void (*wake)(void *arg);
    void *wake_arg;
    pthread_mutex_t mu;           /* guards the item queue */
    struct item *head, *tail;
    size_t queued;
};

/* Append 'it' and wake the lws thread when the queue was empty. */
static void enqueue(struct gw_bridge *b, struct item *it)
{
    void (*wake)(void *arg);
    bool was_empty;

    pthread_mutex_lock(&b->mu);
    was_empty = b->head == NULL;
    if (b->tail)
        b->tail->next = it;
    else
        b->head = it;
    b->tail = it;
    b->queued++;
    wake = was_empty ? b->wake : NULL;
    pthread_mutex_unlock(&b->mu);
    if (wake)
        wake(b->wake_arg);
}

/* Delivery report: runs in whichever thread polls the producer. */
static void on_kafka_delivery(void *ctx, void *opaque, rd_kafka_resp_err_t err)
{
    struct gw_bridge *b = ctx;
    struct item *it;

    if (!opaque)
        return;
    it = calloc(1, sizeof(*it));
    if (!it) {
        free(opaque);               /* the client will not get its ack */
        sh_log(SH_LOG_ERROR, "out of memory for a delivery report", NULL);
        return;
    }
    it->opaque = opaque;
    it->err = err ? SH_EKAFKA : SH_OK;
    if (err)
        sh_log(SH_LOG_WARN, "request not delivered", "error=\"%s\"", rd_kafka_err2str(err));
    enqueue(b, it);
}

static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct gw_bridge *b = opaque;

    (void)rk;
    /* librdkafka logs the details itself (sh_kafka's log callback); only
     * the readiness changes here. */
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && atomic_exchange(&b->reachable, false))
        sh_log(SH_LOG_WARN, "kafka unreachable", "reason=\"%s\"", reason);
}

struct gw_bridge *gw_bridge_create(const char *brokers, const char *gateway_id,
                                   int64_t reply_retention_ms, char *err, size_t errlen)
{
    struct gw_bridge *b = calloc(1, sizeof(*b));
    rd_kafka_conf_t *conf = NULL;

    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->pipe_fd[0] = b->pipe_fd[1] = -1;
    pthread_mutex_init(&b->mu, NULL);
    b->retention_ms = reply_retention_ms;
    if (snprintf(b->topic, sizeof(b->topic), "%s%s", SH_TOPIC_REPLIES_PFX, gateway_id) >=
        (int)sizeof(b->topic)) {
        snprintf(err, errlen, "gateway id too long");
        goto fail;
    }
    if (pipe2(b->pipe_fd, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto fail;
    }
    b->prod = sh_producer_create(brokers, on_kafka_delivery, b, err, errlen);
    if (!b->prod)
        goto fail;
    /* A consumer conf with an empty group.id: librdkafka then runs no
     * group machinery at all (no coordinator, no commits). */
    conf = sh_kafka_conf(brokers, "", err, errlen);
    if (!conf)
        goto fail;
    if (sh_kafka_set(conf, "enable.auto.commit", "false", err, errlen) ||
        sh_kafka_set(conf, "enable.auto.offset.store", "false", err, errlen) ||
        sh_kafka_set(conf, "enable.partition.eof", "false", err, errlen))
        goto fail;
    rd_kafka_conf_set_error_cb(conf, on_kafka_error);
    rd_kafka_conf_set_opaque(conf, b);
    b->cons = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
    if (!b->cons)
        goto fail;
    conf = NULL; /* now owned by cons */
    b->rkt = rd_kafka_topic_new(b->cons, b->topic, NULL);
    b->cons_q = rd_kafka_queue_new(b->cons);
    if (!b->rkt || !b->cons_q) {
        snprintf(err, errlen, "cannot create the reply topic handle");
        goto fail;
    }
    return b;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    gw_bridge_destroy(b);
    return NULL;
}

/* Create the reply topic and start reading it at its end. Returns 0 or a
 * negative code with 'err' set; the caller retries later. */
static int start_consumer(struct gw_bridge *b, char *err, size_t errlen)
{
    char retention[32];
    const char *cfg[] = {"retention.ms", retention, NULL};
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t e;
    int rc;

    snprintf(retention, sizeof(retention), "%lld", (long long)b->retention_ms);
    rc = sh_kafka_create_topic(sh_producer_rk(b->prod), b->topic, 1, cfg, 5000, err, errlen);
    if (rc)
        return rc;
    e = rd_kafka_query_watermark_offsets(b->cons, b->topic, 0, &lo, &hi, 5000);
    if (e) {
        snprintf(err, errlen, "watermarks of %s: %s", b->topic, rd_kafka_err2str(e));
        return SH_EKAFKA;
    }
    if (rd_kafka_consume_start_queue(b->rkt, 0, hi, b->cons_q) != 0) {
        snprintf(err, errlen, "consume %s: %s", b->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return SH_EKAFKA;
    }
    sh_log(SH_LOG_INFO, "reading replies", "topic=%s offset=%lld", b->topic, (long long)hi);
    return SH_OK;
}

/* Ask a broker for the reply topic's metadata: proof that Kafka answers. */
static void probe(struct gw_bridge *b)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e;
    bool ok, was;

    e = rd_kafka_metadata(b->cons, 0, b->rkt, &md, PROBE_TIMEOUT_MS);
    ok = !e && md && md->topic_cnt == 1 && !md->topics[0].err && md->topics[0].partition_cnt > 0;
    if (md)
        rd_kafka_metadata_destroy(md);
    was = atomic_exchange(&b->reachable, ok);
    if (was != ok)
        sh_log(ok ? SH_LOG_INFO : SH_LOG_WARN, ok ? "kafka reachable" : "kafka unreachable",
               "error=\"%s\"", e ? rd_kafka_err2str(e) : "none");
}

/* Take up to BATCH replies from librdkafka; returns how many were read. */
static int consume_batch(struct gw_bridge *b)
{
    rd_kafka_message_t *msgs[BATCH];
    ssize_t n = rd_kafka_consume_batch_queue(b->cons_q, 0, msgs, BATCH);

    for (ssize_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = msgs[i];
        struct item *it;

        if (m->err) {
            sh_log(SH_LOG_WARN, "reply topic", "error=\"%s\"", rd_kafka_message_errstr(m));
        } else if (!(it = calloc(1, sizeof(*it))) || !(it->env = malloc(sizeof(*it->env)))) {
            free(it);
            sh_log(SH_LOG_ERROR, "out of memory for a reply", NULL);
        } else if (sh_env_decode(m->payload, m->len, it->env) != SH_OK) {
            sh_log(SH_LOG_WARN, "undecodable reply dropped", "offset=%lld",
                   (long long)m->offset);
            free(it->env);
            free(it);
        } else {
            enqueue(b, it);
        }
        rd_kafka_message_destroy(m);
    }
    return n < 0 ? 0 : (int)n;
}

static void *run(void *arg)
{
    struct gw_bridge *b = arg;
    int64_t next_probe = 0, next_setup = 0;
    bool more = false;
    char err[512];

    while (!atomic_load(&b->stop)) {
        struct pollfd pfd = {.fd = b->pipe_fd[0], .events = POLLIN};
        char drain[64];
        int64_t now;

        if (poll(&pfd, 1, more ? 0 : 200) > 0)
            while (read(b->pipe_fd[0], drain, sizeof(drain)) > 0)
                ;
        more = false;
        now = sh_mono_ms();
        if (!atomic_load(&b->consuming) && now >= next_setup) {
            if (start_consumer(b, err, sizeof(err)) == SH_OK) {
                atomic_store(&b->consuming, true);
                next_probe = 0;
            } else {
                sh_log(SH_LOG_WARN, "reply topic not ready; retrying", "error=\"%s\"", err);
                next_setup = now + RETRY_MS;
            }
        }
        /* Delivery reports first: an ack should reach the lws thread
         * before replies to the message it acknowledges. */
        sh_producer_poll(b->prod, 0);
        if (atomic_load(&b->consuming)) {
            size_t queued;
            pthread_mutex_lock(&b->mu);
            queued = b->queued;
            pthread_mutex_unlock(&b->mu);
            /* A stalled lws thread leaves replies in Kafka, not in memory. */
            if (queued < QUEUE_SOFT_MAX)
                more = consume_batch(b) == BATCH;
        }
        rd_kafka_poll(b->cons, 0);
        if (atomic_load(&b->consuming) && now >= next_probe) {
            probe(b);
            next_probe = sh_mono_ms() + PROBE_EVERY_MS;
        }
    }
    return NULL;
}

int gw_bridge_start(struct gw_bridge *b, void (*wake)(void *arg), void *arg)
{
    rd_kafka_queue_t *main_q = rd_kafka_queue_get_main(sh_producer_rk(b->prod));
    sigset_t all, old;
    int rc;

    b->wake = wake;
    b->wake_arg = arg;
    rd_kafka_queue_io_event_enable(main_q, b->pipe_fd[1], "p", 1);
    rd_kafka_queue_destroy(main_q);
    rd_kafka_queue_io_event_enable(b->cons_q, b->pipe_fd[1], "c", 1);
    /* Signals belong to the lws thread, which runs the shutdown. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&b->thread, NULL, run, b);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return SH_EIO;
    b->thread_started = true;
    return SH_OK;
}

int gw_bridge_publish(struct gw_bridge *b, struct sh_env *e, void *opaque)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    snprintf(e->reply_to, sizeof(e->reply_to), "%s", b->topic);
    rc = sh_env_encode(e, &buf, &len);
    if (rc)
        return rc;
    rc = sh_producer_send(b->prod, sh_topic(SH_TOPIC_REQUESTS), e->session_id, buf, len,
                          opaque);
    free(buf);
    return rc;
}

size_t gw_bridge_drain(struct gw_bridge *b, size_t max, gw_reply_fn on_reply,
                       gw_delivery_fn on_delivery, void *ctx)
{
    struct item *batch, *last = NULL;
    size_t n = 0, left;

    /* Detach up to 'max' items so the handlers run without the lock. */
    pthread_mutex_lock(&b->mu);
    batch = b->head;
    for (struct item *it = b->head; it && n < max; it = it->next) {
        last = it;
        n++;
    }
    if (last) {
        b->head = last->next;
        if (!b->head)
            b->tail = NULL;
        last->next = NULL;
    } else {
        batch = NULL;
    }
    b->queued -= n;
    left = b->queued;
    pthread_mutex_unlock(&b->mu);

    while (batch) {
        struct item *it = batch;
        batch = it->next;
        if (it->env) {
            on_reply(ctx, it->env);
            sh_env_free(it->env);
            free(it->env);
        } else {
            on_delivery(ctx, it->opaque, it->err);
        }
        free(it);
    }
    if (n > 0 && left == 0) {
        /* The thread may resume reading; a full pipe means it is awake. */
        ssize_t w = write(b->pipe_fd[1], "d", 1);
        (void)w;
    }
    return left;
}

bool gw_bridge_ready(const struct gw_bridge *b)
{
    return b && atomic_load(&b->consuming) && atomic_load(&b->reachable) &&
           !atomic_load(&b->stop);
}

const char *gw_bridge_reply_topic(const struct gw_bridge *b)
{
    return b->topic;
}

int gw_bridge_flush(struct gw_bridge *b, int timeout_ms)
{
    return sh_producer_flush(b->prod, timeout_ms);
}

void gw_bridge_stop(struct gw_bridge *b)
{
    if (!b)
        return;
    atomic_store(&b->stop, true);
    if (b->thread_started) {
        if (write(b->pipe_fd[1], "s", 1) < 0 && errno != EAGAIN)
            sh_log(SH_LOG_WARN, "cannot wake the kafka thread", NULL);
        pthread_join(b->thread, NULL);
        b->thread_started = false;
    }
    /* Delivery reports served from now on (flush, destroy) only queue up:
     * the lws context may be going away. */
    pthread_mutex_lock(&b->mu);
    b->wake = NULL;
    pthread_mutex_unlock(&b->mu);
}

void gw_bridge_destroy(struct gw_bridge *b)
{
    if (!b)
        return;
    gw_bridge_stop(b);
    if (b->cons) {
        if (atomic_load(&b->consuming))
            rd_kafka_consume_stop(b->rkt, 0);
        if (b->cons_q)
            rd_kafka_queue_destroy(b->cons_q);
        if (b->rkt)
            rd_kafka_topic_destroy(b->rkt);
        rd_kafka_destroy(b->cons);
    }
    sh_producer_destroy(b->prod);   /* late delivery reports land in the queue */
    while (b->head) {
        struct item *it = b->head;
        b->head = it->next;
        if (it->env) {
            sh_env_free(it->env);
            free(it->env);
        }
        free(it->opaque);
        free(it);
    }
    for (int i = 0; i < 2; i++)
        if (b->pipe_fd[i] >= 0)
            close(b->pipe_fd[i]);
    pthread_mutex_destroy(&b->mu);
    free(b);
}
