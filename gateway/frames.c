/* Client-frame parsing and validation, and the JSON text of every frame the
 * gateway sends (see docs/PROTOCOL.md). */
#include "frames.h"
#include "sh_err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_PATH "/ws/session"

static int is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool all_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_blank((unsigned char)s[i]))
            return false;
    return true;
}

static int fail(struct gw_client_frame *f, const char *code, const char *msg)
{
    f->err_code = code;
    f->err_msg = msg;
    return SH_EPROTO;
}

/* Fill a user_message from the object 'o'. */
static int parse_user_message(json_t *o, struct gw_client_frame *f)
{
    json_t *content = json_object_get(o, "content");
    json_t *id = json_object_get(o, "id");

    if (!json_is_string(content))
        return fail(f, "invalid_message", "user_message needs a string \"content\"");
    if (id && !json_is_null(id)) {
        if (!json_is_string(id))
            return fail(f, "invalid_message", "\"id\" must be a string");
        if (json_string_length(id) > GW_CLIENT_ID_MAX)
            return fail(f, "invalid_message", "\"id\" is longer than 128 bytes");
        /* A NUL inside would silently shorten the idempotency key. */
        if (strlen(json_string_value(id)) != json_string_length(id))
            return fail(f, "invalid_message", "\"id\" holds a NUL character");
        memcpy(f->id, json_string_value(id), json_string_length(id) + 1);
    }
    if (all_blank(json_string_value(content), json_string_length(content)))
        return fail(f, "empty_message", "the message is empty");
    f->content = json_incref(content);
    return SH_OK;
}

int gw_frame_parse(const char *buf, size_t len, struct gw_client_frame *f)
{
    json_error_t jerr;
    json_t *o = NULL, *type;
    const char *t;
    size_t i = 0;
    int rc;

    memset(f, 0, sizeof(*f));
    while (i < len && is_blank((unsigned char)buf[i]))
        i++;
    if (i == len)
        return fail(f, "empty_message", "the message is empty");
    if (buf[i] != '{') {
        /* Older clients send the message as bare text. */
        f->type = GW_CF_USER_MESSAGE;
        /* Every service decodes envelopes without JSON_ALLOW_NUL: a NUL taken here would
         * be acked, then dropped by the worker as an undecodable request. */
        if (memchr(buf, '\0', len))
            return fail(f, "invalid_message", "the message holds a NUL character");
        f->content = json_stringn(buf, len);
        return f->content ? SH_OK : SH_ENOMEM;
    }
    o = json_loadb(buf, len, 0, &jerr);
    if (!o)
        return fail(f, "invalid_json", "the frame is not valid JSON");
    type = json_object_get(o, "type");
    if (!json_is_string(type)) {
        rc = fail(f, "invalid_message", "the frame needs a string \"type\"");
        goto out;
    }
    t = json_string_value(type);
    if (!strcmp(t, "user_message")) {
        f->type = GW_CF_USER_MESSAGE;
        rc = parse_user_message(o, f);
    } else if (!strcmp(t, "stop")) {
        f->type = GW_CF_STOP;
        rc = SH_OK;
    } else if (!strcmp(t, "ping")) {
        f->type = GW_CF_PING;
        rc = SH_OK;
    } else {
        rc = fail(f, "unknown_type", "unknown frame type");
    }
out:
    json_decref(o);
    return rc;
}

void gw_client_frame_free(struct gw_client_frame *f)
{
    if (!f)
        return;
    json_decref(f->content);
    f->content = NULL;
}

bool gw_utf8_valid(const void *buf, size_t len)
{
    const unsigned char *s = buf, *end = s + len;

    while (s < end) {
        unsigned char c = *s;
        size_t n;
        uint32_t cp;

        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;       /* continuation byte, 0xc0/0xc1 or 0xf5+ */
        }
        if ((size_t)(end - s) <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;       /* overlong, out of range or a surrogate */
        s += n + 1;
    }
    return true;
}

bool gw_rx_too_big(size_t so_far, size_t chunk, size_t remaining, size_t max)
{
    return so_far > max || chunk > max - so_far || remaining > max - so_far - chunk;
}

bool gw_user_id_valid(const char *uid, size_t len)
{
    if (len < 1 || len > SH_USER_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = uid[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '@' || c == '-'))
            return false;
    }
    return true;
}

int gw_ws_path_parse(const char *path, char *uid, size_t cap)
{
    size_t plen = sizeof(SESSION_PATH) - 1, ulen;

    if (cap)
        uid[0] = '\0';
    if (strncmp(path, SESSION_PATH, plen) != 0)
        return SH_ENOTFOUND;
    if (path[plen] == '\0' || (path[plen] == '/' && path[plen + 1] == '\0'))
        return SH_OK;
    if (path[plen] != '/')
        return SH_ENOTFOUND;           /* e.g. /ws/sessionfoo */
    path += plen + 1;
    ulen = strlen(path);
    if (!gw_user_id_valid(path, ulen) || ulen >= cap)
        return SH_EINVAL;
    memcpy(uid, path, ulen + 1);
    return SH_OK;
}

int gw_last_seq_parse(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return SH_EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end != '\0' || v < -1)
        return SH_EINVAL;
    *out = v;
    return SH_OK;
}

/* Serialize and release 'o'. */
static char *dump(json_t *o, size_t *len)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

    json_decref(o);
    if (s)
        *len = strlen(s);
    return s;
}

char *gw_frame_session(const char *session_id, const char *user_id, bool resumed,
                       const char *llm, size_t *len)
{
    return dump(json_pack("{s:s, s:s, s:s, s:b, s:s}", "type", "session", "session_id",
                          session_id, "user_id", user_id, "resumed", resumed, "llm", llm),
                len);
}

char *gw_frame_error(const char *code, const char *message, const char *client_id,
                     const char *turn_id, size_t *len)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message);

    if (o && client_id && *client_id && json_object_set_new(o, "id", json_string(client_id)))
        goto fail;
    if (o && turn_id && *turn_id && json_object_set_new(o, "turn_id", json_string(turn_id)))
        goto fail;
    return dump(o, len);
fail:
    json_decref(o);
    return NULL;
}

char *gw_frame_ack(const char *client_id, const char *turn_id, size_t *len)
{
    return dump(json_pack("{s:s, s:s, s:s}", "type", "ack", "id", client_id, "turn_id", turn_id),
                len);
}

char *gw_frame_pong(int64_t ts_ms, size_t *len)
{
    return dump(json_pack("{s:s, s:I}", "type", "pong", "ts", (json_int_t)ts_ms), len);
}

char *gw_frame_reply(const struct sh_env *e, size_t *len)
{
    /* "type" first reads better in logs and browser dev tools. */
    json_t *f = json_pack("{s:s}", "type", e->type);

    if (!f)
        return NULL;
    if (e->turn_id[0] && json_object_set_new(f, "turn_id", json_string(e->turn_id)))
        goto fail;
    if (e->seq >= 0 && json_object_set_new(f, "seq", json_integer(e->seq)))
        goto fail;
    /* Payload values are shared by reference, not copied. */
    if (e->payload && json_object_update_missing(f, e->payload))
        goto fail;
    return dump(f, len);
fail:
    json_decref(f);
    return NULL;
}

char *gw_frame_rate_limited(const char *client_id, int64_t retry_after_ms, size_t *len)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "type", "error", "code", "rate_limited",
                          "message", "too many messages; retry later", "retry_after_ms",
                          (json_int_t)retry_after_ms);

    if (o && client_id && *client_id && json_object_set_new(o, "id", json_string(client_id))) {
        json_decref(o);
        return NULL;
    }
    return dump(o, len);
}
