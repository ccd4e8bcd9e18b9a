#!/bin/bash
# tests/spf-suite/run.sh - an openspf-format SPF test suite (default: pyspf's
# own, pyspf-test.yml beside this file) through `authscore test`, against a
# real DNS server: NSD on 127.0.0.1, in private network and mount
# namespaces, so no query leaves the machine.  Prints TAP, one test a case.
#
# Each YAML document's zone data is served as the root zone by its own NSD
# (yaml2zone.py); authscore's resolver has that NSD as its only server
# (dns-stub for the root, and for the reserved zones unbound would answer
# itself).  A case passes when the spf= result for its
# identity (smtp.mailfrom, or smtp.helo for the null sender) is one of the
# acceptable results and, where the case gives an explanation, the SMTP
# reply carries it (on-spf-fail reject; "DEFAULT" means the record gave
# none).  Cases for pyspf's non-RFC strictness modes are skipped.
#
# Environment: top_srcdir, top_builddir (automake sets them), AUTHSCORE (the
# tool, default $top_builddir/authscore), SPF_SUITE (another YAML file),
# SPF_SUITE_KEEP=1 (keep the temporary directory), SPF_SUITE_PORT (5353).
# Needs root (unshare), nsd, and python3 with the yaml module.
set -u

here=$(cd "$(dirname "$0")" && pwd)
: "${top_srcdir:=$(cd "$here/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${AUTHSCORE:=$top_builddir/authscore}"
: "${SPF_SUITE:=$here/pyspf-test.yml}"
: "${SPF_SUITE_PORT:=5353}"
export top_srcdir top_builddir AUTHSCORE SPF_SUITE SPF_SUITE_PORT

if [ -z "${SPF_SUITE_IN_NS:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "1..0 # SKIP need root (unshare, NSD)"
		exit 0
	fi
	export SPF_SUITE_IN_NS=1
	# A PID namespace too, when the kernel allows: whatever this script
	# started dies with it.
	if unshare --net --mount --pid --fork --kill-child --mount-proc true 2>/dev/null; then
		exec unshare --net --mount --pid --fork --kill-child --mount-proc /bin/bash "$0" "$@"
	elif unshare --net --mount true 2>/dev/null; then
		exec unshare --net --mount /bin/bash "$0" "$@"
	fi
	echo "1..0 # SKIP need root: unshare --net --mount failed"
	exit 0
fi

python=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import yaml' 2>/dev/null; then
		python=$p
		break
	fi
done
[ -n "$python" ] || { echo "1..0 # SKIP python3 with the yaml module (python3-yaml) not found"; exit 0; }
command -v nsd >/dev/null || { echo "1..0 # SKIP nsd not installed"; exit 0; }
[ -x "$AUTHSCORE" ] || { echo "Bail out! $AUTHSCORE not built"; exit 1; }

ip link set lo up || { echo "Bail out! cannot bring lo up"; exit 1; }
tmp=$(mktemp -d /tmp/spf-suite.XXXXXX)
NSD_PID=
cleanup() {
	[ -n "$NSD_PID" ] && kill "$NSD_PID" 2>/dev/null && wait "$NSD_PID" 2>/dev/null
	if [ "${SPF_SUITE_KEEP:-0}" = 1 ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

"$python" "$here/yaml2zone.py" "$SPF_SUITE" "$tmp" || { echo "Bail out! yaml2zone.py failed"; exit 1; }

n=0 failed=0
diag() { sed 's/^/# /'; }

start_nsd() { # DOCDIR
	local d=$1 name
	cat >"$d/nsd.conf" <<-EOF
		server:
		  ip-address: 127.0.0.1@$SPF_SUITE_PORT
		  username: ""
		  chroot: ""
		  zonesdir: "$d"
		  database: ""
		  zonelistfile: "$d/zone.list"
		  pidfile: "$d/nsd.pid"
		  xfrdfile: "$d/xfrd.state"
		  xfrdir: "$d"
		  logfile: "$d/nsd.log"
		  cookie-secret-file: "$d/cookie-secrets"
		  server-count: 1
		  verbosity: 1
		remote-control:
		  control-enable: no
		zone:
		  name: "."
		  zonefile: "$d/root.zone"
	EOF
	# TIMEOUT-only names: a zone NSD cannot load answers SERVFAIL.
	while read -r name; do
		[ -n "$name" ] && printf 'zone:\n  name: "%s"\n  zonefile: "%s/absent.zone"\n' \
			"$name" "$d" >>"$d/nsd.conf"
	done <"$d/servfail.list"
	nsd -d -c "$d/nsd.conf" >"$d/nsd.stderr" 2>&1 &
	NSD_PID=$!
	# a deadline in wall-clock time, generous for a loaded machine
	local end=$((SECONDS + 30))
	until grep -q 'nsd started' "$d/nsd.log" 2>/dev/null || [ "$SECONDS" -ge "$end" ]; do
		sleep 0.1
	done
	if ! grep -q 'nsd started' "$d/nsd.log" 2>/dev/null; then
		echo "Bail out! NSD did not start for $d within 30 s (no 'nsd started' in its log)"
		cat "$d/nsd.stderr" "$d/nsd.log" 2>/dev/null | diag
		exit 1
	fi
	if grep -i error "$d/nsd.log" | grep -qv 'absent.zone'; then
		grep -i error "$d/nsd.log" | diag
	fi
}

stop_nsd() {
	[ -n "$NSD_PID" ] && kill "$NSD_PID" 2>/dev/null && wait "$NSD_PID" 2>/dev/null
	NSD_PID=
}

# run_case DOC NAME HELO IP MAILFROM RESULTS EXPLANATION SKIP DESC
run_case() {
	local doc=$1 name=$2 helo=$3 ip=$4 from=$5 results=$6 exp=$7 skip=$8
	local conf=$tmp/doc$doc/authscore.conf out flat prop got re action want ok=1 why=
	n=$((n + 1))
	if [ -n "$skip" ]; then
		printf 'ok %d - doc%s %s: %s # SKIP %s\n' "$n" "$doc" "$name" "$results" "$skip"
		return
	fi
	local args=(test -c "$conf" --ip "$ip" --mail-from "$from")
	[ -n "$helo" ] && args+=(--helo "$helo")
	out=$(printf 'Subject: %s\n\nspf suite\n' "$name" | "$AUTHSCORE" "${args[@]}" 2>"$tmp/stderr")
	flat=$(tr '\n\t' '  ' <<<"$out")
	prop=smtp.mailfrom
	[ -z "$from" ] && prop=smtp.helo
	re="spf=([a-z]+)( \\(([^()\\\\]|\\\\.)*\\))? ${prop//./\\.}="
	got=
	[[ $flat =~ $re ]] && got=${BASH_REMATCH[1]}
	case " $results " in
	*" $got "*) [ -n "$got" ] || ok=0 ;;
	*) ok=0 why="spf=${got:-?} for $prop" ;;
	esac
	if [ "$ok" = 1 ] && [ -n "$exp" ] && [ "$got" = fail ]; then
		action=$(sed -n 's/^action: //p' <<<"$out")
		if [ "$exp" = DEFAULT ]; then
			[[ $action == *"does not permit this client" ]] || ok=0
		else
			want="reject 550 5.7.23 SPF check failed: $exp"
			[ "$action" = "$want" ] || ok=0
		fi
		[ "$ok" = 1 ] || why="explanation: $action"
	fi
	if grep -qE 'runtime error:|ERROR: [A-Za-z]+Sanitizer' "$tmp/stderr"; then
		ok=0 why="sanitizer report"
	fi
	if [ "$ok" = 1 ]; then
		printf 'ok %d - doc%s %s: %s\n' "$n" "$doc" "$name" "$got"
	else
		failed=$((failed + 1))
		printf 'not ok %d - doc%s %s: want %s%s (%s)\n' "$n" "$doc" "$name" "$results" \
			"${exp:+, explanation \"$exp\"}" "$why"
		{ printf '%s\n' "${args[*]}" "$out"; tail -n 20 "$tmp/stderr"; } | diag
	fi
}

current=
while IFS=$'\x1f' read -r doc name helo ip from results exp skip desc; do
	if [ "$doc" != "$current" ]; then
		stop_nsd
		start_nsd "$tmp/doc$doc"
		{
			# every name is served (TIMEOUT cases by SERVFAIL zones), so
			# no lookup waits out dns-timeout: it is long only so that a
			# loaded machine's slow answer is not taken for a timeout
			printf '%s\n' "dns-stub . 127.0.0.1@$SPF_SUITE_PORT" "dns-timeout 10s" \
				"log-to stderr" "trusted-networks 255.255.255.255/32" \
				"on-spf-fail reject" "on-spf-permerror accept" \
				"on-spf-temperror accept"
			# zones unbound would otherwise answer itself (yaml2zone.py)
			sed "s/.*/dns-stub & 127.0.0.1@$SPF_SUITE_PORT/" "$tmp/doc$doc/stubs.list"
		} >"$tmp/doc$doc/authscore.conf"
		current=$doc
	fi
	run_case "$doc" "$name" "$helo" "$ip" "$from" "$results" "$exp" "$skip" "$desc"
done <"$tmp/tests"
stop_nsd

echo "1..$n"
[ "$failed" = 0 ] || echo "# $failed of $n failed"
[ "$failed" = 0 ]
