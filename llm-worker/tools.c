/* Tool registry for the llm-worker: schemas for the model and the tool implementations. */
#include "tools.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sh_err.h"

#define LOCATION_MAX 200

/* A tool fills '*out' with its result object (new reference) or returns an error text for the
 * model (static or in 'msg'). */
struct tool {
    const char *name;
    const char *description;
    json_t *(*parameters)(void);
    const char *(*run)(json_t *args, json_t **out, char *msg, size_t msg_size);
};

/* ---- get_weather: simulated, deterministic per location ---- */

static json_t *weather_parameters(void)
{
    return json_pack("{s:s, s:{s:{s:s, s:s}, s:{s:s, s:[s,s], s:s}}, s:[s], s:b}",
                     "type", "object",
                     "properties",
                     "location", "type", "string",
                     "description", "City name, optionally with region or country, e.g. Paris",
                     "unit", "type", "string", "enum", "celsius", "fahrenheit",
                     "description", "Temperature unit; celsius when omitted",
                     "required", "location",
                     "additionalProperties", 0);
}

/* FNV-1a over the trimmed, ASCII-lowercased location: the same city always hashes the same. */
static uint32_t location_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= (uint32_t)tolower((unsigned char)s[i]);
        h *= 16777619u;
    }
    return h;
}

static const char *weather_run(json_t *args, json_t **out, char *msg, size_t msg_size)
{
    static const char *const conditions[] = {
        "sunny", "partly cloudy", "cloudy", "rainy", "thunderstorms", "foggy", "windy", "snowy",
    };
    json_t *loc = json_object_get(args, "location"), *unit = json_object_get(args, "unit");
    const char *s, *u = "celsius", *cond;
    size_t len;
    uint32_t h;
    int temp_c, temp, humidity, wind;

    if (!json_is_string(loc))
        return "missing required argument 'location' (string)";
    s = json_string_value(loc);
    len = json_string_length(loc);
    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0)
        return "argument 'location' is empty";
    if (len > LOCATION_MAX || memchr(s, '\0', len))
        return "argument 'location' is not a place name";
    if (unit && !json_is_null(unit)) {
        if (!json_is_string(unit) || (strcmp(json_string_value(unit), "celsius") != 0 &&
                                      strcmp(json_string_value(unit), "fahrenheit") != 0)) {
            snprintf(msg, msg_size, "argument 'unit' must be \"celsius\" or \"fahrenheit\"");
            return msg;
        }
        u = json_string_value(unit);
    }
    h = location_hash(s, len);
    temp_c = (int)(h % 46u) - 10;                       /* -10 .. 35 C */
    cond = conditions[(h >> 8) % 8u];
    if (strcmp(cond, "snowy") == 0 && temp_c > 2)
        cond = "cloudy";
    else if (strcmp(cond, "rainy") == 0 && temp_c < 0)
        cond = "snowy";
    humidity = 20 + (int)((h >> 16) % 76u);             /* 20 .. 95 % */
    wind = (int)((h >> 24) % 46u);                      /* 0 .. 45 km/h */
    temp = strcmp(u, "fahrenheit") == 0
               ? (temp_c * 9 + (temp_c >= 0 ? 2 : -2)) / 5 + 32   /* rounded C*9/5 */
               : temp_c;
    *out = json_pack("{s:s%, s:i, s:s, s:s, s:i, s:i, s:s}",
                     "location", s, len, "temperature", temp, "unit", u, "condition", cond,
                     "humidity", humidity, "wind_kph", wind, "source", "simulated");
    return NULL;
}

static const struct tool tools[] = {
    { "get_weather", "Get the current weather for a location.", weather_parameters, weather_run },
};

#define N_TOOLS (sizeof(tools) / sizeof(tools[0]))

json_t *llm_tools_schema(void)
{
    json_t *arr = json_array(), *t;
    size_t i;

    if (!arr)
        return NULL;
    for (i = 0; i < N_TOOLS; i++) {
        t = json_pack("{s:s, s:{s:s, s:s, s:o?}}", "type", "function", "function",
                      "name", tools[i].name, "description", tools[i].description,
                      "parameters", tools[i].parameters());
        if (!t || json_array_append_new(arr, t)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* Serialise {"error": text} into '*out'. */
static int error_result(const char *text, char **out)
{
    json_t *o = json_pack("{s:s}", "error", text);

    *out = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return *out ? 1 : SH_ENOMEM;
}

int llm_tools_run(const char *name, const char *arguments_json, char **result_json_out)
{
    const struct tool *tool = NULL;
    json_t *args = NULL, *res = NULL;
    json_error_t jerr;
    char msg[256];
    const char *err;
    size_t i;
    int rc;

    if (!result_json_out)
        return SH_EINVAL;
    *result_json_out = NULL;
    if (!name)
        return SH_EINVAL;
    for (i = 0; i < N_TOOLS; i++)
        if (strcmp(tools[i].name, name) == 0)
            tool = &tools[i];
    if (!tool) {
        snprintf(msg, sizeof(msg), "unknown tool: %.100s", name);
        return error_result(msg, result_json_out);
    }
    if (!arguments_json || !*arguments_json)
        arguments_json = "{}";
    args = json_loads(arguments_json, 0, &jerr);
    if (!json_is_object(args)) {
        snprintf(msg, sizeof(msg), "arguments must be a JSON object%s%.160s",
                 args ? "" : ": ", args ? "" : jerr.text);
        rc = error_result(msg, result_json_out);
        goto out;
    }
    err = tool->run(args, &res, msg, sizeof(msg));
    if (err) {
        rc = error_result(err, result_json_out);
        goto out;
    }
    *result_json_out = res ? json_dumps(res, JSON_COMPACT) : NULL;
    rc = *result_json_out ? 0 : SH_ENOMEM;
out:
    json_decref(res);
    json_decref(args);
    return rc;
}
