/* produce: a tiny Kafka client for the integration tests (Python here has no Kafka client).
 *
 *   produce produce BROKERS TOPIC
 *       Reads "key<TAB>value" lines from stdin (an empty key = no key) and produces each as
 *       one message with an idempotent, acks=all producer and the project's partitioner
 *       (murmur2_random: the same key -> partition mapping as the services). Lines are sent
 *       as they arrive, so a test can feed a slow stream. At EOF it waits for every delivery
 *       and prints "delivered=N failed=M"; exit status 0 only when M is 0.
 *   produce consume BROKERS TOPIC IDLE_MS
 *       Reads every partition from the beginning (no consumer group) and prints
 *       "partition<TAB>offset<TAB>key<TAB>value" per message; exits after IDLE_MS without one.
 *
 * Build: cc -O1 -o produce produce.c $(pkg-config --cflags --libs rdkafka) */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long delivered, failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err) {
        failed++;
        fprintf(stderr, "produce: delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        delivered++;
    }
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
    char err[256];

    if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "produce: %s=%s: %s\n", k, v, err);
        return -1;
    }
    return 0;
}

static int do_produce(const char *brokers, const char *topic)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256], *line = NULL;
    size_t cap = 0;
    ssize_t n;
    rd_kafka_t *rk;

    if (set(conf, "bootstrap.servers", brokers) || set(conf, "enable.idempotence", "true") ||
        set(conf, "linger.ms", "5") || set(conf, "partitioner", "murmur2_random") ||
        set(conf, "message.timeout.ms", "120000"))
        return 2;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "produce: %s\n", err);
        return 2;
    }
    while ((n = getline(&line, &cap, stdin)) > 0) {
        char *tab, *val;
        size_t klen;

        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0)
            continue;
        tab = strchr(line, '\t');
        if (!tab) {
            fprintf(stderr, "produce: line without a tab, skipped\n");
            failed++;
            continue;
        }
        klen = (size_t)(tab - line);
        val = tab + 1;
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_KEY(klen ? line : NULL, klen),
                RD_KAFKA_V_VALUE(val, strlen(val)), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "produce: %s\n", rd_kafka_err2str(e));
                failed++;
                break;
            }
            rd_kafka_poll(rk, 50);
        }
        rd_kafka_poll(rk, 0);
    }
    free(line);
    rd_kafka_flush(rk, 120000);
    failed += rd_kafka_outq_len(rk);
    rd_kafka_destroy(rk);
    printf("delivered=%ld failed=%ld\n", delivered, failed);
    return failed ? 1 : 0;
}

static int do_consume(const char *brokers, const char *topic, int idle_ms)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_topic_t *t;
    char err[256];
    rd_kafka_t *rk;
    int rc = 0;

    if (set(conf, "bootstrap.servers", brokers) || set(conf, "group.id", "produce-tool") ||
        set(conf, "enable.auto.commit", "false"))
        return 2;
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "produce: %s\n", err);
        return 2;
    }
    t = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) || md->topic_cnt != 1 ||
        md->topics[0].err) {
        fprintf(stderr, "produce: no metadata for %s\n", topic);
        rc = 2;
        goto out;
    }
    parts = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
    for (int i = 0; i < md->topics[0].partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);   /* no group membership: plain assignment */
    rd_kafka_topic_partition_list_destroy(parts);
    for (;;) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, idle_ms);
        if (!m)
            break;
        if (!m->err)
            printf("%d\t%lld\t%.*s\t%.*s\n", (int)m->partition, (long long)m->offset,
                   (int)m->key_len, m->key ? (const char *)m->key : "", (int)m->len,
                   m->payload ? (const char *)m->payload : "");
        rd_kafka_message_destroy(m);
    }
    fflush(stdout);
    rd_kafka_consumer_close(rk);
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "produce"))
        return do_produce(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "consume"))
        return do_consume(argv[2], argv[3], (int)strtol(argv[4], NULL, 10));
    fprintf(stderr, "usage: produce produce BROKERS TOPIC < lines\n"
                    "       produce consume BROKERS TOPIC IDLE_MS\n");
    return 2;
}
