/* A string-keyed hash map (chained, grows by doubling). Keys are copied;
 * values are borrowed pointers the caller owns. Not thread-safe. */
#ifndef SH_MAP_H
#define SH_MAP_H
#include <stddef.h>

struct sh_map;

/* Returns NULL on allocation failure. Destroy with sh_map_destroy(). */
struct sh_map *sh_map_create(void);
/* Frees the map and its key copies, not the values. NULL-safe. */
void sh_map_destroy(struct sh_map *m);
/* Insert or replace. Returns 0 or SH_ENOMEM. */
int sh_map_set(struct sh_map *m, const char *key, void *val);
/* The value, or NULL when absent. */
void *sh_map_get(const struct sh_map *m, const char *key);
/* Remove 'key'; returns its value (or NULL when absent). */
void *sh_map_del(struct sh_map *m, const char *key);
size_t sh_map_len(const struct sh_map *m);
/* Call 'fn' for every entry; 'fn' must not modify the map. */
void sh_map_each(const struct sh_map *m, void (*fn)(void *ctx, const char *key, void *val),
                 void *ctx);

#endif
