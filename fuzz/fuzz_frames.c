/* libFuzzer target: the gateway's client-frame parser (gateway/frames.c), fed
 * the way ws.c feeds it (UTF-8 check, then gw_frame_parse), plus the URL
 * helpers that see client bytes. Checks the parser's contract, not just
 * that it survives. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "sh_err.h"

/* The content as the gateway publishes it (a user_message envelope) must decode to
 * the same string, or the worker would drop a message the client saw acked. */
static void check_envelope(json_t *content)
{
    struct sh_env e, back;
    char *out;
    size_t len;

    if (sh_env_init(&e, "user_message", "0190f1e2-3a4b-7c5d-8e6f-0123456789ac", "fuzz", NULL))
        abort();
    if (json_object_set(e.payload, "content", content) || sh_env_encode(&e, &out, &len))
        abort();
    if (sh_env_decode(out, len, &back) != SH_OK ||
        !json_equal(json_object_get(back.payload, "content"), content))
        abort();
    sh_env_free(&back);
    sh_env_free(&e);
    free(out);
}

static void check_frame(const char *buf, size_t len)
{
    struct gw_client_frame f;
    size_t flen;
    char *out;
    int rc = gw_frame_parse(buf, len, &f);

    if (rc == SH_EPROTO) {
        if (!f.err_code || !f.err_msg || f.content)
            abort();                    /* an error must name its code and own nothing */
        out = gw_frame_error(f.err_code, f.err_msg, f.id, NULL, &flen);
        if (!out)
            abort();
        free(out);
    } else if (rc == SH_OK && f.type != GW_CF_USER_MESSAGE) {
        /* stop and ping carry nothing else: the frame must say exactly that type. */
        json_t *o = json_loadb(buf, len, 0, NULL);
        json_t *t = json_object_get(o, "type");
        const char *want = f.type == GW_CF_STOP ? "stop" : "ping";
        if (json_string_length(t) != strlen(want) || strcmp(json_string_value(t), want))
            abort();
        json_decref(o);
    } else if (rc == SH_OK && f.type == GW_CF_USER_MESSAGE) {
        if (!json_is_string(f.content) || strlen(f.id) > GW_CLIENT_ID_MAX)
            abort();
        /* The ack echoes the client id: it must serialise to JSON. */
        out = gw_frame_ack(f.id, "00000000-0000-7000-8000-000000000000", &flen);
        if (!out)
            abort();
        free(out);
        /* What the gateway takes (and acks) every service must be able to read back. */
        check_envelope(f.content);
    } else if (rc != SH_OK && rc != SH_ENOMEM) {
        abort();
    }
    gw_client_frame_free(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s;
    char uid[SH_USER_ID_MAX + 1];
    int64_t seq;
    bool valid = gw_utf8_valid(data, size);
    json_t *js;

    /* Differential check: jansson applies the same RFC 3629 rules to strings. */
    js = json_stringn((const char *)data, size);
    if (valid != (js != NULL))
        abort();
    json_decref(js);
    if (valid)
        check_frame((const char *)data, size);

    /* The URL helpers take NUL-terminated strings from lws. */
    s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (gw_ws_path_parse(s, uid, sizeof(uid)) == SH_OK &&
        uid[0] && !gw_user_id_valid(uid, strlen(uid)))
        abort();
    (void)gw_ws_path_parse(s, NULL, 0);
    if (gw_last_seq_parse(s, &seq) == SH_OK && seq < -1)
        abort();
    free(s);
    return 0;
}
