/* Paced answers: SSE token streams and delayed non-streaming bodies, driven by the connection timer. */
#include "conn.h"
#include "sh_err.h"
#include "sse.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOW_TTFT_MS 3000
#define CUT_AFTER 3          /* units sent before a "cut" fault closes the connection */
#define MAX_BATCH 256        /* units per firing, so one fast stream cannot hog a turn */

/* One timed step of a tool-call stream: the start of a call, or one arguments fragment. */
struct unit {
    size_t call;
    size_t frag;             /* SIZE_MAX for the start event */
};

struct mock_resp {
    struct mock_reply reply;
    struct mock_sse sse;
    char id[64];
    long long created;
    enum mock_fault fault;
    bool chunked;            /* else the stream ends with the connection (HTTP/1.0) */
    bool started;            /* headers sent */
    size_t pos;              /* units sent */
    size_t n_units;          /* text: pieces; tool calls: starts + fragments */
    struct unit *units;      /* tool calls only */
    size_t cut_after;        /* close after this many units; 0 = never */
    int64_t period_us;       /* 0 = as fast as possible */
    int64_t next_due_us;
};

void mock_resp_destroy(struct mock_resp *r)
{
    if (!r)
        return;
    mock_reply_free(&r->reply);
    mock_sse_free(&r->sse);
    free(r->units);
    free(r);
}

static int plan_units(struct mock_resp *r)
{
    const struct mock_reply *rep = &r->reply;
    size_t n = 0;

    if (rep->kind == MOCK_REPLY_TEXT) {
        r->n_units = rep->n_pieces;
        return SH_OK;
    }
    for (size_t i = 0; i < rep->n_calls; i++)
        n += 1 + rep->calls[i].n_frags;
    if (!(r->units = calloc(n, sizeof(*r->units))))
        return SH_ENOMEM;
    for (size_t i = 0, k = 0; i < rep->n_calls; i++) {
        r->units[k++] = (struct unit){i, SIZE_MAX};
        for (size_t f = 0; f < rep->calls[i].n_frags; f++)
            r->units[k++] = (struct unit){i, f};
    }
    r->n_units = n;
    return SH_OK;
}

int mock_resp_start(struct mock_conn *c, struct mock_reply *reply, enum mock_fault fault,
                    int http_minor)
{
    struct mock_server *s = c->srv;
    const struct mock_config *cfg = s->cfg;
    struct mock_resp *r = calloc(1, sizeof(*r));
    int64_t ttft_us = (fault == MOCK_FAULT_SLOW ? SLOW_TTFT_MS : cfg->ttft_ms) * 1000;

    if (!r)
        return SH_ENOMEM;
    r->reply = *reply;
    r->fault = fault;
    r->created = (long long)time(NULL);
    r->chunked = http_minor >= 1;
    snprintf(r->id, sizeof(r->id), "chatcmpl-mock%08" PRIx64 "%08" PRIx64,
             reply->fingerprint & 0xffffffffu, ++s->next_id);
    if (plan_units(r) || mock_sse_init(&r->sse, r->id, r->created, r->reply.model,
                                       r->reply.include_usage)) {
        r->reply = (struct mock_reply){0};   /* still the caller's */
        mock_resp_destroy(r);
        return SH_ENOMEM;
    }
    memset(reply, 0, sizeof(*reply));
    if (!r->chunked)
        c->keep_alive = false;
    if (fault == MOCK_FAULT_CUT)
        r->cut_after = r->n_units > CUT_AFTER ? CUT_AFTER : (r->n_units > 1 ? r->n_units - 1 : 1);
    r->period_us = cfg->tokens_per_sec ? 1000000 / cfg->tokens_per_sec : 0;
    if (!r->period_us && cfg->tokens_per_sec)
        r->period_us = 1;
    r->next_due_us = s->now_us + ttft_us;
    /* Non-streaming answers arrive when a stream would have finished. */
    if (!r->reply.stream && r->n_units > 1)
        r->next_due_us += (int64_t)(r->n_units - 1) * r->period_us;
    c->resp = r;
    s->n_active++;
    if (r->reply.stream)
        s->stats.streams++;
    if (fault == MOCK_FAULT_HANG) {
        mock_theap_disarm(&s->timers, &c->timer);   /* wait for the client to leave */
        return SH_OK;
    }
    if (mock_conn_arm(c, r->next_due_us)) {
        c->resp = NULL;
        s->n_active--;
        r->reply = (struct mock_reply){0};
        mock_resp_destroy(r);
        return SH_ENOMEM;
    }
    return SH_OK;
}

static int put_headers(struct mock_conn *c, struct mock_resp *r)
{
    return mock_buf_printf(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; "
                           "charset=utf-8\r\nCache-Control: no-cache\r\n%sConnection: %s\r\n"
                           "X-Mock-LLM: mock server, not a model\r\nX-Request-Id: %s\r\n\r\n",
                           r->chunked ? "Transfer-Encoding: chunked\r\n" : "",
                           c->keep_alive ? "keep-alive" : "close", r->id);
}

/* Append the events of unit 'i' to 'out'. */
static int put_unit(struct mock_resp *r, size_t i, struct mock_buf *out)
{
    const struct mock_reply *rep = &r->reply;
    const struct mock_tool_call *call;

    if (rep->kind == MOCK_REPLY_TEXT) {
        if (i == 0 && mock_sse_role(&r->sse, out))
            return SH_ENOMEM;
        return mock_sse_content(&r->sse, out, rep->text + rep->pieces[i],
                                rep->pieces[i + 1] - rep->pieces[i]);
    }
    call = &rep->calls[r->units[i].call];
    if (r->units[i].frag == SIZE_MAX)
        return mock_sse_tool_start(&r->sse, out, r->units[i].call, call, i == 0);
    return mock_sse_tool_args(&r->sse, out, r->units[i].call,
                              call->arguments + call->frag[r->units[i].frag],
                              call->frag[r->units[i].frag + 1] - call->frag[r->units[i].frag]);
}

static int put_end(struct mock_resp *r, struct mock_buf *out)
{
    if (mock_sse_finish(&r->sse, out, r->reply.finish_reason) ||
        (r->reply.include_usage &&
         mock_sse_usage(&r->sse, out, r->reply.prompt_tokens, r->reply.completion_tokens)) ||
        mock_sse_done(out))
        return SH_ENOMEM;
    return SH_OK;
}

/* Move 'events' into the connection's output, as one HTTP chunk when chunked. */
static int frame(struct mock_conn *c, struct mock_resp *r, struct mock_buf *events, bool last)
{
    size_t n = mock_buf_size(events);

    if (n && ((r->chunked && mock_buf_printf(&c->out, "%zx\r\n", n)) ||
              mock_buf_append(&c->out, mock_buf_ptr(events), n) ||
              (r->chunked && mock_buf_puts(&c->out, "\r\n"))))
        return SH_ENOMEM;
    if (last && r->chunked && mock_buf_puts(&c->out, "0\r\n\r\n"))
        return SH_ENOMEM;
    mock_buf_reset(events);
    return SH_OK;
}

static void fire_whole(struct mock_conn *c, struct mock_resp *r)
{
    struct mock_buf body;
    size_t len;

    mock_buf_init(&body);
    if (mock_completion_json(&r->reply, r->id, r->created, &body)) {
        mock_buf_free(&body);
        mock_conn_close(c);
        return;
    }
    len = mock_buf_size(&body);
    if (r->fault == MOCK_FAULT_CUT) {
        /* Promise the whole body, deliver half, hang up. */
        c->close_after = true;
        if (mock_buf_printf(&c->out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\nConnection: close\r\n\r\n", len) ||
            mock_buf_append(&c->out, mock_buf_ptr(&body), len / 2)) {
            mock_buf_free(&body);
            mock_conn_close(c);
            return;
        }
        mock_buf_free(&body);
        mock_conn_flush(c);
        return;
    }
    mock_respond(c, 200, "application/json", NULL, mock_buf_ptr(&body), len);
    mock_buf_free(&body);
    mock_conn_resp_done(c);
}

void mock_resp_fire(struct mock_conn *c)
{
    struct mock_server *s = c->srv;
    struct mock_resp *r = c->resp;
    struct mock_buf *ev = &s->scratch;
    int64_t limit = s->now_us + MOCK_TIMER_SLACK_US;
    size_t batch = 0;
    bool done, cut = false;

    if (!r->reply.stream) {
        fire_whole(c, r);
        return;
    }
    if (!r->started) {
        r->started = true;
        if (put_headers(c, r))
            goto fail;
    }
    if (mock_buf_size(&c->out) > MOCK_OUT_HIGH_WATER) {
        /* The client reads slowly: wait for it instead of queueing more. */
        mock_conn_arm(c, s->now_us + 20000);
        return;
    }
    mock_buf_reset(ev);
    while (r->pos < r->n_units && r->next_due_us <= limit && batch++ < MAX_BATCH) {
        if (put_unit(r, r->pos++, ev))
            goto fail;
        r->next_due_us += r->period_us;
        if (r->cut_after && r->pos == r->cut_after) {
            cut = true;
            break;
        }
    }
    done = !cut && r->pos == r->n_units;
    if ((done && put_end(r, ev)) || frame(c, r, ev, done))
        goto fail;
    if (cut) {
        c->close_after = true; /* no finish chunk, no [DONE], no terminating chunk */
        mock_conn_flush(c);
        return;
    }
    if (done) {
        if (!r->chunked)
            c->close_after = true;
        mock_conn_resp_done(c);
        return;
    }
    if (mock_conn_arm(c, r->next_due_us))
        goto fail;
    mock_conn_flush(c);
    return;
fail:
    mock_conn_close(c);
}
