/* One turn: the user's message through the LLM (and tools) to `done`. */
#include "turn.h"
#include "tools.h"
#include "worker.h"
#include "sh_err.h"
#include "sh_log.h"
#include "sh_oai_client.h"
#include "sh_oai_request.h"
#include "sh_time.h"

#include <stdlib.h>
#include <string.h>

struct llm_turn {
    struct llm_worker *w;
    struct llm_session *s;
    struct llm_pending *p;      /* the request: env (content, ids) and tracker */
    json_t *msgs;               /* messages for the next LLM request; NULL until a tool round
                                 * (the first request's body is written from the session's
                                 * encoded history instead) */
    uint64_t req_id;
    bool llm_active;
    bool abandoned;             /* on_done must only free */
    bool budget_hit;
    bool too_long;              /* LLM_MAX_TURN_MS passed: cancelled, ends with an error */
    int64_t start_ms;           /* monotonic, for LLM_MAX_TURN_MS */
    int rounds;
    int64_t frames;
    char *text;                 /* the whole answer so far */
    size_t len, cap;
    struct sh_oai_usage usage;
    bool has_usage;
    int64_t req_start_us;       /* the current LLM request, for the first-token latency */
    bool got_first;
};

static void turn_finish(struct llm_turn *t, const char *reason);

static const char *content_of(const struct llm_turn *t)
{
    const char *c = json_string_value(json_object_get(t->p->env.payload, "content"));
    return c ? c : "";
}

static int append_text(struct llm_turn *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = (t->len + n + 1) * 2;
        char *p = realloc(t->text, cap);
        if (!p)
            return SH_ENOMEM;
        t->text = p;
        t->cap = cap;
    }
    memcpy(t->text + t->len, s, n);
    t->len += n;
    t->text[t->len] = '\0';
    return SH_OK;
}

/* A client frame for this turn, counted against the turn's seq budget. */
static void frame(struct llm_turn *t, const char *type, json_t *payload)
{
    t->frames++;
    llm_emit_frame(t->w, t->s, t->p->env.turn_id, type, payload);
}

static const char *error_code(const struct sh_oai_result *r)
{
    enum sh_oai_class c = r->cls == SH_OAI_RETRIES_EXHAUSTED ? r->cause : r->cls;

    switch (c) {
    case SH_OAI_RATE_LIMITED: return "llm_rate_limited";
    case SH_OAI_QUOTA:        return "llm_quota";
    case SH_OAI_HTTP_5XX:
    case SH_OAI_NETWORK:
    case SH_OAI_TIMEOUT:      return "llm_unavailable";
    default:                  return "llm_error";
    }
}

/* True once the turn has run longer than LLM_MAX_TURN_MS. */
static bool over_time(const struct llm_turn *t)
{
    return t->w->cfg->max_turn_ms > 0 && sh_mono_ms() - t->start_ms > t->w->cfg->max_turn_ms;
}

static void on_delta(void *user, const struct sh_oai_delta *d)
{
    struct llm_turn *t = user;

    if (t->abandoned || d->content_len == 0 || t->too_long)
        return;
    if (over_time(t)) {
        t->too_long = true;
        sh_oai_client_cancel(t->w->llm, t->req_id);
        return;
    }
    if (t->frames + 4 >= t->w->cfg->turn_frames_max) {
        /* Out of seq budget: end as if max_tokens was hit. */
        if (!t->budget_hit) {
            t->budget_hit = true;
            sh_oai_client_cancel(t->w->llm, t->req_id);
        }
        return;
    }
    if (!t->got_first) {
        t->got_first = true;
        sh_histogram_observe(t->w->m.first_token,
                             (double)(sh_mono_us() - t->req_start_us) / 1e6);
    }
    append_text(t, d->content, d->content_len);
    t->w->n_tokens++;
    sh_counter_inc(t->w->m.tokens);
    t->frames++;                        /* as frame() does */
    llm_emit_token(t->w, t->s, t->p->env.turn_id, d->content, d->content_len);
}

static int request_llm(struct llm_turn *t);

/* The messages of the first request as a jansson array (system, history, user), for the rounds
 * after a tool call. */
static json_t *first_messages(const struct llm_turn *t)
{
    json_t *msgs = json_array();

    if (!msgs)
        return NULL;
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content",
                                          t->w->cfg->system_prompt));
    json_array_extend(msgs, t->s->history);
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content",
                                          content_of(t)));
    return msgs;
}

/* Run every tool call of one round: frames, events, messages. */
static void run_tools(struct llm_turn *t, const struct sh_oai_result *r)
{
    struct llm_worker *w = t->w;
    json_t *calls = json_array();

    if (!t->msgs)
        t->msgs = first_messages(t);

    for (size_t i = 0; i < r->n_tool_calls; i++) {
        const struct sh_oai_tool_call *c = &r->tool_calls[i];
        json_array_append_new(calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", c->id, "type",
                                               "function", "function", "name", c->name,
                                               "arguments", c->arguments));
    }
    json_array_append_new(t->msgs, json_pack("{s:s, s:s%, s:o}", "role", "assistant", "content",
                                             r->content, r->content_len, "tool_calls", calls));
    sh_counter_add(w->m.tool_calls, r->n_tool_calls);
    for (size_t i = 0; i < r->n_tool_calls; i++) {
        const struct sh_oai_tool_call *c = &r->tool_calls[i];
        json_t *args = c->args_valid && json_is_object(c->args) ? json_incref(c->args)
                                                                : json_object();
        char *result = NULL, salt[64];
        json_t *res_json;

        snprintf(salt, sizeof(salt), "tool_call:%d:%zu", t->rounds, i);
        frame(t, "tool_call", json_pack("{s:s, s:s, s:O}", "call_id", c->id, "name", c->name,
                                        "arguments", args));
        llm_emit_event(w, t->s, t->p->env.turn_id, "tool_call", t->p->env.turn_id, salt,
                       json_pack("{s:s, s:s, s:o}", "call_id", c->id, "name", c->name,
                                 "arguments", args), t->p->req);
        llm_tools_run(c->name, c->arguments, &result);
        res_json = result ? json_loads(result, 0, NULL) : NULL;
        if (!res_json)
            res_json = json_pack("{s:s}", "error", "tool failed");
        snprintf(salt, sizeof(salt), "tool_result:%d:%zu", t->rounds, i);
        frame(t, "tool_result", json_pack("{s:s, s:s, s:O}", "call_id", c->id, "name", c->name,
                                          "content", res_json));
        llm_emit_event(w, t->s, t->p->env.turn_id, "tool_result", t->p->env.turn_id, salt,
                       json_pack("{s:s, s:s, s:o}", "call_id", c->id, "name", c->name,
                                 "content", res_json), t->p->req);
        json_array_append_new(t->msgs, json_pack("{s:s, s:s, s:s}", "role", "tool",
                                                 "tool_call_id", c->id, "content",
                                                 result ? result : "{\"error\":\"tool failed\"}"));
        free(result);
    }
}

static void fail(struct llm_turn *t, const char *code, const char *message)
{
    frame(t, "error", json_pack("{s:s, s:s}", "code", code, "message", message));
    llm_emit_event(t->w, t->s, t->p->env.turn_id, "error", t->p->env.turn_id, "error",
                   json_pack("{s:s, s:s}", "code", code, "message", message), t->p->req);
    t->w->n_errors++;
    llm_metrics_error(&t->w->m, code);
    turn_finish(t, "error");
}

static void on_done(void *user, const struct sh_oai_result *r)
{
    struct llm_turn *t = user;
    char msg[512];

    t->llm_active = false;
    if (t->abandoned) {
        free(t);
        return;
    }
    if (r->has_usage) {
        t->has_usage = true;
        t->usage.prompt_tokens += r->usage.prompt_tokens;
        t->usage.completion_tokens += r->usage.completion_tokens;
        t->usage.total_tokens += r->usage.total_tokens;
    }
    if (r->cls == SH_OAI_CANCELLED && t->too_long) {
        fail(t, "turn_too_long", "The answer took longer than this service allows; it was cut.");
        return;
    }
    if (r->cls == SH_OAI_CANCELLED) {
        turn_finish(t, t->budget_hit ? "length" : "cancelled");
        return;
    }
    if (!r->ok) {
        snprintf(msg, sizeof(msg), "The language model request failed (%s%s%s%s).",
                 sh_oai_class_name(r->cls == SH_OAI_RETRIES_EXHAUSTED ? r->cause : r->cls),
                 r->error_message ? ": " : "", r->error_message ? r->error_message : "",
                 r->attempts > 1 ? ", after retries" : "");
        sh_log(SH_LOG_WARN, "llm request failed",
               "session=%s turn=%s class=%s status=%ld attempts=%d detail=\"%s\"", t->s->id,
               t->p->env.turn_id, sh_oai_class_name(r->cls), r->http_status, r->attempts,
               r->detail ? r->detail : "");
        fail(t, error_code(r), msg);
        return;
    }
    if (r->n_tool_calls > 0) {
        if (t->rounds >= t->w->cfg->max_tool_rounds) {
            fail(t, "tool_rounds_exceeded", "The model kept calling tools; the turn was ended.");
            return;
        }
        run_tools(t, r);
        t->rounds++;
        if (over_time(t)) {
            fail(t, "turn_too_long", "The answer took longer than this service allows.");
            return;
        }
        if (request_llm(t))
            fail(t, "llm_error", "Could not continue after the tool call.");
        return;
    }
    turn_finish(t, r->finish_reason ? r->finish_reason : "stop");
}

/* The body of the turn's first request, written directly: the session keeps its history
 * encoded, so the body copies it instead of dumping a jansson tree (same bytes as
 * sh_oai_request_build(), see tests/test_encode.c). */
static int first_body(struct llm_turn *t, struct llm_jbuf *b)
{
    struct llm_worker *w = t->w;
    const char *content = content_of(t);

    if (!w->tools_json && w->tools && json_array_size(w->tools) > 0) {
        w->tools_json = json_dumps(w->tools, JSON_COMPACT);
        if (!w->tools_json)
            return SH_ENOMEM;
    }
    return llm_request_body(b, w->cfg->model, w->cfg->system_prompt, t->s->hist_enc.p,
                            t->s->hist_enc.len, content, strlen(content), w->tools_json,
                            (int)w->cfg->max_tokens);
}

static int request_llm(struct llm_turn *t)
{
    static const struct sh_oai_callbacks cb = {on_delta, on_done};
    struct llm_config *cfg = t->w->cfg;
    struct llm_jbuf *b = &t->w->body;
    struct sh_oai_request req = {
        .model = cfg->model,
        .messages = t->msgs,
        .tools = t->w->tools,
        .stream = true,
        .max_tokens = (int)cfg->max_tokens,
    };
    char *body = NULL;
    int rc;

    llm_jbuf_reset(b);
    if (t->msgs || t->rounds) {         /* after a tool round (msgs NULL only on ENOMEM) */
        rc = sh_oai_request_build(&req, &body);
        if (!rc && llm_jbuf_puts(b, body))
            rc = SH_ENOMEM;
        free(body);
    } else {
        rc = first_body(t, b);
    }
    if (rc)
        return rc;
    t->req_start_us = sh_mono_us();
    t->got_first = false;
    rc = sh_oai_client_start_built(t->w->llm, b->p, b->len, true, &cb, t, &t->req_id);
    if (!rc)
        t->llm_active = true;
    return rc;
}

int llm_turn_start(struct llm_worker *w, struct llm_session *s, struct llm_pending *p)
{
    struct llm_turn *t = calloc(1, sizeof(*t));
    const char *turn_id = p->env.turn_id;
    bool rerun;

    if (!t) {
        llm_req_release(w, p->req);      /* uncommitted: a restart re-runs it */
        sh_env_free(&p->env);
        free(p);
        return SH_ENOMEM;
    }
    t->w = w;
    t->s = s;
    t->p = p;
    t->start_ms = sh_mono_ms();
    s->turn = t;
    w->running++;
    w->n_turns++;
    sh_counter_inc(w->m.turns_started);
    sh_gauge_set(w->m.running, w->running);
    rerun = !strcmp(s->running_turn, turn_id);
    llm_session_frames_clear(s);
    if (rerun)
        frame(t, "turn_reset", json_object());
    /* Reserve this turn's seq range before any frame can be seen, so a
     * crash mid-turn never makes seq go backwards for the next owner. */
    snprintf(s->running_turn, sizeof(s->running_turn), "%s", turn_id);
    s->seq_reserved = s->next_seq + w->cfg->turn_frames_max;
    llm_emit_context(w, s, p->req);
    llm_emit_event(w, s, turn_id, "user_message", turn_id, "user_message",
                   json_pack("{s:s}", "content", content_of(t)), p->req);

    if (request_llm(t))
        fail(t, "llm_error", "Could not start the language model request.");
    return SH_OK;
}

static void turn_finish(struct llm_turn *t, const char *reason)
{
    struct llm_worker *w = t->w;
    struct llm_session *s = t->s;
    const char *turn_id = t->p->env.turn_id;
    bool interrupted = strcmp(reason, "stop") != 0 && strcmp(reason, "length") != 0;
    json_t *usage = t->has_usage
        ? json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)t->usage.prompt_tokens,
                    "completion_tokens", (json_int_t)t->usage.completion_tokens,
                    "total_tokens", (json_int_t)t->usage.total_tokens)
        : json_object();
    const char *client_id = json_string_value(json_object_get(t->p->env.payload, "client_id"));

    frame(t, "done", json_pack("{s:s, s:O}", "finish_reason", reason, "usage", usage));
    llm_emit_event(w, s, turn_id, "ai_response", turn_id, "ai_response",
                   json_pack("{s:s%, s:s, s:o, s:b}", "content", t->text ? t->text : "",
                             t->len, "finish_reason", reason, "usage", usage,
                             "interrupted", interrupted), t->p->req);
    llm_session_history_add(s, "user", content_of(t), w->cfg->history_max);
    if (t->len)
        llm_session_history_add(s, "assistant", t->text, w->cfg->history_max);
    llm_session_mark_done(s, turn_id, client_id);
    s->running_turn[0] = '\0';
    llm_emit_context(w, s, t->p->req);
    sh_log(SH_LOG_DEBUG, "turn done", "session=%s turn=%s reason=%s frames=%lld", s->id,
           turn_id, reason, (long long)t->frames);

    s->turn = NULL;
    w->running--;
    llm_metrics_finished(&w->m, reason);
    sh_gauge_set(w->m.running, w->running);
    llm_req_release(w, t->p->req);
    sh_env_free(&t->p->env);
    free(t->p);
    json_decref(t->msgs);
    free(t->text);
    free(t);
    llm_sched_turn_done(w, s);
}

void llm_turn_stop(struct llm_worker *w, struct llm_session *s)
{
    struct llm_turn *t = s->turn;

    if (t && t->llm_active)
        sh_oai_client_cancel(w->llm, t->req_id);
}

void llm_turn_abandon(struct llm_worker *w, struct llm_session *s)
{
    struct llm_turn *t = s->turn;

    if (!t)
        return;
    s->turn = NULL;
    w->running--;
    sh_gauge_set(w->m.running, w->running);
    /* The tracker is released without finishing its offset: not committed. */
    t->p->req->failed = true;
    llm_req_release(w, t->p->req);
    sh_env_free(&t->p->env);
    free(t->p);
    json_decref(t->msgs);
    free(t->text);
    t->p = NULL;
    if (t->llm_active) {
        t->abandoned = true;      /* on_done (from cancel) frees it */
        sh_oai_client_cancel(w->llm, t->req_id);
    } else {
        free(t);
    }
}

const struct sh_env *llm_turn_env(const struct llm_turn *t)
{
    return t->p ? &t->p->env : NULL;
}
