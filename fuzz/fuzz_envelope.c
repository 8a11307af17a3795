/* libFuzzer target: the Kafka envelope decoder (libshared/sh_envelope.c).
 * Every envelope it accepts must satisfy its documented invariants and
 * survive an encode/decode round trip unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sh_envelope.h"
#include "sh_err.h"

static void must(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sh_env e, back;
    char *out = NULL;
    size_t len = 0;
    json_t *raw;
    static const char *const keys[] = { "id", "type", "session_id", "user_id", "turn_id",
                                        "reply_to" };
    int rc = sh_env_decode((const char *)data, size, &e);

    if (rc != SH_OK) {
        must(rc == SH_EINVAL || rc == SH_EPROTO || rc == SH_ENOMEM);
        must(e.payload == NULL);        /* "on error 'e' holds nothing to free" */
        return 0;
    }
    must(e.v >= 1 && e.type[0] && sh_uuid_valid(e.session_id));
    /* What was decoded is what was sent: no silent truncation of numbers or strings. */
    raw = json_loadb((const char *)data, size, 0, NULL);
    must(json_integer_value(json_object_get(raw, "v")) == e.v);
    must(json_integer_value(json_object_get(raw, "ts")) == e.ts_ms);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(raw, keys[i]);
        must(!v || strlen(json_string_value(v)) == json_string_length(v));
    }
    json_decref(raw);
    must(json_is_object(e.payload) && e.seq >= -1);
    if (sh_env_encode(&e, &out, &len) == SH_OK) {
        must(strlen(out) == len);
        must(sh_env_decode(out, len, &back) == SH_OK);
        must(back.v == e.v && back.ts_ms == e.ts_ms && back.seq == e.seq);
        must(!strcmp(back.type, e.type) && !strcmp(back.id, e.id));
        must(!strcmp(back.session_id, e.session_id) && !strcmp(back.user_id, e.user_id));
        must(!strcmp(back.turn_id, e.turn_id) && !strcmp(back.reply_to, e.reply_to));
        must(json_equal(back.payload, e.payload));
        sh_env_free(&back);
    }
    free(out);
    sh_env_free(&e);
    return 0;
}
