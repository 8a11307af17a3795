#!/bin/bash
# healthcheck.sh: the Docker HEALTHCHECK of every service image (CHAT_SERVICE names the service).
#
#   gateway     GET /readyz on GATEWAY_PORT (default 8000): 200 once Kafka is reachable, 503
#               while draining, so a load balancer that follows Docker health stops sending
#   mock-llm    GET /healthz on MOCK_LLM_PORT (default 8090)
#   others      GET /readyz on ADMIN_PORT when that variable is set (the sh_admin server);
#               without it: healthy while the service process (PID 1) runs
# Exit 0 healthy, 1 unhealthy (Docker's convention).
set -uo pipefail

probe() {
    curl -fsS -o /dev/null --max-time 2 --noproxy '*' "$1" || exit 1
    exit 0
}

case "${CHAT_SERVICE:-}" in
    gateway) probe "http://127.0.0.1:${GATEWAY_PORT:-8000}/readyz" ;;
    mock-llm) probe "http://127.0.0.1:${MOCK_LLM_PORT:-8090}/healthz" ;;
    *)
        if [[ -n "${ADMIN_PORT:-}" ]]; then
            probe "http://127.0.0.1:${ADMIN_PORT}/readyz"
        fi
        # /proc/1/stat: "1 (name) S ..."; the state follows the last ')'.
        stat="$(cat /proc/1/stat 2>/dev/null)" || exit 1
        state="${stat##*) }"
        [[ "${state%% *}" != [ZX] ]] || exit 1
        exit 0 ;;
esac
