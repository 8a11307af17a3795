/* bench.h: options and results shared by the load generator's drivers (WebSocket and direct SSE). */
#ifndef BENCH_BENCH_H
#define BENCH_BENCH_H

#include <signal.h>
#include <stdint.h>

#include "stats.h"

/* What to run; filled by loadgen.c from flags and environment. Strings are not owned. */
struct bench_opts {
    const char *url;        /* ws://host:port/ws/session (pipeline), or NULL */
    const char *direct_url; /* http://host:port/v1/chat/completions (baseline), or NULL */
    const char *prompt;     /* user message content of every turn */
    const char *json_path;  /* --json FILE, or NULL */
    const char *label;      /* free text copied into the JSON */
    int sessions;           /* sessions in all */
    int turns;              /* turns per session; 0 with idle > 0 = open and hold */
    int concurrency;        /* sessions open at once */
    double connect_rate;    /* new sessions per second, 0 = as fast as possible */
    int timeout_s;          /* the whole run; unfinished sessions count as errors */
    int idle;               /* idle mode: hold this many connections open */
    int hold_ms;            /* idle mode: how long to hold them after the last one opened */
    int gateway_pid;        /* idle mode: read this process's VmRSS before and after */
    int events;             /* persister mode: chat.events envelopes to produce (persist.c) */
    double events_rate;     /* persister mode: per second, 0 = one burst */
    const char *brokers;    /* persister mode: Kafka bootstrap servers */
    const char *database_url; /* persister mode: the persister's database */
    int tag;                /* append " #<pid>.<session>.<turn>" to each prompt (for bench/hoptrace.py) */
};

/* What one run measured. Embedded: bench_result_init/free. */
struct bench_result {
    const char *mode;       /* "pipeline" or "direct" (static string) */
    double wall_s;          /* first connect to last turn done */
    double connect_span_s;  /* first connect started to last connection usable */
    uint64_t sessions_started, sessions_ok;
    uint64_t connects_ok, connect_errors, closed_early;
    uint64_t turns_ok, turn_errors, error_frames;
    uint64_t tokens, bytes_in;      /* tokens: the model's (done usage); direct: SSE chunks */
    uint64_t token_frames;          /* token frames (ws) or content chunks (direct) received */
    struct bench_samples ttft_ms;    /* user message sent -> first token */
    struct bench_samples ttft_first_ms; /* the same, first turn of each session only */
    struct bench_samples ttft_later_ms; /* the same, later turns only */
    struct bench_samples ack_ms;        /* user message sent -> ack (durably in Kafka; ws only) */
    struct bench_samples gap_ms;     /* token -> next token of the same turn */
    struct bench_samples turn_ms;    /* user message sent -> done */
    struct bench_samples connect_ms; /* connect start -> first server frame (ws) / TCP connect (direct) */
    /* idle mode */
    long rss_before_kib, rss_after_kib;
    uint64_t idle_open;
};

/* Zeroes 'r' and names its mode (a static string). */
void bench_result_init(struct bench_result *r, const char *mode);
/* Frees the sample storage of 'r' (NULL-safe). */
void bench_result_free(struct bench_result *r);

/* Runs the WebSocket load of 'o' against o->url into 'r' (idle mode when o->idle > 0).
 * Returns 0 when the run completed (errors are counted in 'r'), negative when it could not run. */
int bench_ws_run(const struct bench_opts *o, struct bench_result *r);

/* Runs the same load straight against mock-llm at o->direct_url with stream=true.
 * Returns 0 when the run completed, negative when it could not run. */
int bench_direct_run(const struct bench_opts *o, struct bench_result *r);

/* Prints the table of 'pipe' and/or 'direct' (either may be NULL) with difference and ratio
 * columns when both are given, to stdout. */
void bench_report_print(const struct bench_opts *o, struct bench_result *pipe,
                        struct bench_result *direct);

/* Writes the same as JSON to 'path'. Returns 0 or negative (file error). */
int bench_report_json(const struct bench_opts *o, struct bench_result *pipe,
                      struct bench_result *direct, const char *path);

/* VmRSS of 'pid' in KiB from /proc/<pid>/status, or -1. */
long bench_rss_kib(int pid);

/* Set by SIGINT/SIGTERM; drivers stop early when it is set. */
extern volatile sig_atomic_t bench_stop;

#endif
