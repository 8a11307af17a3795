/* Rebuilding sessions from the compacted chat.context topic: the worker that
 * is assigned partition N of chat.requests reads partition N of chat.context
 * to its end before taking any request, so sessions move with partitions. */
#include "restore.h"
#include "worker.h"
#include "sh_envelope.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_log.h"
#include "sh_map.h"
#include "sh_time.h"

#include <stdlib.h>
#include <string.h>

#define RESTORE_TIMEOUT_MS 30000

static void put_session(struct llm_worker *w, const rd_kafka_message_t *m)
{
    struct sh_env e;
    struct llm_session *s, *old;
    char key[SH_UUID_LEN + 1];

    if (!m->key || m->key_len != SH_UUID_LEN)
        return;
    memcpy(key, m->key, SH_UUID_LEN);
    key[SH_UUID_LEN] = '\0';
    if (!m->payload) {                       /* tombstone */
        llm_session_destroy(sh_map_del(w->sessions, key));
        return;
    }
    if (sh_env_decode(m->payload, m->len, &e))
        return;
    s = strcmp(e.type, "context") ? NULL : llm_session_restore(key, m->partition, e.payload);
    sh_env_free(&e);
    if (!s)
        return;
    old = sh_map_get(w->sessions, key);
    if (old && old->turn) {                  /* live state is newer than any snapshot */
        llm_session_destroy(s);
        return;
    }
    llm_session_destroy(old);
    if (sh_map_set(w->sessions, key, s))
        llm_session_destroy(s);
}

int llm_restore_partitions(struct llm_worker *w, const rd_kafka_topic_partition_list_t *parts)
{
    char err[512], group[256];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *assign = NULL;
    int64_t *high = NULL, deadline;
    int remaining = 0, restored = 0, rc = SH_EKAFKA;

    /* librdkafka wants a group.id even for assign(); nothing joins or commits. */
    snprintf(group, sizeof(group), "%s-restore", w->cfg->group);
    conf = sh_kafka_conf(w->cfg->brokers, group, err, sizeof(err));
    if (!conf || sh_kafka_set(conf, "enable.auto.commit", "false", err, sizeof(err)) ||
        sh_kafka_set(conf, "enable.partition.eof", "true", err, sizeof(err)))
        goto out;
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk)
        goto out;
    conf = NULL; /* now owned by rk */
    assign = rd_kafka_topic_partition_list_new(parts->cnt);
    high = calloc((size_t)parts->cnt, sizeof(*high));
    if (!assign || !high) {
        rc = SH_ENOMEM;
        goto out;
    }
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo = 0, hi = 0;
        int32_t p = parts->elems[i].partition;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;

        /* Right after a topic is created or a broker restarts, leadership
         * moves for a while: retry those answers rather than start blind. */
        for (int attempt = 0; attempt < 20; attempt++) {
            e = rd_kafka_query_watermark_offsets(rk, w->t_context, p, &lo, &hi, 10000);
            if (e != RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION &&
                e != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
                e != RD_KAFKA_RESP_ERR__TRANSPORT && e != RD_KAFKA_RESP_ERR__TIMED_OUT)
                break;
            rd_kafka_poll(rk, 250);
        }
        if (e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION || e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            continue;                        /* nothing stored yet */
        if (e) {
            snprintf(err, sizeof(err), "watermarks of %s[%d]: %s", w->t_context, p,
                     rd_kafka_err2str(e));
            goto out;
        }
        if (hi <= lo)
            continue;
        rd_kafka_topic_partition_list_add(assign, w->t_context, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
        high[i] = hi;
        remaining++;
    }
    if (remaining && rd_kafka_assign(rk, assign)) {
        snprintf(err, sizeof(err), "assign failed");
        goto out;
    }
    deadline = sh_mono_ms() + RESTORE_TIMEOUT_MS;
    while (remaining > 0) {
        rd_kafka_message_t *m;
        if (sh_mono_ms() > deadline) {
            snprintf(err, sizeof(err), "timed out with %d partitions unread", remaining);
            rc = SH_ETIMEDOUT;
            goto out;
        }
        m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            remaining--;
        } else if (m->err) {
            sh_log(SH_LOG_WARN, "context restore", "err=\"%s\"", rd_kafka_message_errstr(m));
        } else {
            put_session(w, m);
            restored++;
        }
        rd_kafka_message_destroy(m);
    }
    rc = restored;
out:
    if (rc < 0)
        sh_log(SH_LOG_ERROR, "context restore failed", "err=\"%s\"", err);
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (assign)
        rd_kafka_topic_partition_list_destroy(assign);
    free(high);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    return rc;
}
