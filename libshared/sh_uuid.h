/* UUID helpers: time-ordered v7 ids for events, validation for input. */
#ifndef SH_UUID_H
#define SH_UUID_H
#include <stdbool.h>

#define SH_UUID_LEN 36   /* without the terminating NUL */

/* Write a new UUIDv7 (time-ordered, random tail) as lowercase text into
 * 'out' (37 bytes). Ordered ids keep database index inserts local. */
void sh_uuid_v7(char out[SH_UUID_LEN + 1]);
/* Write a deterministic UUID (version 8, RFC 9562) derived from 'base' and
 * 'salt' into 'out': the same inputs always give the same id. Used for
 * idempotency keys of events a re-run would produce again. */
void sh_uuid_derive(const char *base, const char *salt, char out[SH_UUID_LEN + 1]);
/* True when 's' is a canonical 8-4-4-4-12 hex UUID (any version). */
bool sh_uuid_valid(const char *s);

#endif
