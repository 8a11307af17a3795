/* direct.c: the baseline: the same sessions and turns sent straight to mock-llm over HTTP/SSE (curl multi). */
#include "bench.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dsess {
    struct direct_run *run;
    CURL *easy;
    json_t *messages;      /* the conversation so far, as the worker would send it */
    char *body;            /* request body of the turn in flight */
    char *line;            /* SSE line being reassembled */
    size_t line_len, line_cap;
    char *answer;          /* assistant text of the turn in flight */
    size_t answer_len, answer_cap;
    int turn;
    int got_token, got_done_marker;
    int64_t t_sent, t_last_token;
};

struct direct_run {
    const struct bench_opts *o;
    struct bench_result *r;
    CURLM *multi;
    struct curl_slist *hdrs;
    struct dsess *s;
    int started, active, over;
    int64_t t0;
};

static int append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = (*len + n + 1) * 2;
        char *b = realloc(*buf, c);
        if (!b)
            return -1;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static void on_sse_line(struct dsess *s, const char *line, size_t n)
{
    struct bench_result *r = s->run->r;
    int64_t now = bench_now_us();

    if (n < 6 || strncmp(line, "data: ", 6))
        return;
    line += 6;
    n -= 6;
    if (n == 6 && !strncmp(line, "[DONE]", 6)) {
        s->got_done_marker = 1;
        return;
    }
    json_t *j = json_loadb(line, n, 0, NULL);
    json_t *delta = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "delta");
    const char *content = json_string_value(json_object_get(delta, "content"));
    if (content && *content) {
        if (!s->got_token) {
            double ms = (double)(now - s->t_sent) / 1000.0;
            bench_samples_add(&r->ttft_ms, ms);
            bench_samples_add(s->turn ? &r->ttft_later_ms : &r->ttft_first_ms, ms);
        } else
            bench_samples_add(&r->gap_ms, (double)(now - s->t_last_token) / 1000.0);
        s->got_token = 1;
        s->t_last_token = now;
        r->tokens++;
        r->token_frames++;
        append(&s->answer, &s->answer_len, &s->answer_cap, content, strlen(content));
    }
    json_decref(j);
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    struct dsess *s = ud;
    size_t n = size * nmemb;

    s->run->r->bytes_in += n;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            size_t l = s->line_len;
            if (l && s->line[l - 1] == '\r')
                l--;
            on_sse_line(s, s->line ? s->line : "", l);
            s->line_len = 0;
        } else if (append(&s->line, &s->line_len, &s->line_cap, p + i, 1) < 0) {
            return 0;
        }
    }
    return n;
}

/* Adds this turn's user message and (re)submits the request; 0 or -1. */
static int submit_turn(struct direct_run *w, struct dsess *s)
{
    json_array_append_new(s->messages, json_pack("{s:s, s:s}", "role", "user", "content",
                                                 w->o->prompt));
    json_t *req = json_pack("{s:s, s:b, s:O}", "model", "mock-llm", "stream", 1, "messages",
                            s->messages);
    free(s->body);
    s->body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!s->body)
        return -1;
    s->got_token = s->got_done_marker = 0;
    s->answer_len = 0;
    s->line_len = 0;
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
    s->t_sent = bench_now_us();
    return curl_multi_add_handle(w->multi, s->easy) == CURLM_OK ? 0 : -1;
}

static void start_session(struct direct_run *w)
{
    struct dsess *s = &w->s[w->started++];

    s->run = w;
    w->active++;
    w->r->sessions_started++;
    s->messages = json_array();
    /* The worker's default system prompt, so both runs get answers of the same length. */
    json_array_append_new(s->messages, json_pack("{s:s, s:s}", "role", "system", "content",
        "You are a helpful assistant. Answer in Markdown when it helps. "
        "Use the get_weather tool for questions about the weather."));
    s->easy = curl_easy_init();
    if (!s->easy || !s->messages)
        goto fail;
    curl_easy_setopt(s->easy, CURLOPT_URL, w->o->direct_url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, w->hdrs);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_PROXY, "");
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, (char *)s);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long)w->o->timeout_s * 1000);
    if (submit_turn(w, s) == 0)
        return;
fail:
    w->r->connect_errors++;
    w->active--;
    w->over++;
}

static void turn_finished(struct direct_run *w, struct dsess *s, CURLcode res)
{
    struct bench_result *r = w->r;
    int64_t now = bench_now_us();
    long status = 0;
    curl_off_t conn_us = 0;

    curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
    if (s->turn == 0) {
        curl_easy_getinfo(s->easy, CURLINFO_CONNECT_TIME_T, &conn_us);
        if (res == CURLE_OK) {
            r->connects_ok++;
            /* Only the TCP connect time: a connect rate means nothing for pooled HTTP. */
            bench_samples_add(&r->connect_ms, (double)conn_us / 1000.0);
        } else {
            r->connect_errors++;
        }
    }
    curl_multi_remove_handle(w->multi, s->easy);
    bench_samples_add(&r->turn_ms, (double)(now - s->t_sent) / 1000.0);
    r->wall_s = (double)(now - w->t0) / 1e6;
    int ok = res == CURLE_OK && status == 200 && s->got_token && s->got_done_marker;
    if (ok)
        r->turns_ok++;
    else
        r->turn_errors++;
    json_array_append_new(s->messages, json_pack("{s:s, s:s%}", "role", "assistant", "content",
                                                 s->answer ? s->answer : "", s->answer_len));
    s->turn++;
    if (ok && s->turn < w->o->turns && submit_turn(w, s) == 0)
        return;
    if (ok && s->turn >= w->o->turns)
        r->sessions_ok++;
    w->active--;
    w->over++;
}

int bench_direct_run(const struct bench_opts *o, struct bench_result *r)
{
    struct direct_run w;
    int rc = -1;

    memset(&w, 0, sizeof(w));
    w.o = o;
    w.r = r;
    w.s = calloc((size_t)o->sessions, sizeof(*w.s));
    w.multi = curl_multi_init();
    w.hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (!w.s || !w.multi || !w.hdrs)
        goto out;
    curl_multi_setopt(w.multi, CURLMOPT_MAXCONNECTS, (long)o->concurrency + 16);
    w.t0 = bench_now_us();
    int64_t deadline = w.t0 + (int64_t)o->timeout_s * 1000000;
    while (w.over < o->sessions && !bench_stop && bench_now_us() < deadline) {
        int64_t now = bench_now_us();
        int n = 0;
        while (w.started < o->sessions && w.active < o->concurrency && n < 100) {
            if (o->connect_rate > 0 &&
                (double)w.started >= o->connect_rate * (double)(now - w.t0) / 1e6 + 1)
                break;
            start_session(&w);
            n++;
        }
        int running = 0, left = 0;
        curl_multi_perform(w.multi, &running);
        CURLMsg *m;
        while ((m = curl_multi_info_read(w.multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct dsess *s = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            for (int i = 0; !s && i < w.started; i++)
                if (w.s[i].easy == m->easy_handle)
                    s = &w.s[i];
            if (s)
                turn_finished(&w, s, m->data.result);
        }
        curl_multi_poll(w.multi, NULL, 0, 5, NULL);
    }
    if (!r->wall_s)
        r->wall_s = (double)(bench_now_us() - w.t0) / 1e6;
    rc = 0;
out:
    for (int i = 0; w.s && i < w.started; i++) {
        if (w.s[i].easy) {
            curl_multi_remove_handle(w.multi, w.s[i].easy);
            curl_easy_cleanup(w.s[i].easy);
        }
        json_decref(w.s[i].messages);
        free(w.s[i].body);
        free(w.s[i].line);
        free(w.s[i].answer);
    }
    free(w.s);
    curl_slist_free_all(w.hdrs);
    curl_multi_cleanup(w.multi);
    return rc;
}
