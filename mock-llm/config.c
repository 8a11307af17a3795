/* mock-llm settings: one table (env var, flag, default, range), environment first, flags override. */
#include "config.h"
#include "faults.h"
#include "sh_config.h"
#include "sh_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ITEMS 9

static void table(struct mock_config *c, struct sh_cfg_item *it)
{
    const struct sh_cfg_item items[N_ITEMS] = {
        {"host", "MOCK_LLM_HOST", SH_CFG_STR, "127.0.0.1", 0, -1, false,
         "address to bind (numeric or a resolvable name)", &c->host},
        {"port", "MOCK_LLM_PORT", SH_CFG_INT, "8090", 0, 65535, false,
         "TCP port; 0 picks a free one and prints it", &c->port},
        {"tokens-per-sec", "MOCK_LLM_TOKENS_PER_SEC", SH_CFG_INT, "50", 0, 1000000, false,
         "streaming pace after the first token; 0 = as fast as possible", &c->tokens_per_sec},
        {"ttft-ms", "MOCK_LLM_TTFT_MS", SH_CFG_INT, "150", 0, 600000, false,
         "delay before the first token", &c->ttft_ms},
        {"faults", "MOCK_LLM_FAULTS", SH_CFG_STR, "", 0, -1, false,
         "fault spec: NAME or NAME:PROB list, e.g. 429:0.1,500:0.05,cut:0.02", &c->faults},
        {"seed", "MOCK_LLM_SEED", SH_CFG_INT, "1", 0, INT64_MAX, false,
         "seed for the random fault draws", &c->seed},
        {"max-conns", "MOCK_LLM_MAX_CONNS", SH_CFG_INT, "20000", 1, 1000000, false,
         "open connections at most; more are refused with 503", &c->max_conns},
        {"idle-ms", "MOCK_LLM_IDLE_MS", SH_CFG_INT, "120000", 0, 86400000, false,
         "close keep-alive connections idle this long; 0 = never", &c->idle_ms},
        {"drain-ms", "MOCK_LLM_DRAIN_MS", SH_CFG_INT, "1000", 0, 600000, false,
         "on SIGTERM, let answers in flight finish for this long", &c->drain_ms},
    };
    memcpy(it, items, sizeof(items));
}

int mock_config_load(struct mock_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    struct sh_cfg_item items[N_ITEMS];
    struct mock_faults *probe = NULL;
    int rc;

    memset(cfg, 0, sizeof(*cfg));
    table(cfg, items);
    rc = sh_config_load(items, N_ITEMS, argc, argv, err, errlen);
    if (rc)
        return rc;
    if (!cfg->host[0]) {
        snprintf(err, errlen, "MOCK_LLM_HOST must not be empty");
        return SH_EINVAL;
    }
    /* Parse the fault spec now so a typo stops the process before it listens. */
    if (!(probe = malloc(sizeof(*probe))))
        return SH_ENOMEM;
    rc = mock_faults_init(probe, cfg->faults, (uint64_t)cfg->seed, err, errlen);
    free(probe);
    sh_config_log(items, N_ITEMS);
    return rc;
}

void mock_config_free(struct mock_config *cfg)
{
    struct sh_cfg_item items[N_ITEMS];

    if (!cfg)
        return;
    table(cfg, items);
    sh_config_free(items, N_ITEMS);
}
