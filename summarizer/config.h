/* summarizer configuration: one table (env var, flag, default, range), environment first. */
#ifndef SUM_CONFIG_H
#define SUM_CONFIG_H
#include <stdint.h>

struct sum_config {
    char *brokers;              /* KAFKA_BROKERS */
    char *group;                /* SUMMARIZER_GROUP */
    char *database_url;         /* DATABASE_URL */
    char *base_url;             /* OPENAI_BASE_URL */
    char *api_key;              /* OPENAI_API_KEY */
    char *model;                /* OPENAI_MODEL */
    char *system_prompt;        /* SUMMARIZER_SYSTEM_PROMPT */
    int64_t concurrency;        /* sessions summarised at once */
    int64_t max_pending;        /* session ends held before consumption pauses */
    int64_t persist_wait_ms;    /* how long to wait for the persister to store the end */
    int64_t llm_attempts;       /* whole-request attempts before a summary counts as failed */
    int64_t llm_retries;        /* the client's own quick retries inside one attempt */
    int64_t llm_timeout_ms;     /* one attempt's deadline */
    int64_t max_tokens;         /* max_tokens asked of the model */
    int64_t max_transcript;     /* characters of transcript sent at most */
    int64_t max_rows;           /* event rows read per session at most */
    int64_t backoff_ms;         /* first retry delay (database and LLM) */
    int64_t backoff_max_ms;     /* longest retry delay */
    int64_t db_timeout_ms;      /* deadline of one database statement */
    int64_t commit_interval_ms; /* how often finished offsets are committed */
    int64_t drain_ms;           /* on SIGTERM, time summaries in flight get to finish */
    char *admin_host;           /* ADMIN_HOST */
    int64_t admin_port;         /* ADMIN_PORT: 0 ephemeral, -1 off */
};

/* Load defaults, the environment, then --name=value flags. Returns 0, 1 after --help
 * (exit 0), or SH_EINVAL with the reason already printed to stderr. Free with
 * sum_config_free() in every case. */
int sum_config_load(struct sum_config *c, int argc, char **argv);
/* Release the strings; NULL-safe, may be called twice. */
void sum_config_free(struct sum_config *c);

#endif
