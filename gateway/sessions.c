/* The registry of this gateway's connections: session id -> its local
 * connections, connection id -> its link. Two sh_maps; the per-connection
 * part is the link the connection embeds, so joining a session that is
 * already here costs one map entry. */
#include "sessions.h"
#include "sh_err.h"
#include "sh_map.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_session {
    char id[SH_UUID_LEN + 1];
    struct gw_sess_link *head, *tail;
    size_t n;
};

struct gw_sessions {
    struct sh_map *by_session;      /* session id -> struct gw_session * */
    struct sh_map *by_conn;         /* hex conn id -> struct gw_sess_link * */
    size_t conns;
};

static void conn_key(uint64_t id, char key[17])
{
    snprintf(key, 17, "%" PRIx64, id);
}

struct gw_sessions *gw_sessions_create(void)
{
    struct gw_sessions *r = calloc(1, sizeof(*r));

    if (!r)
        return NULL;
    r->by_session = sh_map_create();
    r->by_conn = sh_map_create();
    if (!r->by_session || !r->by_conn) {
        gw_sessions_destroy(r);
        return NULL;
    }
    return r;
}

static void free_session(void *ctx, const char *key, void *val)
{
    struct gw_session *s = val;

    (void)ctx;
    (void)key;
    for (struct gw_sess_link *l = s->head; l; l = l->next)
        l->session = NULL;
    free(s);
}

void gw_sessions_destroy(struct gw_sessions *r)
{
    if (!r)
        return;
    if (r->by_session)
        sh_map_each(r->by_session, free_session, NULL);
    sh_map_destroy(r->by_session);
    sh_map_destroy(r->by_conn);
    free(r);
}

int gw_sessions_add(struct gw_sessions *r, const char *session_id, uint64_t conn_id,
                    struct gw_sess_link *l)
{
    struct gw_session *s;
    char key[17];
    int first = 0;

    if (l->session || strlen(session_id) > SH_UUID_LEN)
        return SH_EINVAL;
    conn_key(conn_id, key);
    if (sh_map_set(r->by_conn, key, l))
        return SH_ENOMEM;
    s = sh_map_get(r->by_session, session_id);
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s || sh_map_set(r->by_session, session_id, s)) {
            free(s);
            sh_map_del(r->by_conn, key);
            return SH_ENOMEM;
        }
        memcpy(s->id, session_id, strlen(session_id) + 1);
        first = 1;
    }
    l->conn_id = conn_id;
    l->session = s;
    l->next = NULL;
    l->prev = s->tail;
    if (s->tail)
        s->tail->next = l;
    else
        s->head = l;
    s->tail = l;
    s->n++;
    r->conns++;
    return first;
}

int gw_sessions_remove(struct gw_sessions *r, struct gw_sess_link *l)
{
    struct gw_session *s = l->session;
    char key[17];

    if (!s)
        return 0;
    conn_key(l->conn_id, key);
    sh_map_del(r->by_conn, key);
    if (l->prev)
        l->prev->next = l->next;
    else
        s->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    else
        s->tail = l->prev;
    l->prev = l->next = NULL;
    l->session = NULL;
    r->conns--;
    if (--s->n > 0)
        return 0;
    sh_map_del(r->by_session, s->id);
    free(s);
    return 1;
}

struct gw_sess_link *gw_sessions_first(const struct gw_sessions *r, const char *session_id)
{
    struct gw_session *s = sh_map_get(r->by_session, session_id);

    return s ? s->head : NULL;
}

struct gw_sess_link *gw_sessions_find(const struct gw_sessions *r, uint64_t conn_id)
{
    char key[17];

    conn_key(conn_id, key);
    return sh_map_get(r->by_conn, key);
}

const char *gw_sessions_id(const struct gw_sess_link *l)
{
    return l->session ? l->session->id : NULL;
}

struct each_ctx {
    void (*fn)(void *ctx, struct gw_sess_link *l);
    void *ctx;
};

static void each_session(void *ctx, const char *key, void *val)
{
    struct each_ctx *ec = ctx;
    struct gw_session *s = val;

    (void)key;
    for (struct gw_sess_link *l = s->head; l; l = l->next)
        ec->fn(ec->ctx, l);
}

void gw_sessions_each(const struct gw_sessions *r,
                      void (*fn)(void *ctx, struct gw_sess_link *l), void *ctx)
{
    struct each_ctx ec = {fn, ctx};

    sh_map_each(r->by_session, each_session, &ec);
}

size_t gw_sessions_count(const struct gw_sessions *r)
{
    return sh_map_len(r->by_session);
}

size_t gw_sessions_conn_count(const struct gw_sessions *r)
{
    return r->conns;
}
