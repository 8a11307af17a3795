/* summarizer configuration: one table, environment first. */
#include "config.h"
#include "sh_config.h"
#include "sh_err.h"

#include <stdio.h>
#include <string.h>

#define N_ITEMS 23

static void table(struct sum_config *c, struct sh_cfg_item *t)
{
    struct sh_cfg_item items[N_ITEMS] = {
        {"brokers", "KAFKA_BROKERS", SH_CFG_STR, "127.0.0.1:9092", 0, -1, false,
         "Kafka bootstrap servers", &c->brokers},
        {"group", "SUMMARIZER_GROUP", SH_CFG_STR, "summarizer", 0, -1, false,
         "consumer group on chat.events shared by all summarizers", &c->group},
        {"database-url", "DATABASE_URL", SH_CFG_STR, "postgresql://chat@127.0.0.1:5432/chat", 0,
         -1, true, "PostgreSQL connection URI (libpq)", &c->database_url},
        {"base-url", "OPENAI_BASE_URL", SH_CFG_STR, "https://api.openai.com/v1", 0, -1, false,
         "OpenAI-compatible API base URL (mock-llm: http://127.0.0.1:8090/v1)", &c->base_url},
        {"api-key", "OPENAI_API_KEY", SH_CFG_STR, "", 0, -1, true,
         "API key sent as a Bearer token (empty: none)", &c->api_key},
        {"model", "OPENAI_MODEL", SH_CFG_STR, "gpt-4o-mini", 0, -1, false,
         "model name", &c->model},
        {"system-prompt", "SUMMARIZER_SYSTEM_PROMPT", SH_CFG_STR,
         "You write the summary of a finished chat session between a user and an AI "
         "assistant. Reply with a 1-2 sentence summary of what the user wanted and what "
         "they got, in plain text, without any preamble.", 0, -1, false,
         "system message of every summary request", &c->system_prompt},
        {"concurrency", "SUMMARIZER_CONCURRENCY", SH_CFG_INT, "8", 1, 1000, false,
         "sessions summarised at the same time", &c->concurrency},
        {"max-pending", "SUMMARIZER_MAX_PENDING", SH_CFG_INT, "10000", 1, 1000000, false,
         "session ends held in memory before consumption pauses", &c->max_pending},
        {"persist-wait-ms", "SUMMARIZER_PERSIST_WAIT_MS", SH_CFG_INT, "300000", 0, 86400000,
         false, "wait this long for the persister to store a session's end, then record "
         "the summary as failed", &c->persist_wait_ms},
        {"llm-attempts", "SUMMARIZER_LLM_ATTEMPTS", SH_CFG_INT, "3", 1, 100, false,
         "LLM attempts (each with the client's own retries) before the summary fails",
         &c->llm_attempts},
        {"llm-retries", "SUMMARIZER_LLM_RETRIES", SH_CFG_INT, "2", 0, 20, false,
         "quick retries of 429/5xx/connect errors inside one attempt", &c->llm_retries},
        {"llm-timeout-ms", "SUMMARIZER_LLM_TIMEOUT_MS", SH_CFG_INT, "60000", 100, 3600000, false,
         "deadline of one LLM request", &c->llm_timeout_ms},
        {"max-tokens", "SUMMARIZER_MAX_TOKENS", SH_CFG_INT, "200", 16, 8192, false,
         "max_tokens asked of the model", &c->max_tokens},
        {"max-transcript", "SUMMARIZER_MAX_TRANSCRIPT_CHARS", SH_CFG_INT, "24000", 500, 1000000,
         false, "transcript bytes sent at most (first question and latest lines kept)",
         &c->max_transcript},
        {"max-rows", "SUMMARIZER_MAX_ROWS", SH_CFG_INT, "2000", 10, 1000000, false,
         "latest event rows read per session", &c->max_rows},
        {"backoff-ms", "SUMMARIZER_BACKOFF_MS", SH_CFG_INT, "1000", 1, 600000, false,
         "first retry delay after an LLM or database failure (doubles, with jitter)",
         &c->backoff_ms},
        {"backoff-max-ms", "SUMMARIZER_BACKOFF_MAX_MS", SH_CFG_INT, "30000", 1, 3600000, false,
         "longest retry delay", &c->backoff_max_ms},
        {"db-timeout-ms", "SUMMARIZER_DB_TIMEOUT_MS", SH_CFG_INT, "15000", 100, 600000, false,
         "deadline of one database statement or connect", &c->db_timeout_ms},
        {"commit-interval-ms", "SUMMARIZER_COMMIT_INTERVAL_MS", SH_CFG_INT, "500", 10, 60000,
         false, "how often finished offsets are committed", &c->commit_interval_ms},
        {"drain-ms", "SUMMARIZER_DRAIN_MS", SH_CFG_INT, "10000", 0, 600000, false,
         "on SIGTERM, time the summaries in flight get to finish", &c->drain_ms},
        {"admin-host", "ADMIN_HOST", SH_CFG_STR, "127.0.0.1", 0, -1, false,
         "address of the admin server (/healthz, /readyz, /metrics)", &c->admin_host},
        {"admin-port", "ADMIN_PORT", SH_CFG_INT, "9103", -1, 65535, false,
         "port of the admin server; 0 = ephemeral, -1 = off", &c->admin_port},
    };
    memcpy(t, items, sizeof(items));
}

int sum_config_load(struct sum_config *c, int argc, char **argv)
{
    struct sh_cfg_item t[N_ITEMS];
    char err[256];
    int rc;

    memset(c, 0, sizeof(*c));
    table(c, t);
    rc = sh_config_load(t, N_ITEMS, argc, argv, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "summarizer: configuration error: %s\n", err);
    else if (rc == 0)
        sh_config_log(t, N_ITEMS);
    return rc;
}

void sum_config_free(struct sum_config *c)
{
    struct sh_cfg_item t[N_ITEMS];

    if (!c)
        return;
    table(c, t);
    sh_config_free(t, N_ITEMS);
}
