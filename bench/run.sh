#!/usr/bin/env bash
# run.sh: the standard benchmark. Starts a private Kafka, mock-llm, llm-worker(s) and gateway on
# free ports, runs build/bin/loadgen (pipeline vs direct, idle connections, the persister against
# a private PostgreSQL, worker scaling), writes bench/results/*.json and stops everything it
# started.
#
# Environment (all optional):
#   BENCH_BIN (build/bin)                       where the binaries are (make bench BUILD=x sets it)
#   BENCH_SESSIONS (200) BENCH_TURNS (3)        standard scenario: concurrent sessions x turns (0 = skip)
#   BENCH_TOKENS_PER_SEC (100)                  mock-llm pace (TTFT is 0)
#   BENCH_WARMUP (500)                          warm-up sessions x 3 turns before measuring (JIT of
#                                               the broker, connection pools); not reported
#   BENCH_IDLE (2000) BENCH_IDLE_RATE (1000)    idle connections for the gateway memory check
#   BENCH_LARGE (1000) BENCH_LARGE_TURNS (2)    the 1,000-stream scenario: sessions x turns, 0 = skip
#   BENCH_LIGHT (20)                            sessions of the light-load run (x BENCH_TURNS), 0 = skip
#   BENCH_WORKERS (1)                           llm-workers in the consumer group
#   BENCH_SCALING ("")                          e.g. "1 2 4": after the scenarios above, rerun the
#                                               large scenario with that many workers each
#                                               (scaling-<n>.json)
#   BENCH_PERSIST (100000) BENCH_PERSIST_RATE (20000)   persister: events produced to chat.events
#                                               at that rate, then the same count as one burst
#                                               (0 = skip; needs PostgreSQL 15 binaries)
#   BENCH_PERSISTERS (1)                        persisters in their consumer group (each has its
#                                               own database connection)
#   BENCH_PARTITIONS (6)                        partitions per topic
#   BENCH_PROMPT                                user message of every turn
#   BENCH_OUT (bench/results)                   where the JSON goes
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BENCH_BIN:-$REPO/build/bin}"
SESSIONS="${BENCH_SESSIONS:-200}"
TURNS="${BENCH_TURNS:-3}"
TPS="${BENCH_TOKENS_PER_SEC:-100}"
LARGE_TURNS="${BENCH_LARGE_TURNS:-2}"
LIGHT="${BENCH_LIGHT:-20}"
IDLE="${BENCH_IDLE:-2000}"
IDLE_RATE="${BENCH_IDLE_RATE:-1000}"
LARGE="${BENCH_LARGE:-1000}"
PARTS="${BENCH_PARTITIONS:-6}"
WARMUP="${BENCH_WARMUP:-500}"
WORKERS="${BENCH_WORKERS:-1}"
SCALING="${BENCH_SCALING:-}"
PERSIST="${BENCH_PERSIST:-100000}"
PERSIST_RATE="${BENCH_PERSIST_RATE:-20000}"
PERSISTERS="${BENCH_PERSISTERS:-1}"
PROMPT="${BENCH_PROMPT:-Hello, please tell me about benchmarks.}"
OUT="${BENCH_OUT:-$REPO/bench/results}"

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }

for b in gateway llm-worker mock-llm loadgen persister; do
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
    [[ -n "$PGPORT" ]] && STATE_DIR="$TMP/state" "$REPO/scripts/pg.sh" stop >/dev/null 2>&1
    if [[ "${BENCH_KEEP:-0}" == 1 ]]; then say "logs kept in $TMP"; else rm -rf "$TMP"; fi
}

TMP="$(mktemp -d /tmp/bench.XXXXXX)"
chmod 755 "$TMP"               # PostgreSQL runs as its own user when we are root
mkdir -p "$OUT"
PIDS=()
KPORT=""
PGPORT=""
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
    local name="$1" log k=1; shift
    log="$TMP/$name.log"
    while [[ -e "$log" ]]; do log="$TMP/$name.$k.log"; k=$((k + 1)); done
    env $UNSET "$@" "$BIN/$name" >"$log" 2>&1 </dev/null &
    SVC_PID=$!
    SVC_LOG="$log"
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

WORKER_PIDS=()
WORKER_LOGS=()
WGROUP="bench-llm-worker-$$"
start_workers() { # count: start that many more workers in the group
    for ((i = 0; i < $1; i++)); do
        start_svc llm-worker KAFKA_BROKERS="$BROKERS" "${LLM_ENV[@]}" LLM_WORKER_GROUP="$WGROUP" \
            ADMIN_PORT=-1
        WORKER_PIDS+=("$SVC_PID")
        WORKER_LOGS+=("$SVC_LOG")
    done
}
workers_settled() { # every worker has been assigned partitions (up to 30 s), then 3 s more
    for _ in $(seq 300); do
        local all=1
        for l in "${WORKER_LOGS[@]}"; do grep -q 'partitions assigned' "$l" || all=0; done
        [[ $all == 1 ]] && break
        sleep 0.1
    done
    sleep 3
}
# Sessions end SESSION_END_GRACE_MS (5 s) after their last connection closed; the worker then
# writes session_end events and snapshots for all of them. Let that pass between scenarios so
# it is not measured as the next scenario's latency.
settle() { sleep 7; }
stop_workers() { # SIGTERM every worker and wait: their partitions go back to the group
    for p in "${WORKER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${WORKER_PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
    done
    WORKER_PIDS=()
    WORKER_LOGS=()
}
start_workers "$WORKERS"
WORKER_PID="${WORKER_PIDS[0]}"
GW_PORT="$(free_port)"
start_svc gateway KAFKA_BROKERS="$BROKERS" "${LLM_ENV[@]}" GATEWAY_PORT="$GW_PORT" \
    GATEWAY_HOST=127.0.0.1 GATEWAY_ID="bench-gw-$$" GATEWAY_LLM_LABEL=mock \
    GATEWAY_MAX_CONNS_PER_IP=0   # every benchmark connection comes from 127.0.0.1
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
    settle
fi

if [[ "$WARMUP" -gt 0 ]]; then
    # A fresh broker runs interpreted until its JIT has seen some traffic: the first hundreds
    # of turns are several times slower than the rest, and would be measured as pipeline
    # overhead (light TTFT p50 21 ms after 100 x 2 warm-up turns, 15 ms after 500 x 3). After
    # the idle run, which wants a gateway whose heap has not grown yet.
    say "warm-up: $WARMUP sessions x 3 turns (not measured)"
    "${LG[@]}" --url="$WS" --sessions="$WARMUP" --turns=3 --rate=200 >"$TMP/warmup2.log" 2>&1 || true
    settle
fi

# Light load first: the pipeline's own latency when nothing queues.
if [[ "$LIGHT" -gt 0 ]]; then
    say "light: $LIGHT sessions x $TURNS turns at 20 new sessions/s, then direct"
    "${LG[@]}" --url="$WS" --direct="$DIRECT" --sessions="$LIGHT" --turns="$TURNS" --rate=20 \
        --label="light ${LIGHT}x${TURNS} tps=$TPS" --json="$OUT/light.json" || RC=$?
    settle
fi

if [[ "$SESSIONS" -gt 0 ]]; then
    say "standard: $SESSIONS concurrent sessions x $TURNS turns, mock pace $TPS tokens/s, then direct"
    "${LG[@]}" --url="$WS" --direct="$DIRECT" --sessions="$SESSIONS" --turns="$TURNS" \
        --label="standard ${SESSIONS}x${TURNS} tps=$TPS" --json="$OUT/standard.json" || RC=$?
    settle
fi

if [[ "$LARGE" -gt 0 ]]; then
    say "large: $LARGE concurrent sessions x $LARGE_TURNS turns, then direct"
    "${LG[@]}" --url="$WS" --direct="$DIRECT" --sessions="$LARGE" --turns="$LARGE_TURNS" --rate=2000 \
        --label="large ${LARGE}x${LARGE_TURNS} tps=$TPS" --json="$OUT/large.json" || RC=$?
    settle
fi

# Worker scaling: the large scenario again with 1, 2, 4... workers in the same group.
for n in $SCALING; do
    stop_workers
    start_workers "$n"
    # The group has to settle (every worker assigned) before the run counts.
    workers_settled
    for i in 1 2 3; do
        "${LG[@]}" --url="$WS" --sessions=20 --turns=1 --timeout=40 >"$TMP/warmup-$n.log" 2>&1 && break
    done
    say "scaling: $n worker(s), $LARGE sessions x $LARGE_TURNS turns"
    "${LG[@]}" --url="$WS" --sessions="$LARGE" --turns="$LARGE_TURNS" --rate=2000 \
        --label="scaling workers=$n ${LARGE}x${LARGE_TURNS} tps=$TPS" --json="$OUT/scaling-$n.json" || RC=$?
done
[[ -n "$SCALING" ]] && WORKER_PID="${WORKER_PIDS[0]}"

# The persister: its own PostgreSQL, chat.events filled by loadgen at a fixed rate, then a burst.
if [[ "$PERSIST" -gt 0 ]]; then
    PGPORT="$(free_port)"
    STATE_DIR="$TMP/state" PG_PORT="$PGPORT" "$REPO/scripts/pg.sh" start >"$TMP/pg.log" 2>&1 ||
        { cat "$TMP/pg.log" >&2; die "PostgreSQL did not start"; }
    DBURL="$(tail -1 "$TMP/pg.log" | sed 's/^DATABASE_URL=//')"
    DATABASE_URL="$DBURL" "$REPO/schema/migrate.sh" >"$TMP/migrate.log" 2>&1 ||
        { cat "$TMP/migrate.log" >&2; die "migration failed"; }
    PST_PIDS=()
    for _ in $(seq "$PERSISTERS"); do
        start_svc persister KAFKA_BROKERS="$BROKERS" DATABASE_URL="$DBURL" \
            PERSISTER_GROUP="bench-persister-$$" ADMIN_PORT=-1
        PST_PIDS+=("$SVC_PID")
    done
    # Catch up with the chat's own events first, so the run measures only its own.
    "${LG[@]}" --events=1000 --events-rate=0 --brokers="$BROKERS" --database-url="$DBURL" \
        --timeout=120 >"$TMP/persist-warmup.log" 2>&1 || true
    say "persister: $PERSIST events at $PERSIST_RATE/s ($PERSISTERS persister(s))"
    "${LG[@]}" --events="$PERSIST" --events-rate="$PERSIST_RATE" --brokers="$BROKERS" \
        --database-url="$DBURL" --label="persister rate=$PERSIST_RATE" \
        --json="$OUT/persister-rate.json" || RC=$?
    say "persister: $PERSIST events as one burst"
    "${LG[@]}" --events="$PERSIST" --events-rate=0 --brokers="$BROKERS" \
        --database-url="$DBURL" --label="persister burst" --json="$OUT/persister-burst.json" || RC=$?
    for p in "${PST_PIDS[@]}"; do
        kill -0 "$p" 2>/dev/null || { say "a persister died (pid $p)"; RC=1; }
    done
fi

for p in "$GW_PID" "$WORKER_PID" "$MOCK_PID"; do
    kill -0 "$p" 2>/dev/null || { say "a service died (pid $p)"; RC=1; }
done
say "results in $OUT (exit $RC)"
exit "$RC"
