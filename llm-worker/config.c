/* llm-worker configuration: one table, environment first. */
#include "config.h"
#include "sh_config.h"
#include "sh_err.h"
#include "sh_log.h"

#include <stdio.h>
#include <string.h>

#define N_ITEMS 24

static void table(struct llm_config *c, struct sh_cfg_item *t)
{
    struct sh_cfg_item items[N_ITEMS] = {
        {"brokers", "KAFKA_BROKERS", SH_CFG_STR, "127.0.0.1:9092", 0, -1, false,
         "Kafka bootstrap servers", &c->brokers},
        {"group", "LLM_WORKER_GROUP", SH_CFG_STR, "llm-worker", 0, -1, false,
         "consumer group shared by all workers", &c->group},
        {"base-url", "OPENAI_BASE_URL", SH_CFG_STR, "https://api.openai.com/v1", 0, -1, false,
         "OpenAI-compatible API base URL (mock-llm: http://127.0.0.1:8090/v1)", &c->base_url},
        {"api-key", "OPENAI_API_KEY", SH_CFG_STR, "", 0, -1, true,
         "API key sent as a Bearer token (empty: none)", &c->api_key},
        {"model", "OPENAI_MODEL", SH_CFG_STR, "gpt-4o-mini", 0, -1, false,
         "model name", &c->model},
        {"system-prompt", "LLM_SYSTEM_PROMPT", SH_CFG_STR,
         "You are a helpful assistant. Answer in Markdown when it helps. "
         "Use the get_weather tool for questions about the weather.", 0, -1, false,
         "system message put before every conversation", &c->system_prompt},
        {"max-turns", "LLM_MAX_CONCURRENT_TURNS", SH_CFG_INT, "2000", 1, 100000, false,
         "turns streamed at once by this process; more wait in line", &c->max_turns},
        {"max-tool-rounds", "LLM_MAX_TOOL_ROUNDS", SH_CFG_INT, "4", 0, 32, false,
         "tool-call rounds per turn before it ends with tool_rounds_exceeded", &c->max_tool_rounds},
        {"max-turn-ms", "LLM_MAX_TURN_MS", SH_CFG_INT, "300000", 0, 86400000, false,
         "a turn streaming (or calling tools) longer ends with turn_too_long (0: no limit)",
         &c->max_turn_ms},
        {"max-tokens", "LLM_MAX_TOKENS", SH_CFG_INT, "1024", 1, 65536, false,
         "max_tokens asked of the model per request", &c->max_tokens},
        {"history-max", "LLM_HISTORY_MAX_MESSAGES", SH_CFG_INT, "40", 2, 1000, false,
         "conversation messages kept as context per session", &c->history_max},
        {"turn-frames-max", "LLM_TURN_FRAMES_MAX", SH_CFG_INT, "20000", 100, 1000000, false,
         "frames one turn may send (its seq budget); then it ends with length", &c->turn_frames_max},
        {"request-timeout-ms", "LLM_REQUEST_TIMEOUT_MS", SH_CFG_INT, "180000", 1000, 3600000, false,
         "whole LLM request deadline", &c->request_timeout_ms},
        {"idle-timeout-ms", "LLM_IDLE_TIMEOUT_MS", SH_CFG_INT, "60000", 100, 600000, false,
         "LLM stream silence before the request counts as failed", &c->idle_timeout_ms},
        {"max-retries", "LLM_MAX_RETRIES", SH_CFG_INT, "4", 0, 20, false,
         "retries of 429/5xx/connect errors before the first token", &c->max_retries},
        {"backoff-ms", "LLM_BACKOFF_MS", SH_CFG_INT, "250", 1, 60000, false,
         "first retry delay (doubles, with jitter; retry-after wins)", &c->backoff_ms},
        {"session-idle-s", "LLM_SESSION_IDLE_S", SH_CFG_INT, "3600", 1, 604800, false,
         "replay buffers of sessions idle this long are freed",
         &c->session_idle_s},
        {"commit-interval-ms", "LLM_COMMIT_INTERVAL_MS", SH_CFG_INT, "200", 10, 60000, false,
         "how often finished request offsets are committed", &c->commit_interval_ms},
        {"session-end-grace-ms", "SESSION_END_GRACE_MS", SH_CFG_INT, "5000", 0, 86400000, false,
         "a session ends when no WebSocket has held it for this long (a reload resumes it)",
         &c->end_grace_ms},
        {"gateway-dead-ms", "GATEWAY_DEAD_MS", SH_CFG_INT, "10000", 0, 86400000, false,
         "drop a session's route to a gateway silent on chat.gateways this long (0 = never)",
         &c->gateway_dead_ms},
        {"drain-ms", "LLM_DRAIN_MS", SH_CFG_INT, "15000", 0, 600000, false,
         "on SIGTERM, time running turns get to finish; the rest go back to Kafka",
         &c->drain_ms},
        {"partitions", "TOPIC_PARTITIONS", SH_CFG_INT, "12", 1, 10000, false,
         "partitions of chat.requests/events/context when the worker has to create them",
         &c->partitions},
        {"admin-host", "ADMIN_HOST", SH_CFG_STR, "127.0.0.1", 0, -1, false,
         "address of the admin server (/healthz, /readyz, /metrics)", &c->admin_host},
        {"admin-port", "ADMIN_PORT", SH_CFG_INT, "9101", -1, 65535, false,
         "port of the admin server; 0 = ephemeral, -1 = off", &c->admin_port},
    };
    memcpy(t, items, sizeof(items));
}

int llm_config_load(struct llm_config *c, int argc, char **argv)
{
    struct sh_cfg_item t[N_ITEMS];
    char err[256];
    int rc;

    memset(c, 0, sizeof(*c));
    table(c, t);
    rc = sh_config_load(t, N_ITEMS, argc, argv, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "llm-worker: configuration error: %s\n", err);
    else if (rc == 0)
        sh_config_log(t, N_ITEMS);
    return rc;
}

void llm_config_free(struct llm_config *c)
{
    struct sh_cfg_item t[N_ITEMS];

    table(c, t);
    sh_config_free(t, N_ITEMS);
}
