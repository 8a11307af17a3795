/* report.c: the load generator's output: a text table (side by side with the baseline) and JSON. */
#include "bench.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* Set by loadgen.c's signal handler, read by both drivers. */
volatile sig_atomic_t bench_stop;

void bench_result_init(struct bench_result *r, const char *mode)
{
    memset(r, 0, sizeof(*r));
    r->mode = mode;
    r->rss_before_kib = r->rss_after_kib = -1;
    bench_samples_init(&r->ttft_ms);
    bench_samples_init(&r->ttft_first_ms);
    bench_samples_init(&r->ttft_later_ms);
    bench_samples_init(&r->ack_ms);
    bench_samples_init(&r->gap_ms);
    bench_samples_init(&r->turn_ms);
    bench_samples_init(&r->connect_ms);
}

void bench_result_free(struct bench_result *r)
{
    if (!r)
        return;
    bench_samples_free(&r->ttft_ms);
    bench_samples_free(&r->ttft_first_ms);
    bench_samples_free(&r->ttft_later_ms);
    bench_samples_free(&r->ack_ms);
    bench_samples_free(&r->gap_ms);
    bench_samples_free(&r->turn_ms);
    bench_samples_free(&r->connect_ms);
}

long bench_rss_kib(int pid)
{
    char path[64], line[256];
    long kib = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, "VmRSS:", 6)) {
            char *end;
            kib = strtol(line + 6, &end, 10);
            if (end == line + 6)
                kib = -1;
            break;
        }
    fclose(f);
    return kib;
}

/* One row of the table: the metrics as numbers, so both columns and their difference print alike. */
struct row {
    const char *name;
    double pipe, direct;
    int has_pipe, has_direct;
    int diff; /* print difference and ratio */
};

static void print_row(const struct row *w)
{
    char a[32] = "-", b[32] = "-", d[32] = "", q[32] = "";

    if (w->has_pipe)
        snprintf(a, sizeof(a), "%.2f", w->pipe);
    if (w->has_direct)
        snprintf(b, sizeof(b), "%.2f", w->direct);
    if (w->diff && w->has_pipe && w->has_direct) {
        snprintf(d, sizeof(d), "%+.2f", bench_diff(w->pipe, w->direct));
        if (w->direct != 0)
            snprintf(q, sizeof(q), "%.2fx", bench_ratio(w->pipe, w->direct));
    }
    printf("%-26s %14s %14s %12s %9s\n", w->name, a, b, d, q);
}

struct metrics {
    struct bench_summary ttft, ttft1, ttftn, ack, gap, turn, conn;
    double tok_s, turns_s, conn_s;
};

static void measure(struct bench_result *r, struct metrics *m)
{
    memset(m, 0, sizeof(*m));
    if (!r)
        return;
    bench_samples_summarize(&r->ttft_ms, &m->ttft);
    bench_samples_summarize(&r->ttft_first_ms, &m->ttft1);
    bench_samples_summarize(&r->ttft_later_ms, &m->ttftn);
    bench_samples_summarize(&r->ack_ms, &m->ack);
    bench_samples_summarize(&r->gap_ms, &m->gap);
    bench_samples_summarize(&r->turn_ms, &m->turn);
    bench_samples_summarize(&r->connect_ms, &m->conn);
    m->tok_s = bench_rate(r->tokens, r->wall_s);
    m->turns_s = bench_rate(r->turns_ok, r->wall_s);
    m->conn_s = bench_rate(r->connects_ok, r->connect_span_s);
}

#define ROW(label, field, d)                                                                   \
    print_row(&(struct row){label, mp.field, md.field, pipe != NULL, direct != NULL, d})
#define CROW(label, field)                                                                     \
    print_row(&(struct row){label, pipe ? (double)pipe->field : 0,                             \
                            direct ? (double)direct->field : 0, pipe != NULL, direct != NULL, 0})

void bench_report_print(const struct bench_opts *o, struct bench_result *pipe,
                        struct bench_result *direct)
{
    struct metrics mp, md;

    measure(pipe, &mp);
    measure(direct, &md);
    printf("\nsessions=%d turns=%d concurrency=%d connect_rate=%g prompt=\"%.40s\"\n", o->sessions,
           o->turns, o->concurrency, o->connect_rate, o->prompt);
    printf("%-26s %14s %14s %12s %9s\n", "metric", "pipeline", "direct", "difference", "ratio");
    CROW("sessions ok", sessions_ok);
    if (o->turns == 0)
        goto conn; /* idle mode: no turns to report */
    CROW("turns ok", turns_ok);
    CROW("turn errors", turn_errors);
    CROW("closed early", closed_early);
    CROW("error frames", error_frames);
    CROW("tokens", tokens);
    CROW("token frames", token_frames);
    ROW("ttft p50 ms", ttft.p50, 1);
    ROW("ttft p90 ms", ttft.p90, 1);
    ROW("ttft p99 ms", ttft.p99, 1);
    ROW("ttft max ms", ttft.max, 1);
    ROW("ttft 1st turn p50 ms", ttft1.p50, 1);
    ROW("ttft 1st turn p99 ms", ttft1.p99, 1);
    ROW("ttft later turns p50 ms", ttftn.p50, 1);
    ROW("ttft later turns p99 ms", ttftn.p99, 1);
    print_row(&(struct row){"ack p50 ms (ws only)", mp.ack.p50, 0, pipe != NULL, 0, 0});
    print_row(&(struct row){"ack p99 ms (ws only)", mp.ack.p99, 0, pipe != NULL, 0, 0});
    ROW("frame gap p50 ms", gap.p50, 1);
    ROW("frame gap p99 ms", gap.p99, 1);
    ROW("frame gap max ms", gap.max, 1);
    ROW("turn p50 ms", turn.p50, 1);
    ROW("turn p99 ms", turn.p99, 1);
    ROW("tokens/s delivered", tok_s, 1);
    ROW("turns/s", turns_s, 1);
conn:
    CROW("connect errors", connect_errors);
    ROW("connect p50 ms", conn.p50, 0);
    ROW("connect p99 ms", conn.p99, 0);
    print_row(&(struct row){"connects/s (ws only)", mp.conn_s, 0, pipe != NULL, 0, 0});
    CROW("wall s", wall_s);
    if (pipe && o->idle > 0) {
        printf("idle connections open=%llu gateway VmRSS before=%ld KiB after=%ld KiB",
               (unsigned long long)pipe->idle_open, pipe->rss_before_kib, pipe->rss_after_kib);
        if (pipe->idle_open && pipe->rss_before_kib >= 0 && pipe->rss_after_kib >= 0)
            printf(" per connection=%.2f KiB",
                   (double)(pipe->rss_after_kib - pipe->rss_before_kib) / (double)pipe->idle_open);
        printf("\n");
    }
}

static json_t *summary_json(const struct bench_summary *s)
{
    return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "n", (json_int_t)s->n, "min", s->min,
                     "mean", s->mean, "p50", s->p50, "p90", s->p90, "p99", s->p99, "max", s->max);
}

static json_t *result_json(struct bench_result *r)
{
    struct metrics m;

    measure(r, &m);
    json_t *j = json_pack("{s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                          " s:f, s:f, s:f, s:f}",
                          "mode", r->mode, "wall_s", r->wall_s,
                          "sessions_started", (json_int_t)r->sessions_started,
                          "sessions_ok", (json_int_t)r->sessions_ok,
                          "connects_ok", (json_int_t)r->connects_ok,
                          "connect_errors", (json_int_t)r->connect_errors,
                          "closed_early", (json_int_t)r->closed_early,
                          "turns_ok", (json_int_t)r->turns_ok,
                          "turn_errors", (json_int_t)r->turn_errors,
                          "error_frames", (json_int_t)r->error_frames,
                          "tokens", (json_int_t)r->tokens, "token_frames", (json_int_t)r->token_frames,
                          "bytes_in", (json_int_t)r->bytes_in,
                          "tokens_per_s", m.tok_s, "turns_per_s", m.turns_s,
                          "connects_per_s", m.conn_s, "connect_span_s", r->connect_span_s);
    if (!j)
        return NULL;
    json_object_set_new(j, "ttft_ms", summary_json(&m.ttft));
    json_object_set_new(j, "ttft_first_turn_ms", summary_json(&m.ttft1));
    json_object_set_new(j, "ttft_later_turns_ms", summary_json(&m.ttftn));
    json_object_set_new(j, "ack_ms", summary_json(&m.ack));
    json_object_set_new(j, "token_gap_ms", summary_json(&m.gap));
    json_object_set_new(j, "turn_ms", summary_json(&m.turn));
    json_object_set_new(j, "connect_ms", summary_json(&m.conn));
    if (r->idle_open || r->rss_before_kib >= 0) {
        json_object_set_new(j, "idle_open", json_integer((json_int_t)r->idle_open));
        json_object_set_new(j, "rss_before_kib", json_integer(r->rss_before_kib));
        json_object_set_new(j, "rss_after_kib", json_integer(r->rss_after_kib));
        if (r->idle_open && r->rss_before_kib >= 0 && r->rss_after_kib >= 0)
            json_object_set_new(j, "rss_per_conn_kib",
                                json_real((double)(r->rss_after_kib - r->rss_before_kib) /
                                          (double)r->idle_open));
    }
    return j;
}

int bench_report_json(const struct bench_opts *o, struct bench_result *pipe,
                      struct bench_result *direct, const char *path)
{
    int rc = -1;
    json_t *root = json_pack("{s:s, s:{s:s?, s:s?, s:s, s:i, s:i, s:i, s:f, s:i, s:i}}",
                             "label", o->label ? o->label : "", "settings",
                             "url", o->url, "direct_url", o->direct_url, "prompt", o->prompt,
                             "sessions", o->sessions, "turns", o->turns,
                             "concurrency", o->concurrency, "connect_rate", o->connect_rate,
                             "timeout_s", o->timeout_s, "idle", o->idle);
    if (!root)
        goto out;
    if (pipe)
        json_object_set_new(root, "pipeline", result_json(pipe));
    if (direct)
        json_object_set_new(root, "direct", result_json(direct));
    if (pipe && direct) {
        struct metrics mp, md;
        measure(pipe, &mp);
        measure(direct, &md);
        json_object_set_new(root, "overhead",
            json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
                      "ttft_later_turns_p50_ms", bench_diff(mp.ttftn.p50, md.ttftn.p50),
                      "ttft_later_turns_p99_ms", bench_diff(mp.ttftn.p99, md.ttftn.p99),
                      "ttft_p50_ms", bench_diff(mp.ttft.p50, md.ttft.p50),
                      "ttft_p90_ms", bench_diff(mp.ttft.p90, md.ttft.p90),
                      "ttft_p99_ms", bench_diff(mp.ttft.p99, md.ttft.p99),
                      "ttft_p50_ratio", bench_ratio(mp.ttft.p50, md.ttft.p50),
                      "ttft_p99_ratio", bench_ratio(mp.ttft.p99, md.ttft.p99),
                      "gap_p99_ms", bench_diff(mp.gap.p99, md.gap.p99),
                      "tokens_per_s_ratio", bench_ratio(mp.tok_s, md.tok_s),
                      "turn_p50_ms", bench_diff(mp.turn.p50, md.turn.p50)));
    }
    if (json_dump_file(root, path, JSON_INDENT(2)) == 0)
        rc = 0;
out:
    json_decref(root);
    return rc;
}
