/* Fault injection: spec parsing, [[fault:SPEC]] markers, seeded random draws, once-per-conversation memory. */
#ifndef MOCK_FAULTS_H
#define MOCK_FAULTS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mock_fault {
    MOCK_FAULT_NONE = 0,
    MOCK_FAULT_429,        /* 429 rate_limit_exceeded with retry-after: 1 */
    MOCK_FAULT_429_ONCE,   /* 429 the first time a conversation is seen, then success */
    MOCK_FAULT_500,        /* 500 server_error */
    MOCK_FAULT_500_ONCE,
    MOCK_FAULT_QUOTA,      /* 429 insufficient_quota (not retryable) */
    MOCK_FAULT_CUT,        /* a few tokens, then the connection is closed mid-answer */
    MOCK_FAULT_SLOW,       /* time to first token 3000 ms */
    MOCK_FAULT_HANG,       /* never answer; the request is dropped when the client leaves */
};

#define MOCK_FAULT_MAX_RULES 16
#define MOCK_FAULT_BUCKETS 256   /* once-memory: buckets x slots fingerprints, FIFO per bucket */
#define MOCK_FAULT_SLOTS 16

struct mock_fault_rule {
    enum mock_fault kind;
    double prob;           /* 0..1; the rules' sum is at most 1 */
};

/* Process-wide fault state; embedded, init with mock_faults_init(). */
struct mock_faults {
    struct mock_fault_rule rules[MOCK_FAULT_MAX_RULES];
    size_t n_rules;
    uint64_t rng;          /* xorshift64* state */
    uint64_t seen[MOCK_FAULT_BUCKETS][MOCK_FAULT_SLOTS];
    uint8_t seen_next[MOCK_FAULT_BUCKETS];
};

/* Fault named by s[0, n) ("429", "429once", "500", "500once", "quota", "cut", "slow", "hang",
 * "none"; case-insensitive). Returns 0 and sets *out, or SH_EINVAL. */
int mock_fault_parse(const char *s, size_t n, enum mock_fault *out);
/* Canonical name of 'f' ("none" for MOCK_FAULT_NONE). */
const char *mock_fault_name(enum mock_fault f);

/* Parse a MOCK_LLM_FAULTS spec into 'f' and seed its generator. The spec is empty/"none", or a
 * comma list of NAME or NAME:PROB ("429:0.1,500:0.05,cut:0.02"); a NAME without PROB means
 * always. Returns 0, or SH_EINVAL with a one-line reason in 'err'. */
int mock_faults_init(struct mock_faults *f, const char *spec, uint64_t seed, char *err,
                     size_t errlen);

/* Draw the configured fault for one request (MOCK_FAULT_NONE most of the time). */
enum mock_fault mock_faults_draw(struct mock_faults *f);

/* Turn a *_ONCE fault into its plain form the first time 'fingerprint' is seen with it, and
 * into MOCK_FAULT_NONE afterwards (remembered in a bounded set); other faults pass through. */
enum mock_fault mock_faults_once(struct mock_faults *f, enum mock_fault kind, uint64_t fingerprint);

/* Find the first "[[fault:SPEC]]" marker in the NUL-terminated 'text'. Returns 1 with
 * *start and *end (marker bytes [start, end)) and *out set, 0 when there is none, or SH_EINVAL
 * when a marker names an unknown fault (*start and *end still set). */
int mock_fault_marker(const char *text, size_t *start, size_t *end, enum mock_fault *out);

/* Copy of 'text' with every [[fault:...]] marker removed and the ends trimmed; caller frees.
 * NULL on allocation failure. */
char *mock_fault_strip(const char *text);

#endif
