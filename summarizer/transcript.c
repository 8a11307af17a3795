/* From event_log rows to the summary request and from the answer to the stored summary. */
#include "transcript.h"
#include "sh_err.h"
#include "sh_oai_request.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOOL_LINE_MAX 600        /* tool results are data: a glimpse is enough */
#define ELLIPSIS "\xe2\x80\xa6"  /* U+2026 */

size_t sum_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    /* Step back over continuation bytes (10xxxxxx) to the start of a character. */
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

/* "prefix" + body (cut to 'cap' bytes with an ellipsis), malloc'd. */
static char *join(const char *prefix, const char *body, size_t cap)
{
    size_t pl = strlen(prefix), bl = body ? strlen(body) : 0, keep = sum_utf8_cut(body, bl, cap);
    char *s = malloc(pl + keep + sizeof(ELLIPSIS));

    if (!s)
        return NULL;
    memcpy(s, prefix, pl);
    if (keep)
        memcpy(s + pl, body, keep);
    s[pl + keep] = '\0';
    if (keep < bl)
        memcpy(s + pl + keep, ELLIPSIS, sizeof(ELLIPSIS));
    return s;
}

/* A JSON member as text: strings as they are, anything else compact JSON. malloc'd. */
static char *member_text(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    if (!v)
        return strdup("");
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static bool meta_flag(const char *meta, const char *key)
{
    json_t *m = meta ? json_loads(meta, 0, NULL) : NULL;
    bool v = json_is_true(json_object_get(m, key));

    json_decref(m);
    return v;
}

/* tool_call / tool_result content is the event payload as JSON. */
static char *tool_line(const struct sum_row *r, bool call, size_t cap)
{
    json_t *o = r->content ? json_loads(r->content, 0, NULL) : NULL;
    char *name = NULL, *body = NULL, *out = NULL, prefix[160];

    if (!json_is_object(o)) {
        out = join(call ? "Tool call: " : "Tool result: ", r->content, cap);
        goto out;
    }
    name = member_text(o, "name");
    body = member_text(o, call ? "arguments" : "content");
    if (!name || !body)
        goto out;
    if (call) {
        snprintf(prefix, sizeof(prefix), "Tool call: %.100s ", name);
    } else {
        snprintf(prefix, sizeof(prefix), "Tool result (%.100s): ", name);
    }
    out = join(prefix, body, cap < TOOL_LINE_MAX ? cap : TOOL_LINE_MAX);
out:
    free(name);
    free(body);
    json_decref(o);
    return out;
}

/* The line for one row, NULL for rows the transcript skips (and, rarely, no memory). */
static char *row_line(const struct sum_row *r, size_t cap, bool *is_user)
{
    *is_user = false;
    if (!r->type)
        return NULL;
    if (!strcmp(r->type, "user_message")) {
        *is_user = true;
        return join("User: ", r->content, cap);
    }
    if (!strcmp(r->type, "ai_response"))
        return join(meta_flag(r->meta, "interrupted") ? "Assistant (interrupted): "
                                                      : "Assistant: ",
                    r->content, cap);
    if (!strcmp(r->type, "tool_call"))
        return tool_line(r, true, cap);
    if (!strcmp(r->type, "tool_result"))
        return tool_line(r, false, cap);
    return NULL;
}

void sum_transcript_free(struct sum_transcript *t)
{
    if (!t)
        return;
    free(t->text);
    memset(t, 0, sizeof(*t));
}

/* Append 's' and a newline to t->text (capacity checked by the caller). */
static void put(struct sum_transcript *t, const char *s)
{
    size_t n = strlen(s);

    memcpy(t->text + t->len, s, n);
    t->len += n;
    t->text[t->len++] = '\n';
    t->text[t->len] = '\0';
    t->n_lines++;
}

int sum_transcript_build(const struct sum_row *rows, size_t n, size_t max_chars,
                         struct sum_transcript *t)
{
    char **lines = calloc(n ? n : 1, sizeof(char *));
    size_t nl = 0, total = 0, first_user = (size_t)-1, from, budget;
    /* One message may take a third of the budget, so that a few lines always fit. */
    size_t cap = max_chars / 3 > 80 ? max_chars / 3 : 80;
    char marker[80];
    int rc = SH_ENOMEM;

    memset(t, 0, sizeof(*t));
    if (!lines || !(t->text = malloc(max_chars + 2)))
        goto out;
    t->text[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        bool user;
        char *l = row_line(&rows[i], cap, &user);
        if (!l)
            continue;
        if (user && t->n_user++ == 0)
            first_user = nl;
        total += strlen(l) + 1;
        lines[nl++] = l;
    }
    if (total <= max_chars) {
        for (size_t i = 0; i < nl; i++)
            put(t, lines[i]);
        rc = SH_OK;
        goto out;
    }
    /* Too long: the first question, a marker, then as many of the latest lines as fit. */
    budget = max_chars - sizeof(marker);
    if (first_user != (size_t)-1 && strlen(lines[first_user]) + 1 <= budget)
        budget -= strlen(lines[first_user]) + 1;
    else
        first_user = (size_t)-1;
    for (from = nl; from > 0; from--) {
        size_t len = strlen(lines[from - 1]) + 1;
        if (from - 1 == first_user || len > budget)
            break;
        budget -= len;
    }
    if (first_user != (size_t)-1 && first_user < from)
        put(t, lines[first_user]);
    t->n_omitted = (int)(from - (first_user != (size_t)-1 && first_user < from ? 1 : 0));
    if (t->n_omitted > 0) {
        snprintf(marker, sizeof(marker), "[... %d earlier lines omitted ...]", t->n_omitted);
        put(t, marker);
        t->n_lines--;
    }
    for (size_t i = from; i < nl; i++)
        put(t, lines[i]);
    rc = SH_OK;
out:
    for (size_t i = 0; i < nl; i++)
        free(lines[i]);
    free(lines);
    if (rc)
        sum_transcript_free(t);
    return rc;
}

int sum_request_body(const char *model, const char *prompt, const struct sum_transcript *t,
                     int max_tokens, char **body)
{
    json_t *msgs = json_array();
    int rc = SH_ENOMEM;

    *body = NULL;
    if (!msgs ||
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system",
                                              "content", prompt ? prompt : "")) ||
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user",
                                              "content", t->text ? t->text : "")))
        goto out;
    struct sh_oai_request req = {
        .model = model,
        .messages = msgs,
        .stream = false,
        .max_tokens = max_tokens,
        .has_temperature = true,
        .temperature = 0.3,
    };
    rc = sh_oai_request_build(&req, body);
out:
    json_decref(msgs);
    return rc;
}

char *sum_summary_clean(const char *s, size_t len, size_t max_bytes)
{
    char *out = malloc(len + 1);
    size_t o = 0;
    bool space = false;

    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\0')
            break;
        if (isspace(c)) {
            space = o > 0;
            continue;
        }
        if (space)
            out[o++] = ' ';
        space = false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    if (o == 0) {
        free(out);
        return NULL;
    }
    out[sum_utf8_cut(out, o, max_bytes)] = '\0';
    return out;
}
