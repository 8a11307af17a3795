/* Connection caps per user and per IP, and the per-user message token
 * bucket. A user's record lives while the user has connections here, and a
 * little longer when its bucket is not full (so reconnecting does not
 * refill it): such records are swept once they would be full again. */
#include "quota.h"
#include "sh_err.h"
#include "sh_map.h"

#include <stdbool.h>
#include <stdlib.h>

#define SWEEP_EVERY 256         /* messages between sweeps of idle users' records */

struct rec {
    int64_t conns;
    double tokens;              /* user records: the bucket */
    int64_t last_ms;            /* when 'tokens' was last brought up to date */
};

struct gw_quota {
    int64_t per_user, per_ip, rate_per_min, burst;
    struct sh_map *users, *ips;
    uint64_t takes;
};

struct gw_quota *gw_quota_create(int64_t per_user, int64_t per_ip, int64_t rate_per_min,
                                   int64_t burst)
{
    struct gw_quota *l = calloc(1, sizeof(*l));

    if (!l)
        return NULL;
    l->per_user = per_user;
    l->per_ip = per_ip;
    l->rate_per_min = rate_per_min;
    l->burst = burst < 1 ? 1 : burst;
    l->users = sh_map_create();
    l->ips = sh_map_create();
    if (!l->users || !l->ips) {
        gw_quota_destroy(l);
        return NULL;
    }
    return l;
}

static void free_val(void *ctx, const char *key, void *val)
{
    (void)ctx;
    (void)key;
    free(val);
}

void gw_quota_destroy(struct gw_quota *l)
{
    if (!l)
        return;
    if (l->users)
        sh_map_each(l->users, free_val, NULL);
    if (l->ips)
        sh_map_each(l->ips, free_val, NULL);
    sh_map_destroy(l->users);
    sh_map_destroy(l->ips);
    free(l);
}

/* Bring the bucket of 'r' up to 'now_ms'. */
static void refill(const struct gw_quota *l, struct rec *r, int64_t now_ms)
{
    if (now_ms > r->last_ms) {
        r->tokens += (double)(now_ms - r->last_ms) * (double)l->rate_per_min / 60000.0;
        if (r->tokens > (double)l->burst)
            r->tokens = (double)l->burst;
    }
    r->last_ms = now_ms;
}

static int64_t conns_of(const struct sh_map *m, const char *key)
{
    const struct rec *r = key && *key ? sh_map_get(m, key) : NULL;

    return r ? r->conns : 0;
}

int gw_quota_conn_check(const struct gw_quota *l, const char *user, const char *ip,
                         const char **which)
{
    if (l->per_user > 0 && user && *user && conns_of(l->users, user) >= l->per_user) {
        *which = "user";
        return SH_EFULL;
    }
    if (l->per_ip > 0 && ip && *ip && conns_of(l->ips, ip) >= l->per_ip) {
        *which = "ip";
        return SH_EFULL;
    }
    return SH_OK;
}

/* The record of 'key' in 'm', made (with a full bucket) when missing. */
static struct rec *rec_get(const struct gw_quota *l, struct sh_map *m, const char *key,
                           int64_t now_ms)
{
    struct rec *r = sh_map_get(m, key);

    if (r)
        return r;
    r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->tokens = (double)l->burst;
    r->last_ms = now_ms;
    if (sh_map_set(m, key, r)) {
        free(r);
        return NULL;
    }
    return r;
}

/* Drop a record that holds nothing worth keeping. */
static void rec_release(const struct gw_quota *l, struct sh_map *m, const char *key,
                        struct rec *r, bool bucket)
{
    if (r->conns > 0 || (bucket && r->tokens < (double)l->burst))
        return;
    free(sh_map_del(m, key));
}

struct sweep {
    const struct gw_quota *l;
    int64_t now_ms;
    const char **keys;
    size_t n, cap;
};

static void sweep_one(void *ctx, const char *key, void *val)
{
    struct sweep *s = ctx;
    struct rec *r = val;

    if (r->conns > 0 || s->n >= s->cap)
        return;
    refill(s->l, r, s->now_ms);
    if (r->tokens >= (double)s->l->burst)
        s->keys[s->n++] = key;
}

/* Forget idle users whose bucket has filled up again. */
static void sweep(struct gw_quota *l, int64_t now_ms)
{
    struct sweep s = {l, now_ms, NULL, 0, sh_map_len(l->users)};

    if (!s.cap || !(s.keys = calloc(s.cap, sizeof(*s.keys))))
        return;
    sh_map_each(l->users, sweep_one, &s);
    for (size_t i = 0; i < s.n; i++)
        free(sh_map_del(l->users, s.keys[i]));     /* the key dies with its entry: last use */
    free(s.keys);
}

int gw_quota_conn_add(struct gw_quota *l, const char *user, const char *ip,
                       const char **which)
{
    struct rec *u = NULL, *a = NULL;
    int rc = gw_quota_conn_check(l, user, ip, which);

    if (rc)
        return rc;
    if (user && *user && !(u = rec_get(l, l->users, user, 0)))
        return SH_ENOMEM;
    if (ip && *ip && !(a = rec_get(l, l->ips, ip, 0))) {
        if (u)      /* keeps a partly drained bucket; drops only a record with nothing in it */
            rec_release(l, l->users, user, u, l->rate_per_min > 0);
        return SH_ENOMEM;
    }
    if (u)
        u->conns++;
    if (a)
        a->conns++;
    return SH_OK;
}

void gw_quota_conn_remove(struct gw_quota *l, const char *user, const char *ip)
{
    struct rec *r;

    if (user && *user && (r = sh_map_get(l->users, user)) != NULL) {
        r->conns--;
        rec_release(l, l->users, user, r, l->rate_per_min > 0);
    }
    if (ip && *ip && (r = sh_map_get(l->ips, ip)) != NULL) {
        r->conns--;
        rec_release(l, l->ips, ip, r, false);
    }
}

int64_t gw_quota_take(struct gw_quota *l, const char *user, int64_t now_ms)
{
    struct rec *r;
    double missing;

    if (l->rate_per_min <= 0 || !user || !(r = sh_map_get(l->users, user)))
        return 0;
    if (r->last_ms == 0)
        r->last_ms = now_ms;            /* first message: the bucket was full at connect */
    if (++l->takes % SWEEP_EVERY == 0)
        sweep(l, now_ms);
    refill(l, r, now_ms);
    if (r->tokens >= 1.0) {
        r->tokens -= 1.0;
        return 0;
    }
    missing = 1.0 - r->tokens;
    return (int64_t)(missing * 60000.0 / (double)l->rate_per_min) + 1;
}

size_t gw_quota_users(const struct gw_quota *l)
{
    return sh_map_len(l->users);
}
