/* persist.c: the persister benchmark. Produces chat.events envelopes at a fixed rate (or as one
 * burst) and watches event_log in PostgreSQL: events/s into the database and the lag from each
 * envelope's ts to the moment its row is visible. */
#include "persist.h"

#include <inttypes.h>
#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sh_envelope.h"
#include "sh_kafka.h"
#include "sh_map.h"
#include "sh_time.h"
#include "sh_uuid.h"

#define EVENTS_PER_SESSION 21     /* session_start, then 10 x (user_message, ai_response) */
#define POLL_MS 10                /* how often event_log is read */

struct prun {
    const struct bench_persist_opts *o;
    struct bench_persist_result *r;
    struct sh_producer *prod;
    uint64_t delivered, failed;
    char user[64];
    struct sh_map *seen;        /* event_ids already counted (see poll_rows) */
    uint64_t n_seen;            /* rows the polls found (r->rows may be higher: see poll_rows) */
};

/* event_id comes from a sequence: with several persisters a lower id may commit after a higher
 * one. Every LOOKBACK_MS a poll also looks back this far below the highest id seen and skips
 * what it counted (the rows it finds late get up to LOOKBACK_MS more lag; cheap otherwise). */
#define LOOKBACK_IDS 5000
#define LOOKBACK_MS  250

static void on_delivery(void *ctx, void *opaque, rd_kafka_resp_err_t err)
{
    struct prun *p = ctx;

    (void)opaque;
    if (err)
        p->failed++;
    else
        p->delivered++;
}

/* The i-th event of the run: sessions of EVENTS_PER_SESSION events, interleaved the way many
 * concurrent sessions produce them. 'sids' holds one session id per session. */
static int send_event(struct prun *p, uint64_t i, uint64_t n_sessions, char (*sids)[SH_UUID_LEN + 1],
                      char (*turns)[SH_UUID_LEN + 1])
{
    uint64_t sess = i % n_sessions, k = i / n_sessions;
    struct sh_env e;
    const char *type = k == 0 ? "session_start" : k % 2 ? "user_message" : "ai_response";
    char *buf = NULL;
    size_t len = 0;
    int rc;

    if (k % 2 == 1)
        sh_uuid_v7(turns[sess]);
    rc = sh_env_init(&e, type, sids[sess], p->user, k ? turns[sess] : NULL);
    if (rc)
        return rc;
    if (k % 2 == 1)
        json_object_set_new(e.payload, "content", json_string("What is the weather in Paris?"));
    else if (k)
        json_object_set_new(e.payload, "content",
                            json_string("It is 18 degrees and sunny in Paris today."));
    if (k && k % 2 == 0)
        json_object_set_new(e.payload, "finish_reason", json_string("stop"));
    rc = sh_env_encode(&e, &buf, &len);
    if (!rc)
        rc = sh_producer_send(p->prod, sh_topic(SH_TOPIC_EVENTS), e.session_id, buf, len, NULL);
    free(buf);
    sh_env_free(&e);
    return rc;
}

/* Read rows newer than '*last_id': one lag sample each (time of the read - the row's ts). */
static int poll_rows(struct prun *p, PGconn *db, int64_t *last_id, bool lookback)
{
    char idbuf[32];
    const char *params[2] = {idbuf, p->user};
    int64_t t_read = sh_now_ms();
    PGresult *res;
    int n;

    snprintf(idbuf, sizeof(idbuf), "%" PRId64,
             lookback && *last_id > LOOKBACK_IDS ? *last_id - LOOKBACK_IDS : *last_id);
    /* The run's own rows: its sessions belong to one user id. */
    res = PQexecParams(db,
                       "SELECT e.event_id, (extract(epoch FROM e.\"timestamp\") * 1000)::bigint "
                       "FROM event_log e JOIN session_metadata m USING (session_id) "
                       "WHERE e.event_id > $1::bigint AND m.user_id = $2 ORDER BY e.event_id",
                       2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        fprintf(stderr, "loadgen: event_log read failed: %s", PQerrorMessage(db));
        PQclear(res);
        return -1;
    }
    n = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *idv = PQgetvalue(res, i, 0);
        int64_t id = strtoll(idv, NULL, 10);
        int64_t ts = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        if (sh_map_get(p->seen, idv))
            continue;
        if (sh_map_set(p->seen, idv, (void *)1)) {
            PQclear(res);
            return -1;
        }
        n++;
        bench_samples_add(&p->r->lag_ms, (double)(t_read - ts));
        if (id > *last_id)
            *last_id = id;
    }
    p->n_seen += (uint64_t)n;
    if (p->n_seen > p->r->rows)
        p->r->rows = p->n_seen;
    if (n > 0)
        p->r->t_last_row_us = bench_now_us();
    PQclear(res);
    if (lookback) {
        /* The exact count: a row that committed further back than the look-back window is
         * counted (and ends the run) without a lag sample of its own. */
        res = PQexecParams(db, "SELECT count(*) FROM event_log e JOIN session_metadata m "
                               "USING (session_id) WHERE m.user_id = $1",
                           1, NULL, params + 1, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            uint64_t all = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
            if (all > p->r->rows) {
                p->r->rows = all;
                p->r->t_last_row_us = bench_now_us();
            }
        }
        PQclear(res);
    }
    return n;
}

int bench_persist_run(const struct bench_persist_opts *o, struct bench_persist_result *r)
{
    struct prun p = {.o = o, .r = r};
    uint64_t n_sessions = (o->events + EVENTS_PER_SESSION - 1) / EVENTS_PER_SESSION, sent = 0;
    char (*sids)[SH_UUID_LEN + 1] = calloc(n_sessions, sizeof(*sids));
    char (*turns)[SH_UUID_LEN + 1] = calloc(n_sessions, sizeof(*turns));
    char err[512];
    PGconn *db = NULL;
    int64_t last_id = 0, t0, deadline, next_poll, next_lookback;
    int rc = -1;

    if (!sids || !turns)
        goto out;
    snprintf(p.user, sizeof(p.user), "bench-persist-%d-%lld", (int)getpid(),
             (long long)sh_now_ms());
    for (uint64_t i = 0; i < n_sessions; i++)
        sh_uuid_v7(sids[i]);
    if (!(p.seen = sh_map_create()))
        goto out;
    db = PQconnectdb(o->database_url);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "loadgen: database: %s", PQerrorMessage(db));
        goto out;
    }
    p.prod = sh_producer_create(o->brokers, on_delivery, &p, err, sizeof(err));
    if (!p.prod) {
        fprintf(stderr, "loadgen: producer: %s\n", err);
        goto out;
    }
    t0 = bench_now_us();
    r->t0_us = t0;
    deadline = sh_mono_ms() + (int64_t)o->timeout_s * 1000;
    next_poll = next_lookback = sh_mono_ms();
    /* Pace in 1 ms steps: by now, rate * elapsed events should have been sent. */
    while (!bench_stop && sh_mono_ms() < deadline &&
           (sent < o->events || r->rows < o->events)) {
        uint64_t due = o->events;
        if (o->rate > 0) {
            double el = (double)(bench_now_us() - t0) / 1e6;
            due = (uint64_t)(el * o->rate) + 1;
            if (due > o->events)
                due = o->events;
        }
        while (sent < due) {
            if (send_event(&p, sent, n_sessions, sids, turns)) {
                fprintf(stderr, "loadgen: produce failed at event %" PRIu64 "\n", sent);
                goto out;
            }
            if (++sent % 1000 == 0)
                sh_producer_poll(p.prod, 0);
            if (o->rate <= 0 && sh_mono_ms() >= next_poll)
                break;          /* burst: still read the table on time */
        }
        if (sent == o->events && !r->t_sent_us)
            r->t_sent_us = bench_now_us();
        sh_producer_poll(p.prod, 0);
        if (sh_mono_ms() >= next_poll) {
            bool back = sh_mono_ms() >= next_lookback;
            if (back)
                next_lookback = sh_mono_ms() + LOOKBACK_MS;
            if (poll_rows(&p, db, &last_id, back) < 0)
                goto out;
            next_poll = sh_mono_ms() + POLL_MS;
        }
        if (o->rate > 0 || sent == o->events)
            usleep(1000);
    }
    sh_producer_flush(p.prod, 10000);
    r->sent = sent;
    r->delivered = p.delivered;
    rc = 0;
out:
    sh_producer_destroy(p.prod);
    sh_map_destroy(p.seen);
    PQfinish(db);
    free(sids);
    free(turns);
    return rc;
}

void bench_persist_result_init(struct bench_persist_result *r)
{
    memset(r, 0, sizeof(*r));
    bench_samples_init(&r->lag_ms);
}

void bench_persist_result_free(struct bench_persist_result *r)
{
    if (r)
        bench_samples_free(&r->lag_ms);
}

double bench_persist_rate(const struct bench_persist_result *r)
{
    return r->t_last_row_us > r->t0_us
               ? bench_rate(r->rows, (double)(r->t_last_row_us - r->t0_us) / 1e6)
               : 0;
}

void bench_persist_print(const struct bench_persist_opts *o, struct bench_persist_result *r)
{
    struct bench_summary lag;

    bench_samples_summarize(&r->lag_ms, &lag);
    printf("\npersister: events=%" PRIu64 " rate=%s\n", o->events,
           o->rate > 0 ? "fixed" : "burst (as fast as possible)");
    if (o->rate > 0)
        printf("%-28s %12.0f\n", "offered events/s", o->rate);
    printf("%-28s %12" PRIu64 "\n", "events sent", r->sent);
    printf("%-28s %12" PRIu64 "\n", "events acked by Kafka", r->delivered);
    printf("%-28s %12" PRIu64 "\n", "rows in event_log", r->rows);
    printf("%-28s %12.0f\n", "events/s into PostgreSQL", bench_persist_rate(r));
    printf("%-28s %12.1f\n", "lag p50 ms", lag.p50);
    printf("%-28s %12.1f\n", "lag p90 ms", lag.p90);
    printf("%-28s %12.1f\n", "lag p99 ms", lag.p99);
    printf("%-28s %12.1f\n", "lag max ms", lag.max);
    printf("(lag = time of the %d ms poll that first saw the row - the envelope ts; "
           "includes up to one poll interval)\n", POLL_MS);
}

int bench_persist_json(const struct bench_persist_opts *o, struct bench_persist_result *r,
                       const char *label, const char *path)
{
    struct bench_summary lag;
    json_t *j;
    int rc;

    bench_samples_summarize(&r->lag_ms, &lag);
    j = json_pack("{s:s?, s:I, s:f, s:I, s:I, s:I, s:f, s:i, s:{s:I, s:f, s:f, s:f, s:f, s:f}}",
                  "label", label, "events", (json_int_t)o->events, "offered_rate", o->rate,
                  "sent", (json_int_t)r->sent, "delivered", (json_int_t)r->delivered,
                  "rows", (json_int_t)r->rows, "events_per_s", bench_persist_rate(r),
                  "poll_ms", POLL_MS, "lag_ms", "n", (json_int_t)lag.n, "p50", lag.p50,
                  "p90", lag.p90, "p99", lag.p99, "max", lag.max, "mean", lag.mean);
    if (!j)
        return -1;
    rc = json_dump_file(j, path, JSON_INDENT(1));
    json_decref(j);
    return rc;
}
