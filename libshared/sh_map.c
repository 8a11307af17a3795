/* A string-keyed hash map (chained, grows by doubling). */
#include "sh_map.h"
#include "sh_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *next;
    uint64_t hash;
    void *val;
    char key[];
};

struct sh_map {
    struct entry **buckets;
    size_t nbuckets;        /* power of two */
    size_t len;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

struct sh_map *sh_map_create(void)
{
    struct sh_map *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    m->nbuckets = 64;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    if (!m->buckets) {
        free(m);
        return NULL;
    }
    return m;
}

void sh_map_destroy(struct sh_map *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct entry *e = m->buckets[i];
        while (e) {
            struct entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    free(m);
}

static int grow(struct sh_map *m)
{
    size_t n = m->nbuckets * 2;
    struct entry **b = calloc(n, sizeof(*b));

    if (!b)
        return SH_ENOMEM;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct entry *e = m->buckets[i];
        while (e) {
            struct entry *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return SH_OK;
}

static struct entry **find(const struct sh_map *m, const char *key, uint64_t h)
{
    struct entry **pp = &m->buckets[h & (m->nbuckets - 1)];

    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

int sh_map_set(struct sh_map *m, const char *key, void *val)
{
    uint64_t h = fnv1a(key);
    struct entry **pp = find(m, key, h), *e;
    size_t klen;

    if (*pp) {
        (*pp)->val = val;
        return SH_OK;
    }
    /* A failed grow only costs speed, so it is not an error. */
    if (m->len >= m->nbuckets && grow(m) == SH_OK)
        pp = find(m, key, h);
    klen = strlen(key);
    e = malloc(sizeof(*e) + klen + 1);
    if (!e)
        return SH_ENOMEM;
    e->hash = h;
    e->val = val;
    memcpy(e->key, key, klen + 1);
    e->next = NULL;
    *pp = e;
    m->len++;
    return SH_OK;
}

void *sh_map_get(const struct sh_map *m, const char *key)
{
    struct entry **pp = find(m, key, fnv1a(key));
    return *pp ? (*pp)->val : NULL;
}

void *sh_map_del(struct sh_map *m, const char *key)
{
    struct entry **pp = find(m, key, fnv1a(key)), *e = *pp;
    void *val;

    if (!e)
        return NULL;
    *pp = e->next;
    val = e->val;
    free(e);
    m->len--;
    return val;
}

size_t sh_map_len(const struct sh_map *m)
{
    return m->len;
}

void sh_map_each(const struct sh_map *m, void (*fn)(void *ctx, const char *key, void *val),
                 void *ctx)
{
    for (size_t i = 0; i < m->nbuckets; i++)
        for (struct entry *e = m->buckets[i]; e; e = e->next)
            fn(ctx, e->key, e->val);
}
