#!/bin/bash
# entrypoint.sh: PID 1 of every service image; prepares the environment, then becomes the
# service binary named by CHAT_SERVICE (set by each target of docker/Dockerfile).
#
# 1. An empty variable means "the service's default". docker-compose.yml passes optional
#    settings as ${NAME:-}, so an unset .env line arrives here as NAME= and is removed; the
#    defaults then live in one place, the service's config table (<binary> --help).
# 2. Which LLM (llm-worker, summarizer, gateway), the same rule as `make up`:
#      OPENAI_API_KEY set    the OpenAI-compatible API at OPENAI_BASE_URL (the services'
#                            default, OpenAI, when unset) with OPENAI_MODEL
#      OPENAI_API_KEY empty  mock-llm at MOCK_LLM_URL (default http://mock-llm:8090/v1), model
#                            OPENAI_MODEL or "mock-llm". mock-llm is a test double with canned
#                            answers, NOT a language model; the gateway tells the UI so
#                            (GATEWAY_LLM_LABEL=mock unless set), which shows a banner.
#    Servers without authentication (Ollama, vLLM, ...) still need a non-empty key, e.g. "unused".
#    The gateway only uses OPENAI_API_KEY for this choice: it is removed from its environment
#    before the binary starts.
# 3. exec the binary with the container's arguments (e.g. --help).
set -euo pipefail

svc="${CHAT_SERVICE:-}"
if [[ -z "$svc" || ! -x "/usr/local/bin/$svc" ]]; then
    echo "entrypoint: CHAT_SERVICE=\"$svc\" names no service binary in /usr/local/bin" >&2
    exit 2
fi

for name in $(compgen -e); do
    if [[ -z "${!name}" ]]; then
        unset "$name" 2>/dev/null || true   # readonly ones stay
    fi
done

say() { printf 'entrypoint: service=%s %s\n' "$svc" "$*" >&2; }

mock_url="${MOCK_LLM_URL:-http://mock-llm:8090/v1}"
case "$svc" in
    llm-worker | summarizer)
        if [[ -z "${OPENAI_API_KEY:-}" ]]; then
            if [[ -n "${OPENAI_BASE_URL:-}" && "${OPENAI_BASE_URL}" != "$mock_url" ]]; then
                say "warning: OPENAI_BASE_URL=${OPENAI_BASE_URL} ignored because OPENAI_API_KEY is empty (set any non-empty key for a server without authentication)"
            fi
            export OPENAI_API_KEY=mock OPENAI_BASE_URL="$mock_url" OPENAI_MODEL="${OPENAI_MODEL:-mock-llm}"
            say "llm=mock base_url=$OPENAI_BASE_URL (mock-llm: canned answers, not a model; set OPENAI_API_KEY for a real one)"
        else
            say "llm=real base_url=${OPENAI_BASE_URL:-<service default>} model=${OPENAI_MODEL:-<service default>}"
        fi
        unset MOCK_LLM_URL ;;
    gateway)
        if [[ -z "${OPENAI_API_KEY:-}" ]]; then
            export GATEWAY_LLM_LABEL="${GATEWAY_LLM_LABEL:-mock}"
        fi
        unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_MODEL MOCK_LLM_URL ;;
esac

exec "/usr/local/bin/$svc" "$@"
