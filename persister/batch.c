/* Batch building for the persister: message values -> rows -> array parameters. No I/O. */
#include "batch.h"
#include "sh_err.h"
#include "sh_map.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing byte buffer. */
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
    for (int i = 0; i < PST_NPARAMS; i++)
        free(p->val[i]);
    memset(p, 0, sizeof(*p));
}

/* Binary array parameters (batch.h): the writer of one array. */
static int sb_put(struct sbuf *b, const void *data, size_t n)
{
    if (sb_reserve(b, n))
        return SH_ENOMEM;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return SH_OK;
}

static int sb_u32(struct sbuf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};

    return sb_put(b, x, sizeof(x));
}

static int sb_u64(struct sbuf *b, uint64_t v)
{
    return sb_u32(b, (uint32_t)(v >> 32)) || sb_u32(b, (uint32_t)v) ? SH_ENOMEM : SH_OK;
}

/* Header of a one-dimensional array of 'n' elements of type 'oid' (ndim 0 when empty).
 * The has-null flag (bytes 4..7) starts at 0; arr_null() sets it. */
static int arr_begin(struct sbuf *b, uint32_t oid, size_t n, size_t elem_bytes)
{
    if (sb_reserve(b, 20 + n * (4 + elem_bytes)))
        return SH_ENOMEM;
    if (sb_u32(b, n ? 1 : 0) || sb_u32(b, 0) || sb_u32(b, oid))
        return SH_ENOMEM;
    if (n && (sb_u32(b, (uint32_t)n) || sb_u32(b, 1)))
        return SH_ENOMEM;
    return SH_OK;
}

static int arr_null(struct sbuf *b)
{
    b->p[7] = 1;
    return sb_u32(b, UINT32_MAX);   /* length -1 */
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* A canonical UUID (validated when the row was decoded) as its 16 bytes; NULL when "". */
static int arr_uuid(struct sbuf *b, const char *s)
{
    unsigned char u[16];

    if (!s || !*s)
        return arr_null(b);
    for (int i = 0; i < 16; i++) {
        if (*s == '-')
            s++;
        u[i] = (unsigned char)(hexval(s[0]) << 4 | hexval(s[1]));
        s += 2;
    }
    return sb_u32(b, 16) || sb_put(b, u, 16) ? SH_ENOMEM : SH_OK;
}

static int arr_int8(struct sbuf *b, int64_t v)
{
    return sb_u32(b, 8) || sb_u64(b, (uint64_t)v) ? SH_ENOMEM : SH_OK;
}

static int arr_text(struct sbuf *b, const char *s)
{
    size_t n;

    if (!s)
        return arr_null(b);
    n = strlen(s);
    if (n > INT32_MAX)
        return SH_ENOMEM;
    return sb_u32(b, (uint32_t)n) || sb_put(b, s, n) ? SH_ENOMEM : SH_OK;
}

/* Hand the finished array 'b' over to parameter 'i' of 'p'. */
static int arr_end(struct sbuf *b, struct pst_params *p, int i)
{
    if (b->len > INT32_MAX) {
        free(b->p);
        *b = (struct sbuf){0};
        return SH_ENOMEM;
    }
    p->val[i] = b->p;
    p->len[i] = (int)b->len;
    *b = (struct sbuf){0};   /* now owned by 'p' */
    return SH_OK;
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
    struct sbuf ids = {0}, users = {0}, ts = {0};
    size_t ns = 0;
    int rc = SH_ENOMEM;

    if (!idx || !s)
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
    if (arr_begin(&ids, PST_OID_UUID, ns, 16) || arr_begin(&users, PST_OID_TEXT, ns, 8) ||
        arr_begin(&ts, PST_OID_INT8, ns, 8))
        goto out;
    for (size_t i = 0; i < ns; i++)
        if (arr_uuid(&ids, s[i].id) || arr_text(&users, s[i].user) || arr_int8(&ts, s[i].ts))
            goto out;
    if (arr_end(&ids, p, PST_S_IDS) || arr_end(&users, p, PST_S_USERS) ||
        arr_end(&ts, p, PST_S_TS))
        goto out;
    p->n_sessions = ns;
    rc = SH_OK;
out:
    sh_map_destroy(idx);
    free(s);
    free(ids.p);
    free(users.p);
    free(ts.p);
    return rc;
}

/* The event arrays, in batch order. */
static int build_events(struct pst_row *const *rows, size_t n, struct pst_params *p)
{
    static const uint32_t oids[7] = {PST_OID_UUID, PST_OID_UUID, PST_OID_UUID, PST_OID_INT8,
                                     PST_OID_TEXT, PST_OID_TEXT, PST_OID_TEXT};
    static const size_t guess[7] = {16, 16, 16, 8, 16, 64, 16};
    struct sbuf col[7] = {{0}};
    size_t ne = 0;
    int rc = SH_ENOMEM;

    for (size_t i = 0; i < n; i++)
        ne += rows[i]->state == PST_ROW_OK;
    for (int c = 0; c < 7; c++)
        if (arr_begin(&col[c], oids[c], ne, guess[c]))
            goto out;
    for (size_t i = 0; i < n; i++) {
        const struct pst_row *r = rows[i];

        if (r->state != PST_ROW_OK)
            continue;
        if (arr_uuid(&col[0], r->key) || arr_uuid(&col[1], r->session_id) ||
            arr_uuid(&col[2], r->turn_id) || arr_int8(&col[3], r->ts_ms) ||
            arr_text(&col[4], r->type) || arr_text(&col[5], r->content) ||
            arr_text(&col[6], r->meta))
            goto out;
    }
    for (int c = 0; c < 7; c++)
        if (arr_end(&col[c], p, PST_E_KEYS + c))
            goto out;
    p->n_events = ne;
    rc = SH_OK;
out:
    for (int c = 0; c < 7; c++)
        free(col[c].p);
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
