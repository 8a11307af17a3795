#!/usr/bin/env bash
# migrate.sh: apply schema/migrations/NNNN_name.sql to $DATABASE_URL, in order, each once.
#
# Usage: DATABASE_URL=postgresql://user@host:port/db schema/migrate.sh [up|status]
#   up      (default) apply every migration not yet recorded in schema_migrations
#   status  list the migrations and whether each is applied
#
# Each migration runs in its own transaction together with the row that records it, so it
# is applied completely or not at all. An advisory lock serialises concurrent runs (two
# services starting at once). Re-running is a no-op. A recorded migration whose file has
# changed since is reported (never re-applied): write a new migration instead.
#
# Environment: DATABASE_URL (required), PSQL (psql binary; default: psql on PATH, else
# /usr/lib/postgresql/15/bin/psql), MIGRATIONS_DIR (default: next to this script).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MIGRATIONS_DIR="${MIGRATIONS_DIR:-$HERE/migrations}"
LOCK_KEY=727274101   # any constant; shared by every run of this script

say() { printf 'migrate: %s\n' "$*"; }
die() { printf 'migrate: error: %s\n' "$*" >&2; exit 1; }

[[ -n "${DATABASE_URL:-}" ]] || die "DATABASE_URL is not set"
PSQL="${PSQL:-$(command -v psql || echo /usr/lib/postgresql/15/bin/psql)}"
[[ -x "$PSQL" ]] || die "psql not found (set PSQL)"
[[ -d "$MIGRATIONS_DIR" ]] || die "no migrations folder $MIGRATIONS_DIR"

# -X: no ~/.psqlrc; ON_ERROR_STOP: the first error aborts (and rolls back) the run.
run_psql() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"; }

# Sorted migration files; names are validated so that they can be used as psql variables.
migrations() {
    local f base
    for f in "$MIGRATIONS_DIR"/*.sql; do
        [[ -e "$f" ]] || continue
        base="$(basename "$f")"
        [[ "$base" =~ ^[0-9]{4}_[a-z0-9_]+\.sql$ ]] ||
            die "bad migration file name $base (want NNNN_lower_case.sql)"
        [[ "$f" != *\'* ]] || die "migration path contains a quote: $f"
        printf '%s\n' "$f"
    done | sort
}

ensure_table() {
    run_psql >/dev/null <<SQL
SET client_min_messages = warning;
SELECT pg_advisory_lock($LOCK_KEY);
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
SELECT pg_advisory_unlock($LOCK_KEY);
SQL
}

# Apply one file unless recorded; prints "applied" or "skipped <recorded checksum>".
apply_one() {
    local f="$1" base version name sum
    base="$(basename "$f" .sql)"
    version="${base%%_*}"
    name="${base#*_}"
    sum="$(sha256sum "$f" | cut -c1-64)"
    run_psql -t -A -v version="$version" -v name="$name" -v checksum="$sum" <<SQL
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT pg_advisory_xact_lock($LOCK_KEY) \gset lock_
SELECT coalesce((SELECT checksum FROM schema_migrations WHERE version = :'version'), '')
    AS recorded \gset
SELECT :'recorded' <> '' AS applied \gset
\if :applied
\echo skipped :recorded
\else
\i '$f'
INSERT INTO schema_migrations (version, name, checksum) VALUES (:'version', :'name', :'checksum');
\echo applied
\endif
COMMIT;
SQL
}

cmd_up() {
    local f out n=0 base sum
    ensure_table
    while IFS= read -r f; do
        base="$(basename "$f" .sql)"
        out="$(apply_one "$f")" || die "migration $base failed; nothing of it was applied"
        case "$out" in
            *applied*) say "applied $base"; n=$((n + 1)) ;;
            *skipped\ *)
                sum="$(sha256sum "$f" | cut -c1-64)"
                [[ "$(awk '/^skipped /{print $2}' <<<"$out")" == "$sum" ]] ||
                    say "warning: $base changed after it was applied (recorded checksum differs); not re-applied" ;;
            *) die "unexpected output from $base: $out" ;;
        esac
    done < <(migrations)
    say "up to date ($n applied now)"
}

cmd_status() {
    local f base version applied
    ensure_table
    while IFS= read -r f; do
        base="$(basename "$f" .sql)"
        version="${base%%_*}"
        # A here-document, not -c: psql interpolates variables only in script input.
        applied="$(run_psql -t -A -v version="$version" <<'SQL'
SELECT applied_at FROM schema_migrations WHERE version = :'version';
SQL
)"
        printf '%-40s %s\n' "$base" "${applied:-pending}"
    done < <(migrations)
}

case "${1:-up}" in
    up) cmd_up ;;
    status) cmd_status ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
