#!/usr/bin/env bash
# stack.sh: the whole local stack in one terminal (make up / make down).
#
# Usage: scripts/stack.sh up|down|status
#   up      deps.sh, make -j2, Kafka (+ topics), PostgreSQL (+ schema/migrate.sh when present),
#           mock-llm (unless OPENAI_API_KEY is set), then the services among
#           build/bin/{llm-worker,persister,summarizer,gateway} that exist. Stays in the
#           foreground; Ctrl-C (or SIGTERM) stops everything in reverse order.
#   down    stop everything from the pid files (e.g. from another terminal)
#   status  what runs
#
# Environment (all optional):
#   STATE_DIR        state folder, default <repo>/.state: logs in logs/<svc>.log, pid files in run/
#   GATEWAY_PORT     default 8000          MOCK_LLM_PORT  default 8090 (mock-llm only)
#   KAFKA_PORT       default 9092          PG_PORT        default 5432
#   OPENAI_API_KEY   set: use the real OpenAI-compatible API at OPENAI_BASE_URL (the services'
#                    default when unset) with OPENAI_MODEL; unset: mock-llm, a MOCK, not a model
#   STACK_SKIP_DEPS=1   skip scripts/deps.sh;  STACK_SKIP_BUILD=1  skip make
#   STACK_STOP_TIMEOUT  seconds a service gets after SIGTERM before SIGKILL, default 15
#   STACK_BIN_DIR       where the service binaries are, default <repo>/build/bin
# Services get KAFKA_BROKERS, OPENAI_*, DATABASE_URL, GATEWAY_PORT; the harness-only KAFKA_*
# variables (KAFKA_PORT, KAFKA_HEAP, ...) are removed from their environment because libshared
# turns every KAFKA_* variable into a librdkafka setting.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${STATE_DIR:-$REPO/.state}"
export STATE_DIR
RUN="$STATE_DIR/run"
LOGS="$STATE_DIR/logs"
BIN="${STACK_BIN_DIR:-$REPO/build/bin}"
GATEWAY_PORT="${GATEWAY_PORT:-8000}"
MOCK_LLM_PORT="${MOCK_LLM_PORT:-8090}"
STACK_STOP_TIMEOUT="${STACK_STOP_TIMEOUT:-15}"
SERVICES=(mock-llm persister summarizer llm-worker gateway)   # start order; stop is reversed, so
# the worker drains before the persister stops and its last events are stored in the same run
HARNESS_VARS=(KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_PARTITIONS KAFKA_HEAP KAFKA_TOPICS
              KAFKA_EXTRA_CONFIG KAFKA_LIBS KAFKA_START_TIMEOUT KAFKA_STOP_TIMEOUT KAFKA_CDS)

say() { printf 'stack: %s\n' "$*"; }
die() { printf 'stack: error: %s\n' "$*" >&2; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Builds the web UI into frontend/out when its sources are newer than the last build.
build_frontend() {
    local fe="$REPO/frontend"
    [[ -f "$fe/package.json" ]] || return 0
    if [[ -f "$fe/out/index.html" ]] &&
        [[ -z "$(find "$fe/src" "$fe/package-lock.json" -newer "$fe/out/index.html" -print -quit)" ]]; then
        return 0
    fi
    say "building the web UI (npm ci && npm run build; about a minute the first time)"
    if [[ ! -d "$fe/node_modules" || "$fe/package-lock.json" -nt "$fe/node_modules" ]]; then
        (cd "$fe" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
    fi
    (cd "$fe" && npm run -s build >"$LOGS/frontend-build.log" 2>&1) ||
        { tail -20 "$LOGS/frontend-build.log"; die "web UI build failed"; }
}

# Prints the pid of service $1 when its pid file names a live process running its binary.
svc_pid() {
    local f="$RUN/$1.pid" pid
    [[ -s "$f" ]] || return 1
    pid="$(cat "$f")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$BIN/$1" || return 1
    echo "$pid"
}

# Starts service $1 in its own session (a Ctrl-C here must not reach it) with the extra
# environment given as NAME=value arguments; output appends to logs/$1.log.
svc_start() {
    local name="$1"
    shift
    local log="$LOGS/$name.log" unset_args=() v
    for v in "${HARNESS_VARS[@]}"; do unset_args+=(-u "$v"); done
    printf '\n===== stack: start %s at %s =====\n' "$name" "$(date '+%F %T')" >>"$log"
    rm -f "$RUN/$name.pid"
    # shellcheck disable=SC2016  # expanded by the inner shell
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$RUN/$name.pid" \
        env "${unset_args[@]}" "$@" "$BIN/$name" </dev/null >>"$log" 2>&1 &
    disown $!   # no "Killed" job notices from this shell when a service is stopped
    local i
    for i in $(seq 50); do [[ -s "$RUN/$name.pid" ]] && break; sleep 0.02; done
}

# Waits up to $2 s for service $1: until the command "$3..." succeeds, failing when it exits.
svc_wait() {
    local name="$1" timeout="$2"
    shift 2
    local deadline=$(( $(date +%s) + timeout ))
    while :; do
        if ! svc_pid "$name" >/dev/null; then
            tail -n 20 "$LOGS/$name.log" >&2
            die "$name exited during start-up (log $LOGS/$name.log)"
        fi
        "$@" && return 0
        (( $(date +%s) < deadline )) || die "$name not ready after ${timeout}s (log $LOGS/$name.log)"
        sleep 0.2
    done
}

# SIGTERM, wait, then SIGKILL.
svc_stop() {
    local name="$1" pid
    pid="$(svc_pid "$name")" || { rm -f "$RUN/$name.pid"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(( $(date +%s) + STACK_STOP_TIMEOUT ))
    while kill -0 "$pid" 2>/dev/null; do
        if (( $(date +%s) >= deadline )); then
            say "$name ignored SIGTERM for ${STACK_STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    rm -f "$RUN/$name.pid"
    say "stopped $name"
}

cmd_down() {
    local i
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do svc_stop "${SERVICES[$i]}"; done
    "$REPO/scripts/pg.sh" stop || true
    "$REPO/scripts/kafka.sh" stop || true
}

cmd_status() {
    local s pid
    for s in "${SERVICES[@]}"; do
        if pid="$(svc_pid "$s")"; then say "$s: running (pid $pid)"; else say "$s: stopped"; fi
    done
    "$REPO/scripts/kafka.sh" status || true
    "$REPO/scripts/pg.sh" status || true
}

mock_ready() { grep -qE 'listening\b.*\bport=' "$LOGS/mock-llm.log" 2>/dev/null && port_open "$MOCK_LLM_PORT"; }
gateway_ready() {
    local code
    code="$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' -m 2 \
        "http://127.0.0.1:$GATEWAY_PORT/readyz" 2>/dev/null)" || return 1
    # 404: a gateway without /readyz; its port answers, which is all it can tell.
    [[ "$code" == 200 || "$code" == 404 ]]
}

STOPPING=0
on_signal() {
    ((STOPPING)) && return
    STOPPING=1
    echo
    say "stopping (reverse order)"
    cmd_down
    exit 130
}

cmd_up() {
    local s
    for s in "${SERVICES[@]}"; do
        svc_pid "$s" >/dev/null && die "$s already runs (pid $(cat "$RUN/$s.pid")); run make down first"
    done
    mkdir -p "$RUN" "$LOGS"
    trap on_signal INT TERM

    [[ "${STACK_SKIP_DEPS:-0}" == 1 ]] || "$REPO/scripts/deps.sh"
    if [[ "${STACK_SKIP_BUILD:-0}" != 1 ]]; then
        make -C "$REPO" -s --no-print-directory -j2 || die "build failed"
        build_frontend
    fi

    local kafka_port="${KAFKA_PORT:-9092}"
    KAFKA_PORT="$kafka_port" "$REPO/scripts/kafka.sh" start >"$RUN/kafka-start.out" ||
        { cat "$RUN/kafka-start.out"; die "Kafka did not start"; }
    grep -v '^KAFKA_BROKERS=' "$RUN/kafka-start.out" || true
    KAFKA_PORT="$kafka_port" "$REPO/scripts/kafka.sh" topics
    local db_url pg_out
    pg_out="$("$REPO/scripts/pg.sh" start)" || die "PostgreSQL did not start"
    grep -v '^DATABASE_URL=' <<<"$pg_out" || true
    db_url="$(sed -n 's/^DATABASE_URL=//p' <<<"$pg_out")"
    [[ -n "$db_url" ]] || die "no DATABASE_URL from pg.sh"
    if [[ -f "$REPO/schema/migrate.sh" ]]; then
        say "running schema/migrate.sh"
        DATABASE_URL="$db_url" bash "$REPO/schema/migrate.sh" || die "schema/migrate.sh failed"
    else
        say "note: no schema/migrate.sh yet, database left empty"
    fi

    local -a common=("KAFKA_BROKERS=127.0.0.1:$kafka_port" "DATABASE_URL=$db_url")
    local mode
    if [[ -n "${OPENAI_API_KEY:-}" ]]; then
        local dflt="the services' default"
        mode="real API at ${OPENAI_BASE_URL:-$dflt base URL}, model ${OPENAI_MODEL:-$dflt}"
        common+=("OPENAI_API_KEY=$OPENAI_API_KEY")
        [[ -n "${OPENAI_BASE_URL:-}" ]] && common+=("OPENAI_BASE_URL=$OPENAI_BASE_URL")
        [[ -n "${OPENAI_MODEL:-}" ]] && common+=("OPENAI_MODEL=$OPENAI_MODEL")
    else
        mode="mock-llm on 127.0.0.1:$MOCK_LLM_PORT: a MOCK with canned replies, not a model (set OPENAI_API_KEY for a real one)"
        common+=("OPENAI_API_KEY=mock" "OPENAI_BASE_URL=http://127.0.0.1:$MOCK_LLM_PORT/v1" "GATEWAY_LLM_LABEL=mock"
                 "OPENAI_MODEL=${OPENAI_MODEL:-mock-llm}")
    fi

    local started=()
    for s in "${SERVICES[@]}"; do
        if [[ "$s" == mock-llm && -n "${OPENAI_API_KEY:-}" ]]; then
            continue
        fi
        if [[ ! -x "$BIN/$s" ]]; then
            say "note: $s not built yet (no $BIN/$s), skipped"
            continue
        fi
        case "$s" in
            mock-llm)
                port_open "$MOCK_LLM_PORT" && die "port $MOCK_LLM_PORT is in use (set MOCK_LLM_PORT)"
                svc_start mock-llm "MOCK_LLM_PORT=$MOCK_LLM_PORT" "MOCK_LLM_HOST=127.0.0.1"
                svc_wait mock-llm 15 mock_ready ;;
            gateway)
                port_open "$GATEWAY_PORT" && die "port $GATEWAY_PORT is in use (set GATEWAY_PORT)"
                svc_start gateway "${common[@]}" "GATEWAY_PORT=$GATEWAY_PORT" \
                    "GATEWAY_STATIC_DIR=$REPO/frontend/out"
                svc_wait gateway 30 gateway_ready ;;
            *)
                svc_start "$s" "${common[@]}"
                sleep 0.3
                svc_wait "$s" 1 true ;;
        esac
        started+=("$s")
        say "started $s (pid $(cat "$RUN/$s.pid"), log $LOGS/$s.log)"
    done

    echo
    say "up: ${started[*]:-no services}"
    say "LLM: $mode"
    if [[ " ${started[*]:-} " == *" gateway "* ]]; then
        say "open http://localhost:$GATEWAY_PORT   (WebSocket ws://localhost:$GATEWAY_PORT/ws/session)"
    else
        say "no gateway yet: http://localhost:$GATEWAY_PORT will not answer"
    fi
    say "Kafka 127.0.0.1:$kafka_port, $db_url; logs in $LOGS; Ctrl-C stops everything"

    # Watch: report a service that dies (once); leave when someone ran `down` elsewhere.
    declare -A reported=()
    while :; do
        sleep 1 &
        wait $! || true
        local alive=0
        for s in "${started[@]}"; do
            if svc_pid "$s" >/dev/null; then
                alive=1
            elif [[ -z "${reported[$s]:-}" ]]; then
                reported[$s]=1
                [[ -f "$RUN/$s.pid" ]] || continue   # stopped by `down`, not a crash
                say "$s exited; last lines of $LOGS/$s.log:"
                tail -n 15 "$LOGS/$s.log" | sed 's/^/    /'
            fi
        done
        if ((!alive)) && ! "$REPO/scripts/kafka.sh" status >/dev/null 2>&1; then
            say "stack stopped elsewhere; leaving"
            trap - INT TERM
            return 0
        fi
    done
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
