/* Builds the JSON body of an OpenAI-compatible POST /chat/completions request. */
#ifndef SH_OAI_REQUEST_H
#define SH_OAI_REQUEST_H

#include <stdbool.h>

#include <jansson.h>

/* What goes into one request. Pointers are borrowed for the duration of the build call only. */
struct sh_oai_request {
    const char *model;        /* required */
    json_t *messages;         /* required: array of {role, content, ...} */
    json_t *tools;            /* optional: the "tools" array; NULL or empty array to omit */
    const char *tool_choice;  /* optional: "auto", "none", "required"; NULL to omit */
    bool stream;              /* adds "stream":true and stream_options.include_usage */
    int max_tokens;           /* > 0 to send "max_tokens" */
    bool has_temperature;     /* send 'temperature' */
    double temperature;
};

/* Serialise 'req' into a compact JSON string in '*body_out' (malloc'd; the caller free()s it).
 * Returns 0; SH_EINVAL when model or messages are missing or not of the right JSON type, or the
 * temperature is outside [0, 2]; SH_ENOMEM. '*body_out' is NULL on error. */
int sh_oai_request_build(const struct sh_oai_request *req, char **body_out);

/* Does a request body ask for streaming ("stream": true)? Returns 1 yes, 0 no, SH_EINVAL when
 * 'body' is not a JSON object. */
int sh_oai_request_is_stream(const char *body);

#endif
