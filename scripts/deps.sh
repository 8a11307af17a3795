#!/usr/bin/env bash
# deps.sh: install what building, testing and running the stack needs on Debian 12; idempotent.
#
# Usage: scripts/deps.sh          (as root, or as a user with sudo)
#   1. Debian packages: checked with one dpkg-query; when some are missing, one `apt-get update`
#      and one `apt-get install` for just those (no recommends).
#   2. Python test packages from requirements-test.txt with pip, skipped while a stamp
#      (<repo>/.state/deps/pip.stamp: it is about the machine, not about one STATE_DIR)
#      matches the file and the python3, and the modules import.
#   3. The Kafka broker jars (scripts/kafka.sh fetch), skipped when present.
# A re-run with everything present takes well under 2 s and prints one line.
#
# Environment (all optional):
#   STATE_DIR       state folder, default <repo>/.state (Kafka jars, see scripts/kafka.sh)
#   DEPS_EXTRA_APT  more Debian packages to ensure, space-separated
#   DEPS_SKIP       space-separated phases to skip: apt pip kafka
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${STATE_DIR:-$REPO/.state}"
export STATE_DIR
DEPS_SKIP=" ${DEPS_SKIP:-} "

# The brief's list, plus what the Kafka broker needs (a Java 17 runtime, Maven to fetch its jars)
# and fonts so that headless Chromium renders text.
APT_PKGS=(build-essential pkg-config librdkafka-dev libwebsockets-dev libcurl4-openssl-dev
          libjansson-dev libpq-dev uuid-dev libssl-dev libcmocka-dev postgresql postgresql-contrib valgrind
          docker-compose chromium curl jq
          openjdk-17-jre-headless maven fonts-liberation util-linux python3
          clang libclang-rt-14-dev)
# shellcheck disable=SC2206  # word splitting wanted
APT_PKGS+=(${DEPS_EXTRA_APT:-})

say() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }
elapsed() { local ms=$(( $(now_ms) - $1 )); printf '%d.%01ds' $((ms / 1000)) $(((ms % 1000) / 100)); }

SUDO=()
if [[ $EUID -ne 0 ]]; then
    command -v sudo >/dev/null || die "not root and no sudo"
    SUDO=(sudo)
fi

T0=$(now_ms)
summary=()

apt_phase() {
    local -a missing=()
    local pkg status
    # One dpkg-query for all: "name status" per known package; unknown ones print nothing.
    declare -A ok=()
    while read -r pkg status; do
        [[ "$status" == ii ]] && ok[$pkg]=1
    done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${APT_PKGS[@]}" 2>/dev/null || true)
    for pkg in "${APT_PKGS[@]}"; do
        [[ -n "${ok[$pkg]:-}" ]] || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        summary+=("apt ok")
        return 0
    fi
    local t0 log
    t0=$(now_ms)
    log="$(mktemp)"
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! "${SUDO[@]}" apt-get update -qq >"$log" 2>&1; then
        cat "$log" >&2
        die "apt-get update failed"
    fi
    if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "apt-get install failed"
    fi
    rm -f "$log"
    summary+=("apt installed ${#missing[@]} in $(elapsed "$t0")")
}

pip_phase() {
    local req="$REPO/requirements-test.txt" stamp="$REPO/.state/deps/pip.stamp" want
    [[ -f "$req" ]] || die "$req missing"
    want="$(printf '%s %s' "$(command -v python3)" "$(sha1sum <"$req")")"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] &&
            python3 -c 'import pytest, websockets, psycopg, requests' 2>/dev/null; then
        summary+=("pip ok")
        return 0
    fi
    local t0 log
    t0=$(now_ms)
    log="$(mktemp)"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            --no-install-recommends python3-pip >"$log" 2>&1 || { cat "$log" >&2; die "python3-pip install failed"; }
    fi
    local -a pip=(python3 -m pip install -q --disable-pip-version-check -r "$req")
    # Debian's own python3 refuses pip installs (PEP 668) unless told; a pyenv or venv one does not.
    if python3 -c 'import sys, sysconfig, os; sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))' \
            && [[ -z "${VIRTUAL_ENV:-}" ]]; then
        pip+=(--break-system-packages)
    fi
    # Installs into the interpreter's own site-packages, hence as the user that owns it.
    if [[ -w "$(python3 -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" ]]; then
        "${pip[@]}" >"$log" 2>&1 || { cat "$log" >&2; die "pip install failed"; }
    else
        "${SUDO[@]}" "${pip[@]}" >"$log" 2>&1 || { cat "$log" >&2; die "pip install failed"; }
    fi
    rm -f "$log"
    python3 -c 'import pytest, websockets, psycopg, requests' || die "test packages do not import"
    mkdir -p "$(dirname "$stamp")"
    echo "$want" >"$stamp"
    summary+=("pip installed in $(elapsed "$t0")")
}

kafka_phase() {
    local out
    out="$("$REPO/scripts/kafka.sh" fetch)" || die "Kafka jars: fetch failed"
    if [[ -n "$out" ]]; then
        summary+=("kafka jars fetched (${out##*jars ready: })")
    else
        summary+=("kafka jars ok")
    fi
}

[[ "$DEPS_SKIP" == *" apt "* ]] || apt_phase
[[ "$DEPS_SKIP" == *" pip "* ]] || pip_phase
[[ "$DEPS_SKIP" == *" kafka "* ]] || kafka_phase
line="${summary[0]}"
for part in "${summary[@]:1}"; do line+=", $part"; done
say "$line ($(elapsed "$T0"))"
