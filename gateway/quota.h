/* Per-user and per-address limits of one gateway: concurrent WebSocket
 * connections per user id and per client IP, and a token bucket of user
 * messages per user. Pure bookkeeping (no lws); lws thread only. */
#ifndef GW_QUOTA_H
#define GW_QUOTA_H
#include <stddef.h>
#include <stdint.h>

struct gw_quota;

/* Limits as configured; 0 turns a limit off. 'rate_per_min' messages per
 * minute refill a bucket of 'burst' (>= 1). NULL when out of memory.
 * Destroy with gw_quota_destroy(). */
struct gw_quota *gw_quota_create(int64_t per_user, int64_t per_ip, int64_t rate_per_min,
                                   int64_t burst);
/* NULL-safe. */
void gw_quota_destroy(struct gw_quota *l);

/* Would one more connection of 'user' (NULL or "": not counted per user)
 * from 'ip' exceed a cap? Returns 0, or SH_EFULL with '*which' set to
 * "user" or "ip". Changes nothing. */
int gw_quota_conn_check(const struct gw_quota *l, const char *user, const char *ip,
                         const char **which);
/* Count a connection (checked first, as gw_quota_conn_check()). Returns
 * 0, SH_EFULL or SH_ENOMEM; nothing is counted on error. Every 0 must be
 * matched by one gw_quota_conn_remove() with the same arguments. */
int gw_quota_conn_add(struct gw_quota *l, const char *user, const char *ip,
                       const char **which);
/* Forget one connection counted by gw_quota_conn_add(). */
void gw_quota_conn_remove(struct gw_quota *l, const char *user, const char *ip);

/* Take one message token of 'user' at monotonic time 'now_ms'. Returns 0
 * when the message may go, or the milliseconds until the next token (> 0)
 * when the bucket is empty. Users without a counted connection (and any
 * user when the rate limit is off) always get 0. */
int64_t gw_quota_take(struct gw_quota *l, const char *user, int64_t now_ms);

/* User records held: users with connections, plus departed users whose
 * bucket has not refilled yet (swept now and then). */
size_t gw_quota_users(const struct gw_quota *l);

#endif
