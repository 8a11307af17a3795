/* Builds the JSON body of an OpenAI-compatible POST /chat/completions request. */
#include "sh_oai_request.h"

#include <stdlib.h>

#include "sh_err.h"

/* json_object_set_new() that reports a failed allocation of 'v' or of the member. */
static int put(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0 ? 0 : SH_ENOMEM;
}

int sh_oai_request_build(const struct sh_oai_request *req, char **body_out)
{
    json_t *root = NULL, *opts;
    int rc = SH_EINVAL;

    *body_out = NULL;
    if (!req || !req->model || !*req->model || !json_is_array(req->messages))
        goto out;
    if (req->tools && !json_is_array(req->tools))
        goto out;
    if (req->has_temperature && !(req->temperature >= 0.0 && req->temperature <= 2.0))
        goto out;                          /* also rejects NaN */
    rc = SH_ENOMEM;
    root = json_object();
    if (!root)
        goto out;
    /* json_object_set() takes its own reference: the caller keeps messages/tools. */
    if (put(root, "model", json_string(req->model)) ||
        json_object_set(root, "messages", req->messages))
        goto out;
    if (req->tools && json_array_size(req->tools) > 0) {
        if (json_object_set(root, "tools", req->tools))
            goto out;
        if (req->tool_choice && put(root, "tool_choice", json_string(req->tool_choice)))
            goto out;
    }
    if (put(root, "stream", json_boolean(req->stream)))
        goto out;
    if (req->stream) {
        opts = json_pack("{s:b}", "include_usage", 1);
        if (put(root, "stream_options", opts))
            goto out;
    }
    if (req->max_tokens > 0 && put(root, "max_tokens", json_integer(req->max_tokens)))
        goto out;
    if (req->has_temperature && put(root, "temperature", json_real(req->temperature)))
        goto out;
    *body_out = json_dumps(root, JSON_COMPACT);
    rc = *body_out ? 0 : SH_ENOMEM;
out:
    json_decref(root);
    return rc;
}

int sh_oai_request_is_stream(const char *body)
{
    json_t *root = body ? json_loads(body, 0, NULL) : NULL;
    int rc;

    if (!json_is_object(root)) {
        json_decref(root);
        return SH_EINVAL;
    }
    rc = json_is_true(json_object_get(root, "stream")) ? 1 : 0;
    json_decref(root);
    return rc;
}
