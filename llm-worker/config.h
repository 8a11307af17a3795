/* llm-worker configuration: one table, environment first. */
#ifndef LLM_CONFIG_H
#define LLM_CONFIG_H
#include <stdbool.h>
#include <stdint.h>

struct llm_config {
    char *brokers;
    char *group;
    char *base_url;
    char *api_key;
    char *model;
    char *system_prompt;
    int64_t max_turns;          /* concurrent turns in this process */
    int64_t max_tool_rounds;
    int64_t max_turn_ms;        /* wall time of one turn; 0 = no limit */
    int64_t max_tokens;
    int64_t history_max;        /* messages kept per session */
    int64_t turn_frames_max;    /* frames one turn may emit (seq budget) */
    int64_t request_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t max_retries;
    int64_t backoff_ms;
    int64_t session_idle_s;     /* evict idle sessions from memory after this */
    int64_t commit_interval_ms;
    int64_t end_grace_ms;
    int64_t gateway_dead_ms;    /* route to a silent gateway dropped after this; 0 never */
    int64_t drain_ms;           /* SIGTERM: running turns finish within this */
    int64_t partitions;         /* for topics this worker creates when missing */
    char *admin_host;           /* ADMIN_HOST */
    int64_t admin_port;         /* ADMIN_PORT: 0 ephemeral, -1 off */
};

/* Load from the environment and argv. Returns 0, 1 after --help, or
 * SH_EINVAL (message already printed). Free with llm_config_free(). */
int llm_config_load(struct llm_config *c, int argc, char **argv);
void llm_config_free(struct llm_config *c);

#endif
