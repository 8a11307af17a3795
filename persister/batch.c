/* Batch building for the persister: message values -> rows -> array parameters. No I/O. */
#include "batch.h"
#include "sh_err.h"
#include "sh_map.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing string. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static int sb_reserve(struct sbuf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return SH_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return SH_ENOMEM;
    b->p = p;
    b->cap = cap;
    return SH_OK;
}

static int sb_putc(struct sbuf *b, char c)
{
    if (sb_reserve(b, 1))
        return SH_ENOMEM;
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
    return SH_OK;
}

static int sb_puts(struct sbuf *b, const char *s)
{
    size_t n = strlen(s);

    if (sb_reserve(b, n))
        return SH_ENOMEM;
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
    return SH_OK;
}

/* Append one array element: NULL bare, anything else quoted with " and \ escaped. */
static int sb_element(struct sbuf *b, const char *s, bool first)
{
    if (!first && sb_putc(b, ','))
        return SH_ENOMEM;
    if (!s)
        return sb_puts(b, "NULL");
    if (sb_reserve(b, strlen(s) * 2 + 2))
        return SH_ENOMEM;
    b->p[b->len++] = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            b->p[b->len++] = '\\';
        b->p[b->len++] = *s;
    }
    b->p[b->len++] = '"';
    b->p[b->len] = '\0';
    return SH_OK;
}

int pst_array_literal(const char *const *items, size_t n, char **out)
{
    struct sbuf b = {0};

    *out = NULL;
    if (sb_putc(&b, '{'))
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (sb_element(&b, items[i], i == 0))
            goto fail;
    if (sb_putc(&b, '}'))
        goto fail;
    *out = b.p;
    return SH_OK;
fail:
    free(b.p);
    return SH_ENOMEM;
}

void pst_row_poison(struct pst_row *row, const char *fmt, ...)
{
    va_list ap;

    row->state = PST_ROW_POISON;
    va_start(ap, fmt);
    vsnprintf(row->why, sizeof(row->why), fmt, ap);
    va_end(ap);
}

void pst_row_free(struct pst_row *row)
{
    if (!row)
        return;
    free(row->content);
    free(row->meta);
    memset(row, 0, sizeof(*row));
}

/* Types whose payload.content is stored as plain text. */
static bool is_text_type(const char *type)
{
    return !strcmp(type, "user_message") || !strcmp(type, "ai_response");
}

/* content = payload.content as text, meta = the rest of the payload (NULL when empty). */
static int fill_text(struct pst_row *row, json_t *payload)
{
    json_t *c = json_object_get(payload, "content");
    json_t *rest = NULL;
    int rc = SH_ENOMEM;

    if (c && !json_is_null(c)) {
        if (!json_is_string(c)) {
            pst_row_poison(row, "payload.content of %s is not a string", row->type);
            return SH_EINVAL;
        }
        /* Text parameters end at the first NUL: refuse rather than store a cut text. */
        if (strlen(json_string_value(c)) != json_string_length(c)) {
            pst_row_poison(row, "payload.content of %s contains a NUL character", row->type);
            return SH_EINVAL;
        }
        if (!(row->content = strdup(json_string_value(c))))
            return SH_ENOMEM;
    }
    if (!(rest = json_copy(payload)))
        return SH_ENOMEM;
    json_object_del(rest, "content");
    if (json_object_size(rest) > 0 && !(row->meta = json_dumps(rest, JSON_COMPACT)))
        goto out;
    rc = SH_OK;
out:
    json_decref(rest);
    return rc;
}

static int64_t int_member(json_t *o, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(o, key);

    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

int pst_row_decode(const void *buf, size_t len, struct pst_row *row)
{
    struct sh_env e;
    int rc;

    memset(row, 0, sizeof(*row));
    row->start_ts_ms = -1;
    if (!buf) {
        pst_row_poison(row, "empty message (no value)");
        return SH_EINVAL;
    }
    rc = sh_env_decode(buf, len, &e);
    if (rc == SH_ENOMEM)
        return rc;
    if (rc) {
        pst_row_poison(row, "%s", rc == SH_EINVAL ? "malformed envelope: not valid JSON"
                       : "malformed envelope: a required field is missing or invalid");
        return SH_EINVAL;
    }
    memcpy(row->session_id, e.session_id, sizeof(row->session_id));
    memcpy(row->user_id, e.user_id, sizeof(row->user_id));
    memcpy(row->type, e.type, sizeof(row->type));
    row->ts_ms = e.ts_ms;
    if (!sh_uuid_valid(e.id)) {
        pst_row_poison(row, "envelope id \"%.40s\" is not a UUID", e.id);
        rc = SH_EINVAL;
        goto out;
    }
    memcpy(row->key, e.id, sizeof(row->key));
    if (e.turn_id[0] && !sh_uuid_valid(e.turn_id)) {
        pst_row_poison(row, "turn_id \"%.40s\" is not a UUID", e.turn_id);
        rc = SH_EINVAL;
        goto out;
    }
    memcpy(row->turn_id, e.turn_id, sizeof(row->turn_id));
    if (is_text_type(e.type)) {
        rc = fill_text(row, e.payload);
    } else {
        row->content = json_dumps(e.payload, JSON_COMPACT);
        rc = row->content ? SH_OK : SH_ENOMEM;
    }
    if (rc)
        goto out;
    if (!strcmp(e.type, "session_end")) {
        row->is_end = true;
        row->end_ts_ms = int_member(e.payload, "end_ts", e.ts_ms);
        row->start_ts_ms = int_member(e.payload, "start_ts", -1);
    }
    row->state = PST_ROW_OK;
out:
    sh_env_free(&e);
    return rc;
}

int pst_rows_dedupe(struct pst_row *const *rows, size_t n)
{
    struct sh_map *seen = sh_map_create();
    int marked = 0;

    if (!seen)
        return SH_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (rows[i]->state != PST_ROW_OK)
            continue;
        if (sh_map_get(seen, rows[i]->key)) {
            rows[i]->state = PST_ROW_DUP;
            marked++;
        } else if (sh_map_set(seen, rows[i]->key, rows[i])) {
            marked = SH_ENOMEM;
            break;
        }
    }
    sh_map_destroy(seen);
    return marked;
}

void pst_params_free(struct pst_params *p)
{
    if (!p)
        return;
    free(p->s_ids);
    free(p->s_users);
    free(p->s_ts);
    free(p->e_keys);
    free(p->e_sessions);
    free(p->e_turns);
    free(p->e_ts);
    free(p->e_types);
    free(p->e_contents);
    free(p->e_metas);
    memset(p, 0, sizeof(*p));
}

/* One distinct session of the batch. */
struct sess {
    const char *id;
    const char *user;
    int64_t ts;
};

static int cmp_sess(const void *a, const void *b)
{
    return strcmp(((const struct sess *)a)->id, ((const struct sess *)b)->id);
}

/* The session arrays: each session once, with its first user id and earliest ts, except
 * the sessions 'known' has stored with a start no later than that. */
static int build_sessions(struct pst_row *const *rows, size_t n, const struct sh_map *known,
                          struct pst_params *p)
{
    struct sh_map *idx = sh_map_create();
    struct sess *s = calloc(n ? n : 1, sizeof(*s));
    const char **ids = calloc(n ? n : 1, sizeof(char *));
    const char **users = calloc(n ? n : 1, sizeof(char *));
    char (*ts)[24] = calloc(n ? n : 1, sizeof(*ts));
    const char **tsp = calloc(n ? n : 1, sizeof(char *));
    size_t ns = 0;
    int rc = SH_ENOMEM;

    if (!idx || !s || !ids || !users || !ts || !tsp)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct pst_row *r = rows[i];
        uintptr_t at;

        if (r->state != PST_ROW_OK)
            continue;
        at = (uintptr_t)sh_map_get(idx, r->session_id);
        if (at) {
            if (r->ts_ms < s[at - 1].ts)
                s[at - 1].ts = r->ts_ms;
            continue;
        }
        s[ns] = (struct sess){r->session_id, r->user_id, r->ts_ms};
        if (sh_map_set(idx, r->session_id, (void *)(uintptr_t)(++ns)))
            goto out;
    }
    if (known) {
        size_t kept = 0;
        for (size_t i = 0; i < ns; i++) {
            int64_t start = (int64_t)(uintptr_t)sh_map_get(known, s[i].id);
            if (start <= 0 || start > s[i].ts)
                s[kept++] = s[i];
        }
        ns = kept;
    }
    qsort(s, ns, sizeof(*s), cmp_sess);
    for (size_t i = 0; i < ns; i++) {
        ids[i] = s[i].id;
        users[i] = s[i].user;
        snprintf(ts[i], sizeof(ts[i]), "%" PRId64, s[i].ts);
        tsp[i] = ts[i];
    }
    if (pst_array_literal(ids, ns, &p->s_ids) || pst_array_literal(users, ns, &p->s_users) ||
        pst_array_literal(tsp, ns, &p->s_ts))
        goto out;
    p->n_sessions = ns;
    rc = SH_OK;
out:
    sh_map_destroy(idx);
    free(s);
    free(ids);
    free(users);
    free(ts);
    free(tsp);
    return rc;
}

/* The event arrays, in batch order. */
static int build_events(struct pst_row *const *rows, size_t n, struct pst_params *p)
{
    const char **col[7];
    char (*ts)[24] = calloc(n ? n : 1, sizeof(*ts));
    char **outs[7] = {&p->e_keys, &p->e_sessions, &p->e_turns, &p->e_ts, &p->e_types,
                      &p->e_contents, &p->e_metas};
    size_t ne = 0;
    int rc = SH_ENOMEM;

    for (int c = 0; c < 7; c++)
        col[c] = calloc(n ? n : 1, sizeof(char *));
    for (int c = 0; c < 7; c++)
        if (!col[c])
            goto out;
    if (!ts)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct pst_row *r = rows[i];

        if (r->state != PST_ROW_OK)
            continue;
        snprintf(ts[ne], sizeof(ts[ne]), "%" PRId64, r->ts_ms);
        col[0][ne] = r->key;
        col[1][ne] = r->session_id;
        col[2][ne] = r->turn_id[0] ? r->turn_id : NULL;
        col[3][ne] = ts[ne];
        col[4][ne] = r->type;
        col[5][ne] = r->content;
        col[6][ne] = r->meta;
        ne++;
    }
    for (int c = 0; c < 7; c++)
        if (pst_array_literal(col[c], ne, outs[c]))
            goto out;
    p->n_events = ne;
    rc = SH_OK;
out:
    for (int c = 0; c < 7; c++)
        free(col[c]);
    free(ts);
    return rc;
}

int pst_params_build(struct pst_row *const *rows, size_t n, const struct sh_map *known,
                     struct pst_params *p)
{
    memset(p, 0, sizeof(*p));
    if (build_sessions(rows, n, known, p) || build_events(rows, n, p)) {
        pst_params_free(p);
        return SH_ENOMEM;
    }
    return SH_OK;
}
