#!/usr/bin/env bash
# kafka.sh: a throw-away single-node Kafka 3.9 broker (KRaft, no ZooKeeper) for development and tests.
#
# Usage: scripts/kafka.sh start|stop|restart|status|topics|list|fetch|logs
#   fetch    put the broker jars in place (Maven; skipped when they are already there)
#   start    write server.properties, format storage once, start the broker in the background and
#            wait until it is ready; prints KAFKA_BROKERS=127.0.0.1:<port> on its last line
#   stop     SIGTERM, wait up to KAFKA_STOP_TIMEOUT s, then SIGKILL
#   status   exit 0 when running (prints pid and port), 3 when stopped
#   topics   create the project topics, idempotently (TopicCommand --if-not-exists, run in parallel)
#   list     list the topics with their partition counts
#   logs     tail the broker log
#
# Environment (all optional):
#   STATE_DIR          state folder, default <repo>/.state; this script uses $STATE_DIR/kafka
#   KAFKA_PORT         client listener on 127.0.0.1, default 9092 (or the port of the last start in
#                      this STATE_DIR); the controller listens on KAFKA_CONTROLLER_PORT (KAFKA_PORT+1)
#   KAFKA_HEAP         default "-Xmx768m -Xms256m"
#   KAFKA_PARTITIONS   partitions per project topic and the broker's num.partitions, default 12
#   KAFKA_TOPICS       space-separated "name[:compact]" list,
#                      default "chat.requests chat.events chat.context:compact chat.dlq"
#   KAFKA_EXTRA_CONFIG extra server.properties lines (newline-separated key=value), appended last
#   KAFKA_LIBS         jar folder; default $STATE_DIR/kafka/libs, or <repo>/.state/kafka/libs when
#                      that one is complete and the former is not (so tests do not fetch again)
#   KAFKA_START_TIMEOUT / KAFKA_STOP_TIMEOUT   seconds, default 90 / 30
#   JAVA               java binary, default java (needs Java 11+; Debian 12's 17 is used)
#
# Tests: run a private broker on a free port with its own state, e.g.
#   STATE_DIR=/tmp/x KAFKA_PORT=19092 scripts/kafka.sh start
#   STATE_DIR=/tmp/x KAFKA_PORT=19092 KAFKA_PARTITIONS=3 scripts/kafka.sh topics
#   STATE_DIR=/tmp/x scripts/kafka.sh stop && rm -rf /tmp/x
# Both ports (KAFKA_PORT and KAFKA_PORT+1) must be free. The jars are shared with the repo's
# .state/kafka/libs when that holds them, so a test start needs no Maven run.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${STATE_DIR:-$REPO/.state}"
KDIR="$STATE_DIR/kafka"
POM="$REPO/scripts/kafka/pom.xml"
JAVA="${JAVA:-java}"
KAFKA_HEAP="${KAFKA_HEAP:--Xmx768m -Xms256m}"
KAFKA_PARTITIONS="${KAFKA_PARTITIONS:-12}"
KAFKA_TOPICS="${KAFKA_TOPICS:-chat.requests chat.events chat.context:compact chat.dlq}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
if [[ -z "${KAFKA_PORT:-}" ]]; then
    KAFKA_PORT=9092
    [[ -s "$KDIR/port" ]] && KAFKA_PORT="$(cat "$KDIR/port")"
fi
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
PIDFILE="$KDIR/kafka.pid"
LOGDIR="$KDIR/logs"
KAFKA_CDS="${KAFKA_CDS:-1}"
# JVM notes go to stderr at level error only: a stale class-data archive must not print on stdout.
JVM_LOG=(-Xlog:disable -Xlog:all=error:stderr)

say() { printf 'kafka: %s\n' "$*"; }
die() { printf 'kafka: error: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
elapsed() { local ms=$(( $(now_ms) - $1 )); printf '%d.%01ds' $((ms / 1000)) $(((ms % 1000) / 100)); }

pom_stamp() { sha1sum "$POM" | cut -d' ' -f1; }
libs_ok() { [[ -f "$1/.complete" && "$(cat "$1/.complete")" == "$(pom_stamp)" ]]; }

pick_libs() {
    if [[ -n "${KAFKA_LIBS:-}" ]]; then
        LIBS="$KAFKA_LIBS"
    elif libs_ok "$KDIR/libs" || ! libs_ok "$REPO/.state/kafka/libs"; then
        LIBS="$KDIR/libs"
    else
        LIBS="$REPO/.state/kafka/libs"
    fi
}

# Copy the jars named by scripts/kafka/pom.xml (and their dependencies) into $LIBS.
# A lock and a temporary folder keep two concurrent fetches from leaving a half-filled folder.
cmd_fetch() {
    pick_libs
    libs_ok "$LIBS" && return 0
    command -v mvn >/dev/null || die "mvn not found (run scripts/deps.sh)"
    mkdir -p "$(dirname "$LIBS")"
    exec 9>"$LIBS.lock"
    flock 9
    if ! libs_ok "$LIBS"; then
        local t0 tmp
        t0=$(now_ms)
        tmp="$LIBS.tmp.$$"
        rm -rf "$tmp"
        say "fetching broker jars with Maven into $LIBS"
        if ! mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
                -DincludeScope=runtime -DoutputDirectory="$tmp" >"$LIBS.mvn.log" 2>&1; then
            tail -n 30 "$LIBS.mvn.log" >&2
            rm -rf "$tmp"
            die "Maven could not fetch the Kafka jars (log: $LIBS.mvn.log)"
        fi
        pom_stamp >"$tmp/.complete"
        rm -rf "$LIBS"
        mv "$tmp" "$LIBS"
        say "jars ready: $(find "$LIBS" -name '*.jar' | wc -l) files, $(du -sh "$LIBS" | cut -f1), $(elapsed "$t0")"
    fi
    exec 9>&-
}

# Prints the broker pid when its pid file names a live broker of this state folder.
running_pid() {
    [[ -s "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a recycled pid: the process must be our java with our config file.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$KDIR/server.properties" || return 1
    echo "$pid"
}

# Class-data sharing (AppCDS): each JVM kind (broker, tools) dumps the classes it loaded into an
# archive once, at its first exit; later starts map it, which halves JVM start-up (broker ~3.8 s ->
# ~1.8 s). Archives live inside $LIBS (refetching the jars drops them) in a folder named after the
# java binary, so a JDK upgrade starts a new one. KAFKA_CDS=0 turns this off.
cds_dir() {
    local jbin
    jbin="$(readlink -f "$(command -v "$JAVA")")"
    echo "$LIBS/.cds-$(printf '%s %s' "$jbin" "$(stat -c %Y "$jbin")" | cksum | cut -d' ' -f1)"
}

# Sets CDS_OPTS for a JVM of kind $1 and CDS_PENDING to the archive it will write at exit, if any.
cds_opts() {
    CDS_OPTS=() CDS_PENDING=""
    [[ "$KAFKA_CDS" == 1 ]] || return 0
    local dir
    dir="$(cds_dir)"
    if [[ -s "$dir/$1.jsa" ]]; then
        CDS_OPTS=("-XX:SharedArchiveFile=$dir/$1.jsa")
    elif mkdir -p "$dir" 2>/dev/null && [[ -w "$dir" ]]; then
        # Leftovers of JVMs that were killed before they could write their archive.
        find "$dir" -name '*.tmp.*' -mmin +60 -delete 2>/dev/null || true
        CDS_PENDING="$dir/$1.jsa.tmp.$$.$RANDOM"
        CDS_OPTS=("-XX:ArchiveClassesAtExit=$CDS_PENDING")
    fi
}

# Publishes a finished archive under its final name (rename: readers never see a partial file).
cds_commit() {
    local tmp="$1"
    [[ -n "$tmp" ]] || return 0
    if [[ -s "$tmp" ]]; then
        mv -f "$tmp" "${tmp%.tmp.*}"
    else
        rm -f "$tmp"
    fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_config() {
    mkdir -p "$KDIR/data" "$LOGDIR"
    cat >"$KDIR/server.properties" <<EOF
# Written by scripts/kafka.sh start; edits are lost on the next start (use KAFKA_EXTRA_CONFIG).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KDIR/data
num.partitions=$KAFKA_PARTITIONS
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=$KAFKA_PARTITIONS
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=$KAFKA_PARTITIONS
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
# Two shared cores: keep the thread pools small.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
log.retention.hours=24
${KAFKA_EXTRA_CONFIG:-}
EOF
    cat >"$KDIR/log4j.properties" <<EOF
# Broker log: everything at INFO to logs/server.log, nothing on the console.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$LOGDIR/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
log4j.logger.org.apache.kafka.storage.internals.log.LogLoader=WARN
EOF
    cat >"$KDIR/tools-log4j.properties" <<EOF
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

cmd_start() {
    local pid t0
    if pid="$(running_pid)"; then
        say "already running (pid $pid, port $(cat "$KDIR/port" 2>/dev/null || echo "$KAFKA_PORT"))"
        echo "KAFKA_BROKERS=127.0.0.1:$(cat "$KDIR/port" 2>/dev/null || echo "$KAFKA_PORT")"
        return 0
    fi
    command -v "$JAVA" >/dev/null || die "java not found (run scripts/deps.sh)"
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        port_open "$p" && die "port $p on 127.0.0.1 is already in use (set KAFKA_PORT)"
    done
    cmd_fetch
    t0=$(now_ms)
    write_config
    echo "$KAFKA_PORT" >"$KDIR/port"

    if [[ ! "$(cat "$KDIR/cluster.id" 2>/dev/null)" =~ ^[A-Za-z0-9_][A-Za-z0-9_-]{21}$ ]]; then
        # Kafka's Uuid text form: 16 random bytes, URL-safe base64 without padding. Like
        # Uuid.randomUuid(), draw again when it starts with '-' (it would read as an option).
        local cid="-"
        while [[ "$cid" == -* ]]; do
            cid="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
        done
        echo "$cid" >"$KDIR/cluster.id"
    fi
    if [[ ! -f "$KDIR/data/meta.properties" ]]; then
        # KAFKA_CDS=0: the tools archive should hold the classes TopicCommand loads, not these.
        if ! KAFKA_CDS=0 tool_java kafka.tools.StorageTool format \
                -t "$(cat "$KDIR/cluster.id")" -c "$KDIR/server.properties" --ignore-formatted \
                >"$LOGDIR/format.log" 2>&1; then
            cat "$LOGDIR/format.log" >&2
            die "formatting storage failed"
        fi
    fi

    rm -f "$PIDFILE"
    cds_opts broker
    echo "$CDS_PENDING" >"$KDIR/cds.pending"
    [[ -f "$LOGDIR/server.log" ]] && mv -f "$LOGDIR/server.log" "$LOGDIR/server.log.prev"
    : >"$LOGDIR/server.log"
    # setsid: a Ctrl-C in the calling terminal must not reach the broker; stack.sh stops it in order.
    # The inner shell writes its own pid, then becomes java (exec keeps the pid).
    # shellcheck disable=SC2086,SC2016  # KAFKA_HEAP holds several options; $$ is the inner shell's
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" \
        "$JAVA" $KAFKA_HEAP "${JVM_LOG[@]}" "${CDS_OPTS[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
        -XX:MaxMetaspaceSize=256m -Djava.awt.headless=true \
        "-Dkafka.logs.dir=$LOGDIR" "-Dlog4j.configuration=file:$KDIR/log4j.properties" \
        -cp "$LIBS/*" kafka.Kafka "$KDIR/server.properties" \
        </dev/null >"$LOGDIR/kafka.out" 2>&1 &

    local deadline=$(( $(date +%s) + KAFKA_START_TIMEOUT ))
    while :; do
        if grep -q 'Kafka Server started' "$LOGDIR/server.log" 2>/dev/null && port_open "$KAFKA_PORT"; then
            break
        fi
        # The pid file appears a moment after the launch; once it is there the pid must live.
        if [[ -s "$PIDFILE" ]] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
            tail -n 20 "$LOGDIR/kafka.out" "$LOGDIR/server.log" >&2 || true
            die "broker exited during start-up (logs in $LOGDIR)"
        fi
        if (( $(date +%s) >= deadline )); then
            tail -n 20 "$LOGDIR/server.log" >&2 || true
            cmd_stop >/dev/null 2>&1 || true
            die "broker not ready after ${KAFKA_START_TIMEOUT}s (logs in $LOGDIR)"
        fi
        sleep 0.2
    done
    say "started on 127.0.0.1:$KAFKA_PORT (pid $(cat "$PIDFILE")) in $(elapsed "$t0"); log $LOGDIR/server.log"
    echo "KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
}

cmd_stop() {
    local pid t0
    if ! pid="$(running_pid)"; then
        say "not running"
        rm -f "$PIDFILE"
        return 0
    fi
    t0=$(now_ms)
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(( $(date +%s) + KAFKA_STOP_TIMEOUT )) killed=0
    while kill -0 "$pid" 2>/dev/null; do
        if (( $(date +%s) >= deadline )); then
            say "no exit after ${KAFKA_STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            killed=1
            break
        fi
        sleep 0.2
    done
    rm -f "$PIDFILE"
    # A broker started without an archive wrote one as it exited (not when killed).
    if [[ -s "$KDIR/cds.pending" ]]; then
        local tmp
        tmp="$(cat "$KDIR/cds.pending")"
        if ((killed)); then rm -f "$tmp"; else cds_commit "$tmp"; fi
    fi
    rm -f "$KDIR/cds.pending"
    say "stopped (pid $pid) in $(elapsed "$t0")"
}

cmd_status() {
    local pid
    if pid="$(running_pid)"; then
        local rss
        rss=$(awk '/^VmRSS/ {printf "%d MiB", $2 / 1024}' "/proc/$pid/status" 2>/dev/null || true)
        say "running: pid $pid, 127.0.0.1:$KAFKA_PORT, RSS ${rss:-?}, state $KDIR"
        return 0
    fi
    say "stopped (state $KDIR)"
    return 3
}

need_running() {
    running_pid >/dev/null || die "broker not running (scripts/kafka.sh start)"
    pick_libs
    libs_ok "$LIBS" || die "jars missing in $LIBS"
}

# Runs one Kafka command-line tool (main class $1). Tools only talk to the broker briefly: a small
# heap and C1-only JIT start them faster; the first tool run also writes the tools archive.
tool_java() {
    local rc=0
    cds_opts tools
    "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 "${JVM_LOG[@]}" "${CDS_OPTS[@]}" \
        "-Dlog4j.configuration=file:$KDIR/tools-log4j.properties" -cp "$LIBS/*" "$@" || rc=$?
    cds_commit "$CDS_PENDING"
    return "$rc"
}

topic_cmd() {
    tool_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" "$@"
}

# One JVM per topic (TopicCommand creates one topic per call), all started at once.
cmd_topics() {
    need_running
    local t0 spec name tmp i=0 fail=0
    local -a pids=() names=()
    t0=$(now_ms)
    # One --list first (about 1 s) so that a re-run starts no further JVM when all topics exist.
    local existing
    existing="$(topic_cmd --list 2>/dev/null || true)"
    tmp="$(mktemp -d)"
    for spec in $KAFKA_TOPICS; do
        name="${spec%%:*}"
        if grep -qxF "$name" <<<"$existing"; then
            continue
        fi
        local -a extra=()
        # Compacted topics roll segments hourly so the cleaner keeps restores short.
        [[ "$spec" == *:compact ]] && extra=(--config cleanup.policy=compact --config segment.ms=3600000 --config min.cleanable.dirty.ratio=0.1)
        topic_cmd --create --if-not-exists --topic "$name" --partitions "$KAFKA_PARTITIONS" \
            --replication-factor 1 "${extra[@]}" >"$tmp/$i" 2>&1 &
        pids+=($!)
        names+=("$name")
        i=$((i + 1))
    done
    for i in "${!pids[@]}"; do
        if ! wait "${pids[$i]}"; then
            fail=1
            printf 'kafka: creating %s failed:\n' "${names[$i]}" >&2
            cat "$tmp/$i" >&2
        fi
    done
    rm -rf "$tmp"
    ((fail == 0)) || die "topic creation failed"
    if ((${#names[@]} == 0)); then
        say "topics already exist ($KAFKA_TOPICS) in $(elapsed "$t0")"
    else
        say "created ${names[*]} ($KAFKA_PARTITIONS partitions) in $(elapsed "$t0")"
    fi
}

cmd_list() {
    need_running
    # --describe prints one summary line per topic ("Topic: x ... PartitionCount: n ...").
    topic_cmd --describe --exclude-internal | awk '/^Topic:/ {
        line = $2; for (i = 3; i <= NF; i++) if ($i == "PartitionCount:" || $i == "Configs:") {
            line = line "  " $i " " $(i + 1) } print line }'
}

case "${1:-}" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    status) cmd_status ;;
    topics) cmd_topics ;;
    list) cmd_list ;;
    logs) tail -n "${LINES:-50}" -F "$LOGDIR/server.log" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
