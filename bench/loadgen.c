/* loadgen.c: the benchmark load generator: WebSocket sessions through the gateway, and the
 * same load straight to mock-llm as a baseline; prints a table and writes JSON. */
#include "bench.h"
#include "persist.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static void on_signal(int sig)
{
    (void)sig;
    if (bench_stop)
        _exit(130);
    bench_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: loadgen [options]   (each option also reads LOADGEN_<NAME> from the environment)\n"
        "  --url=ws://H:P/ws/session   gateway WebSocket URL (pipeline run)\n"
        "  --direct=http://H:P/v1/chat/completions   mock-llm URL (baseline run, stream=true)\n"
        "  --sessions=N      sessions in all (default 200)\n"
        "  --turns=M         turns per session (default 3)\n"
        "  --concurrency=C   sessions open at once (default = sessions)\n"
        "  --rate=R          new sessions per second, 0 = unlimited (default 0)\n"
        "  --prompt=TEXT     user message of every turn\n"
        "  --events=N        persister mode: produce N chat.events envelopes (needs --brokers and\n"
        "                    --database-url), --events-rate=R per second or 0 for one burst\n"
        "  --tag             append \" #<pid>.<session>.<turn>\" to each WebSocket prompt (hop tracing)\n"
        "  --timeout=S       limit of each run in seconds (default 110)\n"
        "  --idle=K          idle mode: open K connections, send nothing, hold them\n"
        "  --hold-ms=MS      idle mode: hold time after the last one opened (default 2000)\n"
        "  --gateway-pid=P   idle mode: report P's VmRSS before and after (per connection)\n"
        "  --json=FILE       write the results as JSON\n"
        "  --label=TEXT      copied into the JSON\n");
}

/* Parses a decimal int in [lo,hi]; 0 or -1 with a message. */
static int parse_int(const char *name, const char *v, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "loadgen: %s must be an integer in [%ld,%ld], got '%s'\n", name, lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int parse_double(const char *name, const char *v, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || x < 0) {
        fprintf(stderr, "loadgen: %s must be a number >= 0, got '%s'\n", name, v);
        return -1;
    }
    *out = x;
    return 0;
}

enum { O_URL = 1, O_DIRECT, O_SESSIONS, O_TURNS, O_CONC, O_RATE, O_PROMPT, O_TIMEOUT, O_IDLE,
       O_HOLD, O_PID, O_JSON, O_LABEL, O_TAG, O_EVENTS, O_EVRATE, O_BROKERS, O_DBURL,
       O_HELP };

static const struct option longopts[] = {
    {"url", required_argument, NULL, O_URL},
    {"direct", required_argument, NULL, O_DIRECT},
    {"sessions", required_argument, NULL, O_SESSIONS},
    {"turns", required_argument, NULL, O_TURNS},
    {"concurrency", required_argument, NULL, O_CONC},
    {"rate", required_argument, NULL, O_RATE},
    {"prompt", required_argument, NULL, O_PROMPT},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"idle", required_argument, NULL, O_IDLE},
    {"hold-ms", required_argument, NULL, O_HOLD},
    {"gateway-pid", required_argument, NULL, O_PID},
    {"json", required_argument, NULL, O_JSON},
    {"label", required_argument, NULL, O_LABEL},
    {"tag", no_argument, NULL, O_TAG},
    {"events", required_argument, NULL, O_EVENTS},
    {"events-rate", required_argument, NULL, O_EVRATE},
    {"brokers", required_argument, NULL, O_BROKERS},
    {"database-url", required_argument, NULL, O_DBURL},
    {"help", no_argument, NULL, O_HELP},
    {NULL, 0, NULL, 0}
};

/* Environment names, indexed like the option ids. */
static const char *const envnames[] = {
    [O_URL] = "LOADGEN_URL", [O_DIRECT] = "LOADGEN_DIRECT", [O_SESSIONS] = "LOADGEN_SESSIONS",
    [O_TURNS] = "LOADGEN_TURNS", [O_CONC] = "LOADGEN_CONCURRENCY", [O_RATE] = "LOADGEN_RATE",
    [O_PROMPT] = "LOADGEN_PROMPT", [O_TIMEOUT] = "LOADGEN_TIMEOUT", [O_IDLE] = "LOADGEN_IDLE",
    [O_HOLD] = "LOADGEN_HOLD_MS", [O_PID] = "LOADGEN_GATEWAY_PID", [O_JSON] = "LOADGEN_JSON",
    [O_LABEL] = "LOADGEN_LABEL", [O_TAG] = "LOADGEN_TAG", [O_EVENTS] = "LOADGEN_EVENTS",
    [O_EVRATE] = "LOADGEN_EVENTS_RATE", [O_BROKERS] = "LOADGEN_BROKERS",
    [O_DBURL] = "LOADGEN_DATABASE_URL",
};

static int apply(struct bench_opts *o, int id, const char *v)
{
    switch (id) {
    case O_URL: o->url = v; return 0;
    case O_DIRECT: o->direct_url = v; return 0;
    case O_SESSIONS: return parse_int("sessions", v, 1, 1000000, &o->sessions);
    case O_TURNS: return parse_int("turns", v, 0, 10000, &o->turns);
    case O_CONC: return parse_int("concurrency", v, 1, 1000000, &o->concurrency);
    case O_RATE: return parse_double("rate", v, &o->connect_rate);
    case O_PROMPT: o->prompt = v; return 0;
    case O_TIMEOUT: return parse_int("timeout", v, 1, 86400, &o->timeout_s);
    case O_IDLE: return parse_int("idle", v, 0, 1000000, &o->idle);
    case O_HOLD: return parse_int("hold-ms", v, 0, 3600000, &o->hold_ms);
    case O_PID: return parse_int("gateway-pid", v, 0, INT_MAX, &o->gateway_pid);
    case O_JSON: o->json_path = v; return 0;
    case O_LABEL: o->label = v; return 0;
    case O_TAG: o->tag = !v || strcmp(v, "0") != 0; return 0;
    case O_EVENTS: return parse_int("events", v, 0, 100000000, &o->events);
    case O_EVRATE: return parse_double("events-rate", v, &o->events_rate);
    case O_BROKERS: o->brokers = v; return 0;
    case O_DBURL: o->database_url = v; return 0;
    }
    return -1;
}

static int parse_opts(struct bench_opts *o, int argc, char **argv)
{
    memset(o, 0, sizeof(*o));
    o->sessions = 200;
    o->turns = 3;
    o->timeout_s = 110;
    o->hold_ms = 2000;
    o->prompt = "Hello, please tell me about benchmarks.";
    for (int id = O_URL; id <= O_DBURL; id++) {
        const char *v = getenv(envnames[id]);
        if (v && *v && apply(o, id, v) < 0)
            return -1;
    }
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == O_HELP || c == 'h') {
            usage(stdout);
            exit(0);
        }
        if (c == '?' || apply(o, c, optarg) < 0) {
            usage(stderr);
            return -1;
        }
    }
    if (o->events > 0) {
        if (!o->brokers || !o->database_url) {
            fprintf(stderr, "loadgen: --events needs --brokers and --database-url\n");
            return -1;
        }
        return 0;
    }
    if (o->idle > 0) {
        o->sessions = o->idle;
        o->turns = 0;
        o->direct_url = NULL;
    }
    if (!o->concurrency)
        o->concurrency = o->sessions;
    if (!o->url && !o->direct_url) {
        fprintf(stderr, "loadgen: give --url and/or --direct\n");
        return -1;
    }
    if (o->turns == 0 && o->idle == 0) {
        fprintf(stderr, "loadgen: --turns=0 only with --idle\n");
        return -1;
    }
    return 0;
}

/* Persister mode: one run, its table and JSON; exit 0 when every event became a row. */
static int run_persist(const struct bench_opts *o)
{
    struct bench_persist_opts po = {o->brokers, o->database_url, (uint64_t)o->events,
                                    o->events_rate, o->timeout_s};
    struct bench_persist_result r;
    int rc = 1;

    bench_persist_result_init(&r);
    fprintf(stderr, "loadgen: persister run: %d events at %s/s\n", o->events,
            o->events_rate > 0 ? "fixed rate" : "burst");
    if (bench_persist_run(&po, &r) < 0)
        goto out;
    bench_persist_print(&po, &r);
    if (o->json_path && bench_persist_json(&po, &r, o->label, o->json_path) < 0) {
        fprintf(stderr, "loadgen: cannot write %s\n", o->json_path);
        goto out;
    }
    rc = r.rows == po.events ? 0 : 3;
out:
    bench_persist_result_free(&r);
    return rc;
}

int main(int argc, char **argv)
{
    struct bench_opts o;
    struct bench_result pipe, direct;
    int rc = 1;

    if (parse_opts(&o, argc, argv) < 0)
        return 2;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    bench_result_init(&pipe, "pipeline");
    bench_result_init(&direct, "direct");
    if (o.events > 0) {
        rc = run_persist(&o);
        goto out;
    }
    if (o.url) {
        if (o.gateway_pid > 0)
            pipe.rss_before_kib = bench_rss_kib(o.gateway_pid);
        fprintf(stderr, "loadgen: pipeline run: %d sessions x %d turns at %s\n", o.sessions,
                o.turns, o.url);
        if (bench_ws_run(&o, &pipe) < 0)
            goto out;
    }
    if (o.direct_url && !bench_stop) {
        fprintf(stderr, "loadgen: direct run: %d sessions x %d turns at %s\n", o.sessions,
                o.turns, o.direct_url);
        if (bench_direct_run(&o, &direct) < 0)
            goto out;
    }
    bench_report_print(&o, o.url ? &pipe : NULL, o.direct_url ? &direct : NULL);
    if (o.json_path && bench_report_json(&o, o.url ? &pipe : NULL,
                                         o.direct_url ? &direct : NULL, o.json_path) < 0) {
        fprintf(stderr, "loadgen: cannot write %s\n", o.json_path);
        goto out;
    }
    /* Exit 0 only when every session did what was asked. */
    rc = 0;
    if (o.url && pipe.sessions_ok != (uint64_t)o.sessions)
        rc = 3;
    if (o.direct_url && direct.sessions_ok != (uint64_t)o.sessions)
        rc = 3;
out:
    bench_result_free(&pipe);
    bench_result_free(&direct);
    curl_global_cleanup();
    return rc;
}
