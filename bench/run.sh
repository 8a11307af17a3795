#!/usr/bin/env bash
# run.sh: the standard benchmark. Starts a private Kafka, mock-llm, llm-worker and gateway on free
# ports, runs build/bin/loadgen (pipeline vs direct, then idle connections), writes
# bench/results/*.json and stops everything it started.
#
# Environment (all optional):
#   BENCH_SESSIONS (200) BENCH_TURNS (3)        standard scenario: concurrent sessions x turns (0 = skip)
#   BENCH_TOKENS_PER_SEC (100)                  mock-llm pace (TTFT is 0)
#   BENCH_IDLE (2000) BENCH_IDLE_RATE (1000)    idle connections for the gateway memory check
#   BENCH_LARGE (1000) BENCH_LARGE_TURNS (2)    the 1,000-stream scenario: sessions x turns, 0 = skip
#   BENCH_LIGHT (20)                            sessions of the light-load run (x BENCH_TURNS), 0 = skip
#   BENCH_PARTITIONS (6)                        partitions per topic
#   BENCH_PROMPT                                user message of every turn
#   BENCH_OUT (bench/results)                   where the JSON goes
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$REPO/build/bin"
SESSIONS="${BENCH_SESSIONS:-200}"
TURNS="${BENCH_TURNS:-3}"
TPS="${BENCH_TOKENS_PER_SEC:-100}"
LARGE_TURNS="${BENCH_LARGE_TURNS:-2}"
LIGHT="${BENCH_LIGHT:-20}"
IDLE="${BENCH_IDLE:-2000}"
IDLE_RATE="${BENCH_IDLE_RATE:-1000}"
LARGE="${BENCH_LARGE:-1000}"
PARTS="${BENCH_PARTITIONS:-6}"
PROMPT="${BENCH_PROMPT:-Hello, please tell me about benchmarks.}"
OUT="${BENCH_OUT:-$REPO/bench/results}"

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

for b in gateway llm-worker mock-llm loadgen; do
    [[ -x "$BIN/$b" ]] || die "$BIN/$b missing (run: make && make build/bin/loadgen)"
done
# 2 fds per connection are in play on this box (client + gateway) but in separate processes.
ulimit -n "$(ulimit -Hn)" || true
say "open files limit $(ulimit -n)"

cleanup() {
    set +e
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill -TERM "${PIDS[$i]}" 2>/dev/null
    done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    [[ -n "$KPORT" ]] && kafka_env "$REPO/scripts/kafka.sh" stop >/dev/null 2>&1
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then say "logs kept in $TMP"; else rm -rf "$TMP"; fi
}

TMP="$(mktemp -d /tmp/bench.XXXXXX)"
mkdir -p "$OUT"
PIDS=()
KPORT=""
trap cleanup EXIT
trap 'exit 130' INT TERM

# Service env: the caller's minus every KAFKA_* (libshared turns them into librdkafka settings).
clean_env() { env | cut -d= -f1 | { grep '^KAFKA_' || true; } | sed 's/^/-u /' | tr '\n' ' '; }
UNSET="$(clean_env)"

kafka_env() { env $UNSET STATE_DIR="$TMP/state" KAFKA_PORT="$KPORT" KAFKA_PARTITIONS="$PARTS" \
    KAFKA_HEAP="-Xmx512m -Xms128m" "$@"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_pair() {
    python3 - <<'PY'
import random, socket
def free(p):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", p)); return True
        except OSError:
            return False
for _ in range(200):
    p = random.randint(20000, 59000)
    if free(p) and free(p + 1):
        print(p); break
PY
}

# -- Kafka --------------------------------------------------------------------------------------
KPORT="$(port_pair)"
[[ -n "$KPORT" ]] || die "no free port pair for Kafka"
say "starting Kafka on 127.0.0.1:$KPORT ($PARTS partitions)"
kafka_env "$REPO/scripts/kafka.sh" start >"$TMP/kafka-start.log" 2>&1 || { cat "$TMP/kafka-start.log" >&2; die "kafka start failed"; }
kafka_env "$REPO/scripts/kafka.sh" topics >"$TMP/kafka-topics.log" 2>&1 || { cat "$TMP/kafka-topics.log" >&2; die "topic creation failed"; }
BROKERS="127.0.0.1:$KPORT"

# -- services -----------------------------------------------------------------------------------
SVC_PID=""
start_svc() { # name, then env assignments; runs $BIN/name, sets SVC_PID (no subshell: keep PIDS)
    local name="$1"; shift
    env $UNSET "$@" "$BIN/$name" >"$TMP/$name.log" 2>&1 </dev/null &
    SVC_PID=$!
    PIDS+=("$SVC_PID")
}

start_svc mock-llm MOCK_LLM_PORT=0 MOCK_LLM_HOST=127.0.0.1 MOCK_LLM_TTFT_MS=0 \
    MOCK_LLM_TOKENS_PER_SEC="$TPS" MOCK_LLM_IDLE_MS=0
MOCK_PID="$SVC_PID"
MOCK_PORT=""
for _ in $(seq 100); do
    MOCK_PORT="$(grep -oE 'listening.*port=[0-9]+' "$TMP/mock-llm.log" | grep -oE '[0-9]+$' | head -1 || true)"
    [[ -n "$MOCK_PORT" ]] && break
    sleep 0.1
done
[[ -n "$MOCK_PORT" ]] || { cat "$TMP/mock-llm.log" >&2; die "mock-llm did not start"; }
LLM_ENV=(OPENAI_BASE_URL="http://127.0.0.1:$MOCK_PORT/v1" OPENAI_API_KEY=mock OPENAI_MODEL=mock-llm)

start_svc llm-worker KAFKA_BROKERS="$BROKERS" "${LLM_ENV[@]}" \
    LLM_WORKER_GROUP="bench-llm-worker-$$"
WORKER_PID="$SVC_PID"
GW_PORT="$(free_port)"
start_svc gateway KAFKA_BROKERS="$BROKERS" "${LLM_ENV[@]}" GATEWAY_PORT="$GW_PORT" \
    GATEWAY_HOST=127.0.0.1 GATEWAY_ID="bench-gw-$$" GATEWAY_LLM_LABEL=mock
GW_PID="$SVC_PID"
for _ in $(seq 300); do
    curl -sf --noproxy '*' "http://127.0.0.1:$GW_PORT/readyz" >/dev/null 2>&1 && break
    kill -0 "$GW_PID" 2>/dev/null || { cat "$TMP/gateway.log" >&2; die "gateway exited"; }
    sleep 0.1
done
say "mock-llm :$MOCK_PORT (pid $MOCK_PID), llm-worker pid $WORKER_PID, gateway :$GW_PORT (pid $GW_PID)"

WS="ws://127.0.0.1:$GW_PORT/ws/session"
DIRECT="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"
LG=("$BIN/loadgen" --prompt="$PROMPT" --timeout=110)

# Warm-up: one full turn proves the worker has joined its group and consumes.
for i in 1 2 3; do
    "${LG[@]}" --url="$WS" --sessions=1 --turns=1 --timeout=40 >"$TMP/warmup.log" 2>&1 && break
    [[ $i == 3 ]] && { cat "$TMP/warmup.log" "$TMP/llm-worker.log" >&2; die "warm-up turn failed"; }
done
say "warm-up ok"

RC=0
# Idle connections first, on a fresh gateway: later runs leave its heap grown.
if [[ "$IDLE" -gt 0 ]]; then
    say "idle: $IDLE connections at $IDLE_RATE/s, gateway pid $GW_PID"
    "${LG[@]}" --url="$WS" --idle="$IDLE" --rate="$IDLE_RATE" --hold-ms=2000 \
        --gateway-pid="$GW_PID" --label="idle $IDLE" --json="$OUT/idle-$IDLE.json" || RC=$?
fi

# Light load first: the pipeline's own latency when nothing queues.
if [[ "$LIGHT" -gt 0 ]]; then
    say "light: $LIGHT sessions x $TURNS turns at 20 new sessions/s, then direct"
    "${LG[@]}" --url="$WS" --direct="$DIRECT" --sessions="$LIGHT" --turns="$TURNS" --rate=20 \
        --label="light ${LIGHT}x${TURNS} tps=$TPS" --json="$OUT/light.json" || RC=$?
fi

if [[ "$SESSIONS" -gt 0 ]]; then
    say "standard: $SESSIONS concurrent sessions x $TURNS turns, mock pace $TPS tokens/s, then direct"
    "${LG[@]}" --url="$WS" --direct="$DIRECT" --sessions="$SESSIONS" --turns="$TURNS" \
        --label="standard ${SESSIONS}x${TURNS} tps=$TPS" --json="$OUT/standard.json" || RC=$?
fi

if [[ "$LARGE" -gt 0 ]]; then
    say "large: $LARGE concurrent sessions x $LARGE_TURNS turns, then direct"
    "${LG[@]}" --url="$WS" --direct="$DIRECT" --sessions="$LARGE" --turns="$LARGE_TURNS" --rate=2000 \
        --label="large ${LARGE}x${LARGE_TURNS} tps=$TPS" --json="$OUT/large.json" || RC=$?
fi


for p in "$GW_PID" "$WORKER_PID" "$MOCK_PID"; do
    kill -0 "$p" 2>/dev/null || { say "a service died (pid $p)"; RC=1; }
done
say "results in $OUT (exit $RC)"
exit "$RC"
