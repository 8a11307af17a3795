/* The session actor's state and its snapshot form on chat.context. */
#include "session.h"
#include "sh_err.h"
#include "sh_time.h"

#include <stdlib.h>
#include <string.h>

static void set_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

struct llm_session *llm_session_create(const char *id, const char *user_id, int32_t partition)
{
    struct llm_session *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    set_str(s->id, sizeof(s->id), id);
    set_str(s->user_id, sizeof(s->user_id), user_id);
    s->partition = partition;
    s->applied_offset = -1;
    s->created_ms = sh_now_ms();
    s->last_active_ms = sh_mono_ms();
    s->history = json_array();
    s->done_turns = json_array();
    s->client_ids = json_array();
    if (!s->history || !s->done_turns || !s->client_ids) {
        llm_session_destroy(s);
        return NULL;
    }
    return s;
}

void llm_session_destroy(struct llm_session *s)
{
    if (!s)
        return;
    while (s->pending) {
        struct llm_pending *p = s->pending;
        s->pending = p->next;
        sh_env_free(&p->env);
        free(p);
    }
    llm_session_frames_clear(s);
    free(s->frames);
    json_decref(s->history);
    llm_jbuf_free(&s->hist_enc);
    free(s->hist_lens);
    json_decref(s->done_turns);
    json_decref(s->client_ids);
    free(s);
}

json_t *llm_session_snapshot(const struct llm_session *s)
{
    json_t *routes = json_array(), *route_ts = json_array();

    for (int i = 0; routes && route_ts && i < s->n_routes; i++) {
        json_array_append_new(routes, json_string(s->routes[i]));
        json_array_append_new(route_ts, json_integer((json_int_t)s->route_ts[i]));
    }
    return json_pack("{s:s, s:I, s:I, s:O, s:O, s:O, s:s, s:I, s:I, s:I, s:o*, s:o*}",
                     "user_id", s->user_id, "created_ms", (json_int_t)s->created_ms,
                     "next_seq", (json_int_t)s->next_seq, "history", s->history,
                     "done_turns", s->done_turns, "client_ids", s->client_ids,
                     "running_turn", s->running_turn, "seq_reserved",
                     (json_int_t)s->seq_reserved, "closed_ms", (json_int_t)s->closed_ms,
                     "applied_offset", (json_int_t)s->applied_offset, "routes", routes,
                     "route_ts", route_ts);
}

/* A JSON array of strings (done_turns, client_ids); other members as jansson writes them. */
static void write_str_array(struct llm_jbuf *b, const json_t *arr)
{
    size_t i;
    json_t *x;

    LLM_JBUF_LIT(b, "[");
    json_array_foreach(arr, i, x) {
        if (i)
            LLM_JBUF_LIT(b, ",");
        if (json_is_string(x))
            llm_jbuf_str(b, json_string_value(x), json_string_length(x));
        else
            llm_jbuf_json(b, x);
    }
    LLM_JBUF_LIT(b, "]");
}

int llm_session_snapshot_write(const struct llm_session *s, struct llm_jbuf *b)
{
    LLM_JBUF_LIT(b, "{\"user_id\":");
    llm_jbuf_cstr(b, s->user_id);
    LLM_JBUF_LIT(b, ",\"created_ms\":");
    llm_jbuf_int(b, s->created_ms);
    LLM_JBUF_LIT(b, ",\"next_seq\":");
    llm_jbuf_int(b, s->next_seq);
    LLM_JBUF_LIT(b, ",\"history\":[");
    llm_jbuf_put(b, s->hist_enc.p ? s->hist_enc.p : "", s->hist_enc.len);
    LLM_JBUF_LIT(b, "],\"done_turns\":");
    write_str_array(b, s->done_turns);
    LLM_JBUF_LIT(b, ",\"client_ids\":");
    write_str_array(b, s->client_ids);
    LLM_JBUF_LIT(b, ",\"running_turn\":");
    llm_jbuf_cstr(b, s->running_turn);
    LLM_JBUF_LIT(b, ",\"seq_reserved\":");
    llm_jbuf_int(b, s->seq_reserved);
    LLM_JBUF_LIT(b, ",\"closed_ms\":");
    llm_jbuf_int(b, s->closed_ms);
    LLM_JBUF_LIT(b, ",\"applied_offset\":");
    llm_jbuf_int(b, s->applied_offset);
    LLM_JBUF_LIT(b, ",\"routes\":[");
    for (int i = 0; i < s->n_routes; i++) {
        if (i)
            LLM_JBUF_LIT(b, ",");
        llm_jbuf_cstr(b, s->routes[i]);
    }
    LLM_JBUF_LIT(b, "],\"route_ts\":[");
    for (int i = 0; i < s->n_routes; i++) {
        if (i)
            LLM_JBUF_LIT(b, ",");
        llm_jbuf_int(b, s->route_ts[i]);
    }
    LLM_JBUF_LIT(b, "]}");
    return b->oom ? SH_ENOMEM : SH_OK;
}

/* Room for 'n' entries in s->hist_lens. */
static int hist_lens_fit(struct llm_session *s, size_t n)
{
    size_t cap = s->hist_lens_cap ? s->hist_lens_cap : 16;
    size_t *p;

    if (n <= s->hist_lens_cap)
        return SH_OK;
    while (cap < n)
        cap *= 2;
    p = realloc(s->hist_lens, cap * sizeof(*p));
    if (!p)
        return SH_ENOMEM;
    s->hist_lens = p;
    s->hist_lens_cap = cap;
    return SH_OK;
}

/* Append message number 'i' (0-based, already in s->history), encoded as 'enc', to the
 * encoded history. */
static int hist_enc_push(struct llm_session *s, size_t i, const char *enc, size_t len)
{
    if (hist_lens_fit(s, i + 1) || (i && LLM_JBUF_LIT(&s->hist_enc, ",")) ||
        llm_jbuf_put(&s->hist_enc, enc, len))
        return SH_ENOMEM;
    s->hist_lens[i] = len;
    return SH_OK;
}

/* Drop the oldest message of the encoded history (s->history has already dropped it). */
static void hist_enc_shift(struct llm_session *s)
{
    size_t left = json_array_size(s->history);  /* messages after the drop */
    size_t cut = s->hist_lens[0] + (left ? 1 : 0);

    memmove(s->hist_enc.p, s->hist_enc.p + cut, s->hist_enc.len - cut + 1);
    s->hist_enc.len -= cut;
    memmove(s->hist_lens, s->hist_lens + 1, left * sizeof(*s->hist_lens));
}

/* Encode s->history from scratch (after a restore), each message as jansson dumps it. */
static int hist_enc_rebuild(struct llm_session *s)
{
    size_t n = json_array_size(s->history);
    struct llm_jbuf one = {0};
    int rc = SH_OK;

    llm_jbuf_reset(&s->hist_enc);
    for (size_t i = 0; i < n && !rc; i++) {
        llm_jbuf_reset(&one);
        rc = llm_jbuf_json(&one, json_array_get(s->history, i));
        if (!rc)
            rc = hist_enc_push(s, i, one.p, one.len);
    }
    llm_jbuf_free(&one);
    return rc;
}

struct llm_session *llm_session_restore(const char *id, int32_t partition, json_t *snap)
{
    const char *user = NULL, *running = "";
    json_int_t created = 0, next_seq = 0, reserved = 0, closed = 0, applied = -1;
    json_t *history = NULL, *done = NULL, *clients = NULL, *routes = NULL, *route_ts = NULL;
    struct llm_session *s;
    json_error_t jerr;

    if (json_unpack_ex(snap, &jerr, 0,
                       "{s:s, s?I, s:I, s:o, s?o, s?o, s?s, s?I, s?I, s?I, s?o, s?o}",
                       "user_id", &user, "created_ms", &created, "next_seq", &next_seq,
                       "history", &history, "done_turns", &done, "client_ids", &clients,
                       "running_turn", &running, "seq_reserved", &reserved, "closed_ms", &closed,
                       "applied_offset", &applied, "routes", &routes, "route_ts", &route_ts))
        return NULL;
    if (!json_is_array(history) || next_seq < 0)
        return NULL;
    s = llm_session_create(id, user, partition);
    if (!s)
        return NULL;
    if (created)
        s->created_ms = created;
    s->next_seq = next_seq;
    json_array_extend(s->history, history);
    if (hist_enc_rebuild(s)) {
        llm_session_destroy(s);
        return NULL;
    }
    if (json_is_array(done))
        json_array_extend(s->done_turns, done);
    if (json_is_array(clients))
        json_array_extend(s->client_ids, clients);
    set_str(s->running_turn, sizeof(s->running_turn), running);
    s->seq_reserved = reserved;
    s->closed_ms = closed;
    s->applied_offset = applied;
    /* A turn was running when this snapshot was taken: its frames may have
     * used any seq up to the reservation, so start after it. */
    if (s->running_turn[0] && s->next_seq < reserved)
        s->next_seq = reserved;
    if (json_is_array(routes)) {
        size_t i;
        json_t *r;
        json_array_foreach(routes, i, r) {
            json_t *ts = json_array_get(route_ts, i);  /* absent in older snapshots */
            if (!json_is_string(r))
                continue;
            llm_session_route_add(s, json_string_value(r));
            if (json_is_integer(ts))
                llm_session_route_touch(s, json_string_value(r), json_integer_value(ts));
        }
    }
    return s;
}

int llm_session_route_add(struct llm_session *s, const char *topic)
{
    s->closed_ms = 0;
    for (int i = 0; i < s->n_routes; i++)
        if (!strcmp(s->routes[i], topic))
            return SH_OK;
    if (s->n_routes == LLM_MAX_ROUTES) {
        memmove(s->routes[0], s->routes[1], sizeof(s->routes[0]) * (LLM_MAX_ROUTES - 1));
        memmove(&s->route_ts[0], &s->route_ts[1], sizeof(s->route_ts[0]) * (LLM_MAX_ROUTES - 1));
        set_str(s->routes[LLM_MAX_ROUTES - 1], sizeof(s->routes[0]), topic);
        s->route_ts[LLM_MAX_ROUTES - 1] = 0;
        return SH_EFULL;
    }
    s->route_ts[s->n_routes] = 0;
    set_str(s->routes[s->n_routes++], sizeof(s->routes[0]), topic);
    return SH_OK;
}

void llm_session_route_del(struct llm_session *s, const char *topic)
{
    llm_session_route_close(s, topic, sh_now_ms());
}

void llm_session_route_close(struct llm_session *s, const char *topic, int64_t when_ms)
{
    for (int i = 0; i < s->n_routes; i++) {
        if (strcmp(s->routes[i], topic) != 0)
            continue;
        memmove(s->routes[i], s->routes[i + 1], sizeof(s->routes[0]) * (size_t)(s->n_routes - i - 1));
        memmove(&s->route_ts[i], &s->route_ts[i + 1],
                sizeof(s->route_ts[0]) * (size_t)(s->n_routes - i - 1));
        if (--s->n_routes == 0)
            s->closed_ms = when_ms > 0 ? when_ms : sh_now_ms();
        return;
    }
}

void llm_session_route_touch(struct llm_session *s, const char *topic, int64_t ts)
{
    for (int i = 0; i < s->n_routes; i++)
        if (!strcmp(s->routes[i], topic)) {
            if (ts > s->route_ts[i])
                s->route_ts[i] = ts;
            return;
        }
}

/* Append to a JSON array keeping at most 'max' items (oldest dropped). */
static int push_bounded(json_t *arr, json_t *item, size_t max)
{
    if (!item || json_array_append_new(arr, item))
        return SH_ENOMEM;
    while (json_array_size(arr) > max)
        json_array_remove(arr, 0);
    return SH_OK;
}

int llm_session_history_add(struct llm_session *s, const char *role, const char *content,
                            int64_t max)
{
    json_t *m = json_pack("{s:s, s:s}", "role", role, "content", content);
    struct llm_jbuf *b = &s->hist_enc;
    size_t start, i;

    /* jansson refuses what is not UTF-8: then nothing is added, to either form. */
    if (!m || json_array_append_new(s->history, m))
        return SH_ENOMEM;
    i = json_array_size(s->history) - 1;
    start = b->len;
    if (i && LLM_JBUF_LIT(b, ","))
        goto fail;
    LLM_JBUF_LIT(b, "{\"role\":");
    llm_jbuf_cstr(b, role);
    LLM_JBUF_LIT(b, ",\"content\":");
    llm_jbuf_cstr(b, content);
    LLM_JBUF_LIT(b, "}");
    if (b->oom || hist_lens_fit(s, i + 1))
        goto fail;
    s->hist_lens[i] = b->len - start - (i ? 1 : 0);
    while (json_array_size(s->history) > (size_t)max) {
        json_array_remove(s->history, 0);
        hist_enc_shift(s);
    }
    return SH_OK;
fail:
    /* Keep both forms equal: take the message back out. */
    json_array_remove(s->history, i);
    b->oom = false;
    b->len = start;
    if (b->p)
        b->p[start] = '\0';
    return SH_ENOMEM;
}

int llm_session_mark_done(struct llm_session *s, const char *turn_id, const char *client_id)
{
    int rc = push_bounded(s->done_turns, json_string(turn_id), LLM_RECENT_TURNS);
    if (!rc && client_id && *client_id)
        rc = push_bounded(s->client_ids, json_string(client_id), LLM_RECENT_TURNS);
    return rc;
}

static bool contains(const json_t *arr, const char *v)
{
    size_t i;
    json_t *x;

    json_array_foreach(arr, i, x)
        if (json_is_string(x) && !strcmp(json_string_value(x), v))
            return true;
    return false;
}

bool llm_session_seen(const struct llm_session *s, const char *turn_id, const char *client_id)
{
    return contains(s->done_turns, turn_id) ||
           (client_id && *client_id && contains(s->client_ids, client_id));
}

void llm_session_frames_clear(struct llm_session *s)
{
    for (size_t i = 0; i < s->n_frames; i++)
        free(s->frames[i].data);
    s->n_frames = 0;
}

int llm_session_frames_add(struct llm_session *s, int64_t seq, const char *data, size_t len)
{
    struct llm_frame *f;

    if (s->n_frames == s->cap_frames) {
        size_t cap = s->cap_frames ? s->cap_frames * 2 : 32;
        f = realloc(s->frames, cap * sizeof(*f));
        if (!f)
            return SH_ENOMEM;
        s->frames = f;
        s->cap_frames = cap;
    }
    f = &s->frames[s->n_frames];
    f->data = malloc(len);
    if (!f->data)
        return SH_ENOMEM;
    memcpy(f->data, data, len);
    f->len = len;
    f->seq = seq;
    s->n_frames++;
    return SH_OK;
}
