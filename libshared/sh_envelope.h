/* The message envelope every service puts on Kafka.
 *
 * Wire form (one JSON object per Kafka message, key = session_id):
 *   {"v":1,"id":"<uuidv7>","type":"token","ts":1764044000123,
 *    "session_id":"<uuid>","user_id":"alice","turn_id":"<uuid>",
 *    "seq":12,"reply_to":"chat.replies.gw-a","payload":{...}}
 * turn_id, seq and reply_to are omitted when not set. See
 * docs/ARCHITECTURE.md for the types each topic carries. */
#ifndef SH_ENVELOPE_H
#define SH_ENVELOPE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "sh_uuid.h"

#define SH_ENV_VERSION   1
#define SH_ENV_TYPE_MAX  32
#define SH_USER_ID_MAX   128
#define SH_TOPIC_MAX     200

struct sh_env {
    int v;                                  /* envelope version */
    char type[SH_ENV_TYPE_MAX];
    char id[SH_UUID_LEN + 1];               /* unique event id (idempotency key) */
    int64_t ts_ms;                          /* producer wall clock, epoch ms */
    char session_id[SH_UUID_LEN + 1];
    char user_id[SH_USER_ID_MAX + 1];
    char turn_id[SH_UUID_LEN + 1];          /* "" when not part of a turn */
    int64_t seq;                            /* per-session stream seq, -1 = none */
    char reply_to[SH_TOPIC_MAX + 1];        /* "" = none */
    json_t *payload;                        /* owned; always an object */
};

/* Fill 'e' for a new event: fresh id, now, given type/ids, seq -1, empty
 * payload object. 'turn_id' may be NULL. Strings that do not fit are
 * rejected with SH_EINVAL. Free with sh_env_free(). */
int sh_env_init(struct sh_env *e, const char *type, const char *session_id,
                const char *user_id, const char *turn_id);
/* Release the payload; 'e' may be reused after sh_env_init(). NULL-safe. */
void sh_env_free(struct sh_env *e);
/* Serialize to compact JSON. '*out' is malloc'd; the caller frees it. */
int sh_env_encode(const struct sh_env *e, char **out, size_t *len);
/* Parse and validate 'buf'. On success 'e' owns a payload (free with
 * sh_env_free()); on error 'e' holds nothing to free and SH_EINVAL/SH_EPROTO
 * is returned. Unknown extra fields are ignored (forward compatibility). */
int sh_env_decode(const char *buf, size_t len, struct sh_env *e);

#endif
