/* The dead-letter path: poison events to chat.dlq, acknowledged before offsets move on. */
#include "dlq.h"
#include "sh_err.h"
#include "sh_kafka.h"
#include "sh_time.h"

#include <stdlib.h>
#include <string.h>

struct pst_dlq {
    struct sh_producer *p;
    char *topic;
    unsigned failed;        /* delivery failures since the last flush */
};

static void on_delivery(void *ctx, void *opaque, rd_kafka_resp_err_t err)
{
    struct pst_dlq *d = ctx;

    (void)opaque;
    if (err)
        d->failed++;
}

struct pst_dlq *pst_dlq_create(const char *brokers, const char *topic, char *err, size_t errlen)
{
    struct pst_dlq *d = calloc(1, sizeof(*d));

    if (!d || !(d->topic = strdup(topic))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    d->p = sh_producer_create(brokers, on_delivery, d, err, errlen);
    if (!d->p)
        goto fail;
    return d;
fail:
    pst_dlq_destroy(d);
    return NULL;
}

void pst_dlq_destroy(struct pst_dlq *d)
{
    if (!d)
        return;
    sh_producer_destroy(d->p);
    free(d->topic);
    free(d);
}

static char *base64(const unsigned char *s, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? s[i + 2] : 0);
        *o++ = tab[v >> 18 & 63];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* A string member, or null when 's' is empty. */
static json_t *str_or_null(const char *s, size_t n)
{
    json_t *v = n ? json_stringn(s, n) : NULL;

    return v ? v : json_null();
}

int pst_dlq_record(const rd_kafka_message_t *m, const char *src_topic, const struct pst_row *row,
                   char **out)
{
    json_t *o = json_object(), *src = json_object(), *orig = NULL;
    int rc = SH_ENOMEM;

    *out = NULL;
    if (!o || !src)
        goto out;
    json_object_set_new(src, "topic", json_string(src_topic));
    json_object_set_new(src, "partition", json_integer(m->partition));
    json_object_set_new(src, "offset", json_integer(m->offset));
    json_object_set_new(src, "key", str_or_null(m->key, m->key ? m->key_len : 0));
    json_object_set_new(o, "v", json_integer(1));
    json_object_set_new(o, "type", json_string("dlq"));
    json_object_set_new(o, "ts", json_integer(sh_now_ms()));
    json_object_set_new(o, "service", json_string("persister"));
    json_object_set_new(o, "reason", str_or_null(row->why, strlen(row->why)));
    json_object_set(o, "source", src);
    json_object_set_new(o, "event_id", str_or_null(row->key, strlen(row->key)));
    json_object_set_new(o, "session_id", str_or_null(row->session_id, strlen(row->session_id)));
    json_object_set_new(o, "event_type", str_or_null(row->type, strlen(row->type)));
    /* json_stringn() refuses invalid UTF-8: such values travel as base64. */
    orig = m->payload ? json_stringn(m->payload, m->len) : json_null();
    if (orig) {
        json_object_set_new(o, "original", orig);
    } else {
        char *b = base64(m->payload, m->len);
        if (!b)
            goto out;
        json_object_set_new(o, "original_base64", json_string(b));
        free(b);
    }
    *out = json_dumps(o, JSON_COMPACT);
    rc = *out ? SH_OK : SH_ENOMEM;
out:
    json_decref(src);
    json_decref(o);
    return rc;
}

int pst_dlq_send(struct pst_dlq *d, const rd_kafka_message_t *m, const char *src_topic,
                 const struct pst_row *row)
{
    char *rec = NULL, key[256];
    size_t klen = m->key ? (m->key_len < sizeof(key) ? m->key_len : sizeof(key) - 1) : 0;
    int rc = pst_dlq_record(m, src_topic, row, &rec);

    if (rc)
        return rc;
    memcpy(key, m->key ? m->key : "", klen);
    key[klen] = '\0';
    rc = sh_producer_send(d->p, d->topic, klen ? key : NULL, rec, strlen(rec), NULL);
    if (rc)
        d->failed++;
    free(rec);
    return rc;
}

int pst_dlq_flush(struct pst_dlq *d, int timeout_ms)
{
    int left = sh_producer_flush(d->p, timeout_ms);
    int rc = left == 0 && d->failed == 0 ? SH_OK : SH_EKAFKA;

    d->failed = 0;
    return rc;
}
