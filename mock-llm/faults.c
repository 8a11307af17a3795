/* Fault injection: spec parsing, [[fault:SPEC]] markers, seeded random draws, once-per-conversation memory. */
#include "faults.h"
#include "sh_err.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const names[] = {
    [MOCK_FAULT_NONE] = "none",       [MOCK_FAULT_429] = "429",
    [MOCK_FAULT_429_ONCE] = "429once", [MOCK_FAULT_500] = "500",
    [MOCK_FAULT_500_ONCE] = "500once", [MOCK_FAULT_QUOTA] = "quota",
    [MOCK_FAULT_CUT] = "cut",         [MOCK_FAULT_SLOW] = "slow",
    [MOCK_FAULT_HANG] = "hang",
};

#define MARKER "[[fault:"
#define MARKER_LEN 8

int mock_fault_parse(const char *s, size_t n, enum mock_fault *out)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i]) == n && !strncasecmp(s, names[i], n)) {
            *out = (enum mock_fault)i;
            return SH_OK;
        }
    }
    return SH_EINVAL;
}

const char *mock_fault_name(enum mock_fault f)
{
    if ((size_t)f >= sizeof(names) / sizeof(names[0]))
        return "?";
    return names[f];
}

/* One "NAME" or "NAME:PROB" item of s[0, n). */
static int parse_rule(const char *s, size_t n, struct mock_fault_rule *r, char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    char num[32], *end;
    size_t nl = colon ? (size_t)(colon - s) : n;

    if (mock_fault_parse(s, nl, &r->kind)) {
        snprintf(err, errlen, "MOCK_LLM_FAULTS: unknown fault \"%.*s\" (expected 429, 429once, "
                 "500, 500once, quota, cut, slow, hang or none)", (int)nl, s);
        return SH_EINVAL;
    }
    r->prob = 1.0;
    if (!colon)
        return SH_OK;
    if (n - nl - 1 >= sizeof(num) || n - nl - 1 == 0) {
        snprintf(err, errlen, "MOCK_LLM_FAULTS: bad probability in \"%.*s\"", (int)n, s);
        return SH_EINVAL;
    }
    memcpy(num, colon + 1, n - nl - 1);
    num[n - nl - 1] = '\0';
    errno = 0;
    r->prob = strtod(num, &end);
    while (*end == ' ')
        end++;
    if (errno || end == num || *end || !isfinite(r->prob) || r->prob < 0 || r->prob > 1) {
        snprintf(err, errlen, "MOCK_LLM_FAULTS: probability \"%s\" must be a number in [0, 1]", num);
        return SH_EINVAL;
    }
    return SH_OK;
}

int mock_faults_init(struct mock_faults *f, const char *spec, uint64_t seed, char *err,
                     size_t errlen)
{
    const char *p = spec ? spec : "";
    double sum = 0;

    memset(f, 0, sizeof(*f));
    /* xorshift must not start at 0; mix the seed so that 1, 2, 3 give unrelated streams. */
    f->rng = (seed + 1) * 0x9E3779B97F4A7C15ULL;
    if (!f->rng)
        f->rng = 0x9E3779B97F4A7C15ULL;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        struct mock_fault_rule r;

        if (n && strspn(p, " \t") < n) {
            if (parse_rule(p, n, &r, err, errlen))
                return SH_EINVAL;
            if (r.kind != MOCK_FAULT_NONE && r.prob > 0) {
                if (f->n_rules == MOCK_FAULT_MAX_RULES) {
                    snprintf(err, errlen, "MOCK_LLM_FAULTS: more than %d rules", MOCK_FAULT_MAX_RULES);
                    return SH_EINVAL;
                }
                f->rules[f->n_rules++] = r;
                sum += r.prob;
            }
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (sum > 1.0 + 1e-9) {
        snprintf(err, errlen, "MOCK_LLM_FAULTS: probabilities add up to %.3f, more than 1", sum);
        return SH_EINVAL;
    }
    return SH_OK;
}

static uint64_t next_rand(struct mock_faults *f)
{
    uint64_t x = f->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    f->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

enum mock_fault mock_faults_draw(struct mock_faults *f)
{
    double u, acc = 0;

    if (!f->n_rules)
        return MOCK_FAULT_NONE;
    u = (double)(next_rand(f) >> 11) / (double)(1ULL << 53);
    for (size_t i = 0; i < f->n_rules; i++) {
        acc += f->rules[i].prob;
        if (u < acc)
            return f->rules[i].kind;
    }
    return MOCK_FAULT_NONE;
}

enum mock_fault mock_faults_once(struct mock_faults *f, enum mock_fault kind, uint64_t fingerprint)
{
    enum mock_fault plain;
    uint64_t key;
    size_t b;

    if (kind == MOCK_FAULT_429_ONCE)
        plain = MOCK_FAULT_429;
    else if (kind == MOCK_FAULT_500_ONCE)
        plain = MOCK_FAULT_500;
    else
        return kind;
    /* 429once and 500once on the same conversation are remembered separately. */
    key = fingerprint ^ ((uint64_t)kind * 0xff51afd7ed558ccdULL);
    if (!key)
        key = 1;               /* 0 marks an empty slot */
    b = (size_t)(key >> 56) % MOCK_FAULT_BUCKETS;
    for (size_t i = 0; i < MOCK_FAULT_SLOTS; i++)
        if (f->seen[b][i] == key)
            return MOCK_FAULT_NONE;
    f->seen[b][f->seen_next[b]] = key;
    f->seen_next[b] = (uint8_t)((f->seen_next[b] + 1) % MOCK_FAULT_SLOTS);
    return plain;
}

static const char *find_marker(const char *text)
{
    for (const char *p = text; (p = strchr(p, '[')); p++)
        if (!strncasecmp(p, MARKER, MARKER_LEN))
            return p;
    return NULL;
}

int mock_fault_marker(const char *text, size_t *start, size_t *end, enum mock_fault *out)
{
    const char *m = find_marker(text), *close;

    if (!m || !(close = strstr(m + MARKER_LEN, "]]")))
        return 0;
    *start = (size_t)(m - text);
    *end = (size_t)(close + 2 - text);
    if (mock_fault_parse(m + MARKER_LEN, (size_t)(close - m - MARKER_LEN), out))
        return SH_EINVAL;
    return 1;
}

char *mock_fault_strip(const char *text)
{
    size_t n = strlen(text), o = 0;
    char *out = malloc(n + 1);
    const char *p = text, *m, *close;

    if (!out)
        return NULL;
    while ((m = find_marker(p)) && (close = strstr(m + MARKER_LEN, "]]"))) {
        memcpy(out + o, p, (size_t)(m - p));
        o += (size_t)(m - p);
        p = close + 2;
        if (o && out[o - 1] == ' ' && *p == ' ')
            p++;               /* "a [[fault:x]] b" reads "a b", not "a  b" */
    }
    memcpy(out + o, p, strlen(p));
    o += strlen(p);
    while (o && strchr(" \t\r\n", out[o - 1]))
        o--;
    out[o] = '\0';
    n = strspn(out, " \t\r\n");
    memmove(out, out + n, o - n + 1);
    return out;
}
