/* The registry of this gateway's connections: session id -> the local
 * connections of that session (in join order), and connection id -> its
 * entry. Used only from the lws thread. */
#ifndef GW_SESSIONS_H
#define GW_SESSIONS_H
#include <stddef.h>
#include <stdint.h>

#include "sh_uuid.h"

struct gw_session;

/* Embedded in each connection; zero it before the first add. */
struct gw_sess_link {
    struct gw_sess_link *prev, *next;   /* the session's other connections */
    struct gw_session *session;         /* NULL while not registered */
    uint64_t conn_id;
};

struct gw_sessions;

/* An empty registry, or NULL when out of memory. */
struct gw_sessions *gw_sessions_create(void);
/* Free the registry and its session records; the links belong to their
 * connections and are left alone. NULL-safe. */
void gw_sessions_destroy(struct gw_sessions *r);

/* Register link 'l' (not yet registered) for connection 'conn_id' under
 * 'session_id'. Returns 1 when it is the session's first local connection,
 * 0 when others were there, or SH_ENOMEM / SH_EINVAL (nothing changed). */
int gw_sessions_add(struct gw_sessions *r, const char *session_id, uint64_t conn_id,
                    struct gw_sess_link *l);
/* Unregister 'l'. Returns 1 when it was the session's last local
 * connection, else 0 (also when 'l' was not registered). */
int gw_sessions_remove(struct gw_sessions *r, struct gw_sess_link *l);

/* The first (oldest) link of 'session_id', or NULL; walk on with ->next. */
struct gw_sess_link *gw_sessions_first(const struct gw_sessions *r, const char *session_id);
/* The link of connection 'conn_id', or NULL when it is gone. */
struct gw_sess_link *gw_sessions_find(const struct gw_sessions *r, uint64_t conn_id);
/* The session id 'l' is registered under, or NULL. */
const char *gw_sessions_id(const struct gw_sess_link *l);

/* Call 'fn' for every registered link; 'fn' must not add or remove. */
void gw_sessions_each(const struct gw_sessions *r,
                      void (*fn)(void *ctx, struct gw_sess_link *l), void *ctx);
/* Number of sessions / of registered connections. */
size_t gw_sessions_count(const struct gw_sessions *r);
size_t gw_sessions_conn_count(const struct gw_sessions *r);

#endif
