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
    return push_bounded(s->history, json_pack("{s:s, s:s}", "role", role, "content", content),
                        (size_t)max);
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
