#!/bin/sh
# tests/e2e/store.sh - the history store against a real PostgreSQL (TAP).
#
# Starts a private PostgreSQL server (initdb in a temporary directory, run
# as the `postgres` user, listening only on a unix socket in that
# directory: no port to clash with), creates a database, and drives
# history/store_pg_test against it: the store's checks, then records
# flowing through the writer while the server is stopped and started
# again: they go to the spool, come back once it runs, and the count
# matches exactly (no record lost, none stored twice).
# Skips when not root or when PostgreSQL's server binaries are missing.
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
PGTEST=$top_builddir/history/store_pg_test
FLOW_N=${STORE_E2E_RECORDS:-3000}

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP need root (to run PostgreSQL as postgres)"
	exit 0
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
	echo "1..0 # SKIP PostgreSQL server binaries not found (Debian: postgresql)"
	exit 0
fi
if ! id postgres >/dev/null 2>&1 || ! command -v runuser >/dev/null; then
	echo "1..0 # SKIP no postgres user or no runuser"
	exit 0
fi
if [ ! -x "$PGTEST" ]; then
	echo "1..0 # SKIP $PGTEST not built (make check builds it)"
	exit 0
fi

T=$(mktemp -d /tmp/authscore-store-e2e.XXXXXX)
chown postgres "$T"
chmod 0755 "$T"
mkdir "$T/spool"
N=0
FAILED=0

ok() { N=$((N + 1)); echo "ok $N - $1"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $1"; }
check() { # check DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
diag() { sed 's/^/# /' "$@"; }
# wait_for SECONDS WHAT COMMAND... - run COMMAND every 0.1 s until it
# succeeds; after SECONDS of wall-clock time give up, saying WHAT
wait_for() {
	_secs=$1 _what=$2
	shift 2
	_end=$(($(date +%s) + _secs))
	while :; do
		_now=$(date +%s)
		"$@" && return 0
		[ "$_now" -lt "$_end" ] || break
		sleep 0.1
	done
	echo "# gave up after ${_secs}s waiting for: $_what"
	return 1
}
as_pg() { runuser -u postgres -- "$@"; }
pg_start() { as_pg "$PGBIN/pg_ctl" -D "$T/data" -l "$T/pg.log" -w -t 30 start >/dev/null; }
pg_stop() { as_pg "$PGBIN/pg_ctl" -D "$T/data" -m fast -w -t 30 stop >/dev/null 2>&1; }
cleanup() {
	[ -n "${FLOW_PID:-}" ] && kill "$FLOW_PID" 2>/dev/null
	pg_stop
	if [ "$FAILED" = 0 ] && [ -z "${E2E_KEEP:-}" ]; then rm -rf "$T"; else echo "# kept $T"; fi
}
trap cleanup EXIT

if ! as_pg "$PGBIN/initdb" -D "$T/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
	>"$T/initdb.log" 2>&1; then
	echo "1..0 # SKIP initdb failed"
	diag "$T/initdb.log"
	exit 0
fi
cat >>"$T/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$T'
fsync = off
EOF
echo "1..7"
check "PostgreSQL starts" pg_start || { diag "$T/pg.log"; exit 1; }
as_pg "$PGBIN/createdb" -h "$T" -U postgres authscore
export AUTHSCORE_PG_URL="postgresql:///authscore?host=$T&user=postgres"
psql_q() { as_pg "$PGBIN/psql" -h "$T" -U postgres -At -d authscore -c "$1"; }

# 1: the store's own checks
"$PGTEST" >"$T/checks.out" 2>&1
rc=$?
if [ $rc = 0 ] && ! grep -q '^not ok' "$T/checks.out" && grep -q '^1\.\.[1-9]' "$T/checks.out"; then
	ok "store checks against PostgreSQL ($(grep -c '^ok' "$T/checks.out") passed)"
else
	not_ok "store checks against PostgreSQL"
	diag "$T/checks.out"
fi
check "schema_version is 1" test "$(psql_q 'SELECT version FROM schema_version')" = 1

# 2: records flowing while the server goes away and comes back.  The flow
# takes at least FLOW_N x 2 ms; the server goes once its first records are
# stored, and comes back once records are in the spool.
flow_stored() {
	[ "$(psql_q 'SELECT count(*) FROM messages WHERE "time" >= 1000000 AND "time" < 100000000' 2>/dev/null)" -gt 0 ] 2>/dev/null
}
"$PGTEST" flow "$FLOW_N" "$T/spool" >"$T/flow.out" 2>"$T/flow.err" &
FLOW_PID=$!
wait_for 60 "the flow's first records in PostgreSQL" flow_stored
pg_stop
wait_for 60 "records in $T/spool/authscore-spool.jsonl" test -s "$T/spool/authscore-spool.jsonl"
if [ -s "$T/spool/authscore-spool.jsonl" ]; then
	ok "PostgreSQL down: records go to the spool ($(wc -l <"$T/spool/authscore-spool.jsonl") lines so far)"
else
	not_ok "PostgreSQL down: records go to the spool"
	diag "$T/flow.err"
fi
pg_start
wait "$FLOW_PID"
rc=$?
FLOW_PID=
diag "$T/flow.out"
spooled=$(sed -n 's/.*spooled=\([0-9]*\).*/\1/p' "$T/flow.out")
reloaded=$(sed -n 's/.*reloaded=\([0-9]*\).*/\1/p' "$T/flow.out")
dropped=$(sed -n 's/.*dropped=\([0-9]*\).*/\1/p' "$T/flow.out")
if [ $rc = 0 ] && [ "${spooled:-0}" -gt 0 ] && [ "${reloaded:-0}" -ge "$spooled" ] &&
	[ "${dropped:-1}" = 0 ] && [ ! -e "$T/spool/authscore-spool.jsonl" ]; then
	ok "PostgreSQL back: the spool is loaded and removed"
else
	not_ok "PostgreSQL back: the spool is loaded and removed"
	diag "$T/flow.err"
fi
count=$("$PGTEST" count 2>>"$T/flow.err")
check "every record stored exactly once ($count of $FLOW_N)" test "$count" = "$FLOW_N"
check "no uid twice" test "$(psql_q 'SELECT count(*) - count(DISTINCT uid) FROM messages')" = 0
[ "$FAILED" = 0 ]
