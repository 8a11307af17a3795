/* The message envelope every service puts on Kafka. */
#include "sh_envelope.h"
#include "sh_err.h"
#include "sh_time.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int copy_field(char *dst, size_t cap, const char *src)
{
    size_t len = src ? strlen(src) : 0;

    if (len >= cap)
        return SH_EINVAL;
    memcpy(dst, src ? src : "", len);
    dst[len] = '\0';
    return SH_OK;
}

int sh_env_init(struct sh_env *e, const char *type, const char *session_id,
                const char *user_id, const char *turn_id)
{
    memset(e, 0, sizeof(*e));
    e->v = SH_ENV_VERSION;
    e->seq = -1;
    sh_uuid_v7(e->id);
    e->ts_ms = sh_now_ms();
    if (copy_field(e->type, sizeof(e->type), type) ||
        copy_field(e->session_id, sizeof(e->session_id), session_id) ||
        copy_field(e->user_id, sizeof(e->user_id), user_id) ||
        copy_field(e->turn_id, sizeof(e->turn_id), turn_id))
        return SH_EINVAL;
    e->payload = json_object();
    return e->payload ? SH_OK : SH_ENOMEM;
}

void sh_env_free(struct sh_env *e)
{
    if (!e)
        return;
    json_decref(e->payload);
    e->payload = NULL;
}

int sh_env_encode(const struct sh_env *e, char **out, size_t *len)
{
    json_t *o = json_object();
    int rc = SH_ENOMEM;

    *out = NULL;
    if (!o)
        return SH_ENOMEM;
    if (json_object_set_new(o, "v", json_integer(e->v)) ||
        json_object_set_new(o, "id", json_string(e->id)) ||
        json_object_set_new(o, "type", json_string(e->type)) ||
        json_object_set_new(o, "ts", json_integer(e->ts_ms)) ||
        json_object_set_new(o, "session_id", json_string(e->session_id)) ||
        json_object_set_new(o, "user_id", json_string(e->user_id)))
        goto out;
    if (e->turn_id[0] && json_object_set_new(o, "turn_id", json_string(e->turn_id)))
        goto out;
    if (e->seq >= 0 && json_object_set_new(o, "seq", json_integer(e->seq)))
        goto out;
    if (e->reply_to[0] && json_object_set_new(o, "reply_to", json_string(e->reply_to)))
        goto out;
    if (json_object_set(o, "payload", e->payload ? e->payload : json_object()))
        goto out;
    *out = json_dumps(o, JSON_COMPACT);
    if (!*out)
        goto out;
    *len = strlen(*out);
    rc = SH_OK;
out:
    json_decref(o);
    return rc;
}

/* Copy an optional string member; absent is fine, wrong type or size is not. */
static int get_str(json_t *o, const char *key, char *dst, size_t cap, int required)
{
    json_t *v = json_object_get(o, key);

    if (!v)
        return required ? SH_EPROTO : (dst[0] = '\0', SH_OK);
    if (!json_is_string(v) || json_string_length(v) >= cap)
        return SH_EPROTO;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return SH_OK;
}

int sh_env_decode(const char *buf, size_t len, struct sh_env *e)
{
    json_error_t jerr;
    json_t *o, *v, *payload;
    int rc = SH_EPROTO;

    memset(e, 0, sizeof(*e));
    e->seq = -1;
    o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return SH_EINVAL;
    if (!json_is_object(o))
        goto out;
    v = json_object_get(o, "v");
    /* Bounded above too: (int) of 2^32 + 1 would read as version 1. */
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > INT_MAX)
        goto out;
    e->v = (int)json_integer_value(v);
    if (get_str(o, "id", e->id, sizeof(e->id), 1) ||
        get_str(o, "type", e->type, sizeof(e->type), 1) ||
        get_str(o, "session_id", e->session_id, sizeof(e->session_id), 1) ||
        get_str(o, "user_id", e->user_id, sizeof(e->user_id), 1) ||
        get_str(o, "turn_id", e->turn_id, sizeof(e->turn_id), 0) ||
        get_str(o, "reply_to", e->reply_to, sizeof(e->reply_to), 0))
        goto out;
    if (!e->type[0] || !sh_uuid_valid(e->session_id))
        goto out;
    v = json_object_get(o, "ts");
    if (!json_is_integer(v))
        goto out;
    e->ts_ms = json_integer_value(v);
    v = json_object_get(o, "seq");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            goto out;
        e->seq = json_integer_value(v);
    }
    payload = json_object_get(o, "payload");
    if (payload && !json_is_object(payload))
        goto out;
    e->payload = payload ? json_incref(payload) : json_object();
    rc = e->payload ? SH_OK : SH_ENOMEM;
out:
    json_decref(o);
    return rc;
}
