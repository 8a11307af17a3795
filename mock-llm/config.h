/* mock-llm settings: one table (env var, flag, default, range), environment first, flags override. */
#ifndef MOCK_CONFIG_H
#define MOCK_CONFIG_H
#include <stddef.h>
#include <stdint.h>

/* Embedded: filled by mock_config_load(), released with mock_config_free(). */
struct mock_config {
    char *host;                /* MOCK_LLM_HOST, bind address */
    int64_t port;              /* MOCK_LLM_PORT, 0 = ephemeral */
    int64_t tokens_per_sec;    /* MOCK_LLM_TOKENS_PER_SEC, 0 = as fast as possible */
    int64_t ttft_ms;           /* MOCK_LLM_TTFT_MS */
    char *faults;              /* MOCK_LLM_FAULTS, e.g. "429:0.1,500:0.05,cut:0.02" */
    int64_t seed;              /* MOCK_LLM_SEED for the fault draws */
    int64_t max_conns;         /* MOCK_LLM_MAX_CONNS */
    int64_t idle_ms;           /* MOCK_LLM_IDLE_MS, idle keep-alive connections are closed */
    int64_t drain_ms;          /* MOCK_LLM_DRAIN_MS, shutdown grace for answers in flight */
};

/* Load defaults, then MOCK_LLM_* variables, then --name=value flags, checking every value
 * (the fault spec too). Returns 0, 1 when --help was printed (exit 0), or SH_EINVAL with a
 * one-line reason in 'err'. Free with mock_config_free() in every case. */
int mock_config_load(struct mock_config *cfg, int argc, char **argv, char *err, size_t errlen);
/* Release the strings; NULL-safe, may be called twice. */
void mock_config_free(struct mock_config *cfg);

#endif
