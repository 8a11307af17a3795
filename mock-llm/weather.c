/* The get_weather tool flow: detecting a weather question, city extraction, tool calls, answering from tool results. */
#include "reply.h"
#include "sh_err.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_CITY "San Francisco"

/* Words that end a question rather than name a place: "in Paris today?" is about Paris.
 * Longer phrases first, so "right now" goes before "now" could leave "right" behind. */
static const char *const fillers[] = {
    "right now", "this week", "this weekend", "at the moment", "as well", "today", "tomorrow",
    "tonight", "now", "currently", "please", "like", "then", "again", "too",
};

static const char *const unit_words[] = {"fahrenheit", "celsius", "degrees", "kelvin"};

static bool tools_have_weather(const json_t *tools)
{
    const json_t *t;
    size_t i;

    json_array_foreach(tools, i, t) {
        const json_t *fn = json_object_get(t, "function");
        const char *name = json_string_value(json_object_get(fn ? fn : t, "name"));
        if (name && !strcmp(name, "get_weather"))
            return true;
    }
    return false;
}

bool mock_weather_applies(const struct mock_convo *c)
{
    const json_t *choice = json_object_get(c->req, "tool_choice");
    const char *cs = json_string_value(choice);

    if (!c->last_role || strcmp(c->last_role, "user") ||
        !tools_have_weather(json_object_get(c->req, "tools")))
        return false;
    if (cs && !strcmp(cs, "none"))
        return false;
    if (cs && !strcmp(cs, "required"))
        return true;
    cs = json_string_value(json_object_get(json_object_get(choice, "function"), "name"));
    if (cs && !strcmp(cs, "get_weather"))
        return true;
    return strcasestr(c->last_user, "weather") || strcasestr(c->last_user, "temperature") ||
           strcasestr(c->last_user, "forecast");
}

static bool ends_with_word(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);
    return n >= wl && !strncasecmp(s + n - wl, w, wl) && (n == wl || s[n - wl - 1] == ' ');
}

static void trim_span(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

/* Drop trailing filler words, repeatedly ("in Oslo right now please"). */
static void trim_fillers(const char *s, size_t *n)
{
    bool again = true;

    while (again) {
        again = false;
        for (size_t i = 0; i < sizeof(fillers) / sizeof(fillers[0]); i++) {
            if (ends_with_word(s, *n, fillers[i])) {
                *n -= strlen(fillers[i]);
                while (*n && s[*n - 1] == ' ')
                    (*n)--;
                again = true;
            }
        }
    }
}

/* Offset of the next case-insensitive " and " / " & " / " or " separator in s[0, n), its
 * length in *sep, or n when there is none. */
static size_t next_sep(const char *s, size_t n, size_t *sep)
{
    static const char *const seps[] = {" and ", " & ", " or "};

    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < 3; k++) {
            size_t l = strlen(seps[k]);
            if (i + l <= n && !strncasecmp(s + i, seps[k], l)) {
                *sep = l;
                return i;
            }
        }
    }
    *sep = 0;
    return n;
}

size_t mock_weather_cities(const char *text, char cities[][MOCK_CITY_MAX], size_t max)
{
    const char *p = text, *hit;
    size_t count = 0;

    while (!count && (hit = strcasestr(p, " in "))) {
        const char *seg = hit + 4, *next;
        size_t n;
        bool unit = false;

        p = seg;
        while (*seg == ' ')
            seg++;
        for (size_t i = 0; i < sizeof(unit_words) / sizeof(unit_words[0]); i++)
            unit |= !strncasecmp(seg, unit_words[i], strlen(unit_words[i]));
        if (unit)
            continue;          /* "in fahrenheit" names a unit, not a place */
        n = strcspn(seg, ".,?!;:()[]\"\n");
        next = strcasestr(seg, " in ");
        if (next && (size_t)(next - seg) < n)
            n = (size_t)(next - seg);
        trim_span(&seg, &n);
        trim_fillers(seg, &n);
        /* "Paris and London" asks about two places: one tool call each. */
        while (n && count < max) {
            size_t sep, at = next_sep(seg, n, &sep);
            const char *city = seg;
            size_t cl = at;

            trim_span(&city, &cl);
            if (cl) {
                if (cl >= MOCK_CITY_MAX)
                    cl = MOCK_CITY_MAX - 1;
                memcpy(cities[count], city, cl);
                cities[count++][cl] = '\0';
            }
            if (at == n)
                break;
            seg += at + sep;
            n -= at + sep;
        }
    }
    if (!count && max) {
        snprintf(cities[0], MOCK_CITY_MAX, "%s", DEFAULT_CITY);
        count = 1;
    }
    return count;
}

/* Cut 'args' into about four pieces, never inside a UTF-8 sequence (at least three for any
 * argument string of three bytes or more). */
static void split_args(struct mock_tool_call *call)
{
    size_t len = strlen(call->arguments), step = (len + 3) / 4, at = 0;

    if (!step)
        step = 1;
    call->frag[0] = 0;
    call->n_frags = 0;
    while (at < len && call->n_frags < MOCK_MAX_FRAGS - 1) {
        at += step;
        while (at < len && ((unsigned char)call->arguments[at] & 0xC0) == 0x80)
            at++;
        if (at > len)
            at = len;
        call->frag[++call->n_frags] = at;
    }
    if (at < len)
        call->frag[++call->n_frags] = len;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

int mock_weather_calls(const struct mock_convo *c, struct mock_reply *r)
{
    char cities[MOCK_MAX_TOOL_CALLS][MOCK_CITY_MAX];
    const char *unit = strcasestr(c->last_user, "fahrenheit") ? "fahrenheit" : "celsius";
    size_t n = mock_weather_cities(c->last_user, cities, MOCK_MAX_TOOL_CALLS);

    for (size_t i = 0; i < n; i++) {
        struct mock_tool_call *call = &r->calls[i];
        json_t *args = json_pack("{s:s, s:s}", "location", cities[i], "unit", unit);

        /* Not compact: ", " and ": " separators, as OpenAI models write arguments. */
        call->arguments = args ? json_dumps(args, JSON_PRESERVE_ORDER) : NULL;
        json_decref(args);
        if (!call->arguments)
            return SH_ENOMEM;
        r->n_calls = i + 1;
        snprintf(call->id, sizeof(call->id), "call_%016" PRIx64, mix(r->fingerprint + i + 1));
        snprintf(call->name, sizeof(call->name), "get_weather");
        split_args(call);
        r->completion_tokens += (unsigned)(strlen(call->arguments) + 3) / 4 + 5;
    }
    return SH_OK;
}

/* Print a scalar JSON value plainly (strings unquoted, 18.0 as 18). */
static int put_value(struct mock_buf *out, const json_t *v)
{
    char *s;
    int rc;

    if (json_is_string(v))
        return mock_buf_puts(out, json_string_value(v));
    if (json_is_integer(v))
        return mock_buf_printf(out, "%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return mock_buf_printf(out, "%g", json_real_value(v));
    if (!(s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY)))
        return SH_ENOMEM;
    rc = mock_buf_puts(out, s);
    free(s);
    return rc;
}

/* First of 'keys' present in 'obj'; *which gets its name. */
static const json_t *pick(const json_t *obj, const char *const *keys, const char **which)
{
    for (; *keys; keys++) {
        const json_t *v = json_object_get(obj, *keys);
        if (v && !json_is_null(v) && !json_is_object(v) && !json_is_array(v)) {
            *which = *keys;
            return v;
        }
    }
    return NULL;
}

static const char *unit_symbol(const char *unit, const char *temp_key)
{
    if (unit && (!strcasecmp(unit, "fahrenheit") || !strcasecmp(unit, "f") ||
                 !strcasecmp(unit, "imperial") || !strcasecmp(unit, "°f")))
        return "°F";
    if (unit && (!strcasecmp(unit, "kelvin") || !strcasecmp(unit, "k")))
        return " K";
    if (!unit && temp_key && strstr(temp_key, "_f"))
        return "°F";
    if (!unit || !strcasecmp(unit, "celsius") || !strcasecmp(unit, "c") ||
        !strcasecmp(unit, "metric") || !strcasecmp(unit, "°c"))
        return "°C";
    return NULL;               /* unknown unit: printed as given */
}

static const char *const loc_keys[] = {"location", "city", "name", "place", NULL};
static const char *const temp_keys[] = {"temperature", "temp", "temperature_c", "temp_c",
                                        "temperature_f", "temp_f", NULL};
static const char *const unit_keys[] = {"unit", "units", NULL};
static const char *const cond_keys[] = {"condition", "conditions", "description", "summary",
                                        "weather", "forecast", NULL};

/* ", humidity 60%, wind: 12 km/h" for every field not used in the main clause. */
static int put_extras(struct mock_buf *out, const json_t *res, const char *const *used, size_t n_used)
{
    const char *key;
    const json_t *v;
    bool first = true;

    v = json_object_get(res, "humidity");
    if (v && !json_is_null(v)) {
        if (mock_buf_puts(out, "humidity ") || put_value(out, v) ||
            (json_is_number(v) && mock_buf_puts(out, "%")))
            return SH_ENOMEM;
        first = false;
    }
    json_object_foreach((json_t *)res, key, v) {
        bool skip = !strcmp(key, "humidity") || json_is_null(v);
        for (size_t i = 0; i < n_used && !skip; i++)
            skip = used[i] && !strcmp(key, used[i]);
        if (skip)
            continue;
        if ((!first && mock_buf_puts(out, ", ")) || mock_buf_printf(out, "%s: ", key) ||
            put_value(out, v))
            return SH_ENOMEM;
        first = false;
    }
    return SH_OK;
}

/* One sentence about one tool result; 'args' is the matching call's arguments (may be NULL). */
static int describe(struct mock_buf *out, const char *tool, const json_t *args, const char *content)
{
    json_t *res = json_loads(content, JSON_DECODE_ANY, NULL);
    const char *used[4] = {NULL, NULL, NULL, NULL};
    const json_t *loc, *temp, *unit, *cond;
    const char *where, *sym, *unit_s;
    size_t mark;
    int rc = SH_ENOMEM;

    if (!json_is_object(res)) {
        if (!res) {
            rc = mock_buf_printf(out, "The %s tool returned: \"%.200s\".", tool, content);
            goto out;
        }
        if (mock_buf_printf(out, "The %s tool returned: ", tool) || put_value(out, res))
            goto out;
        rc = mock_buf_puts(out, ".");
        goto out;
    }
    loc = pick(res, loc_keys, &used[0]);
    temp = pick(res, temp_keys, &used[1]);
    unit = pick(res, unit_keys, &used[2]);
    cond = pick(res, cond_keys, &used[3]);
    where = json_string_value(loc);
    if (!where)
        where = json_string_value(json_object_get(args, "location"));
    if (!where)
        where = "the requested location";
    if (!temp && !cond && strcmp(tool, "get_weather") && !loc) {
        if (mock_buf_printf(out, "The %s tool returned: ", tool) ||
            put_extras(out, res, used, 4) || mock_buf_puts(out, "."))
            goto out;
        rc = SH_OK;
        goto out;
    }
    if (mock_buf_printf(out, "The weather in %s", where))
        goto out;
    if (!temp && !cond) {
        mark = mock_buf_size(out);
        if (mock_buf_puts(out, ": ") || put_extras(out, res, used, 4))
            goto out;
        if (mock_buf_size(out) == mark + 2) {
            mock_buf_truncate(out, mark);
            if (mock_buf_puts(out, " is unknown"))
                goto out;
        }
        rc = mock_buf_puts(out, ".");
        goto out;
    }
    if (mock_buf_puts(out, " is"))
        goto out;
    if (temp) {
        unit_s = unit ? json_string_value(unit) : json_string_value(json_object_get(args, "unit"));
        sym = unit_symbol(unit_s, used[1]);
        if (mock_buf_puts(out, " ") || put_value(out, temp) ||
            (sym ? mock_buf_puts(out, sym) : mock_buf_printf(out, " %s", unit_s)))
            goto out;
    }
    if (temp && cond && mock_buf_puts(out, " and"))
        goto out;
    if (cond && (mock_buf_puts(out, " ") || put_value(out, cond)))
        goto out;
    mark = mock_buf_size(out);
    if (mock_buf_puts(out, " (") || put_extras(out, res, used, 4))
        goto out;
    if (mock_buf_size(out) == mark + 2)
        mock_buf_truncate(out, mark);   /* nothing extra to say */
    else if (mock_buf_puts(out, ")"))
        goto out;
    rc = mock_buf_puts(out, ".");
out:
    json_decref(res);
    return rc;
}

/* The assistant call that 'tool_msg' answers, found by tool_call_id in 'assistant'. */
static const json_t *find_call(const json_t *assistant, const json_t *tool_msg)
{
    const char *id = json_string_value(json_object_get(tool_msg, "tool_call_id"));
    const json_t *call;
    size_t i;

    if (!id)
        return NULL;
    json_array_foreach(json_object_get(assistant, "tool_calls"), i, call) {
        const char *cid = json_string_value(json_object_get(call, "id"));
        if (cid && !strcmp(cid, id))
            return call;
    }
    return NULL;
}

int mock_weather_answer(const struct mock_convo *c, struct mock_buf *out)
{
    size_t first = c->n_messages, i;
    const json_t *assistant = NULL;
    int rc = SH_OK;

    /* Answer every tool result of the latest round: the trailing run of "tool" messages. */
    while (first > 0) {
        const json_t *m = json_array_get(c->messages, first - 1);
        if (strcmp(json_string_value(json_object_get(m, "role")), "tool"))
            break;
        first--;
    }
    if (first > 0)
        assistant = json_array_get(c->messages, first - 1);
    for (i = first; i < c->n_messages && !rc; i++) {
        const json_t *m = json_array_get(c->messages, i);
        const json_t *call = find_call(assistant, m);
        const json_t *fn = json_object_get(call, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        const char *argstr = json_string_value(json_object_get(fn, "arguments"));
        json_t *args = argstr ? json_loads(argstr, 0, NULL) : NULL;
        char *text = mock_msg_text(m);

        if (!name)
            name = json_string_value(json_object_get(m, "name"));
        if (!text)
            rc = SH_ENOMEM;
        else if (i > first && mock_buf_puts(out, " "))
            rc = SH_ENOMEM;
        else
            rc = describe(out, name ? name : "get_weather", args, text);
        free(text);
        json_decref(args);
    }
    return rc;
}
