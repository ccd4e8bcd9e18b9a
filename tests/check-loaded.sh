#!/bin/bash
# check-loaded.sh - run tests/check-all.sh RUNS times in a row (default 3)
# while LOAD CPU-bound processes (default 2, one per core here) run beside
# it, as a slow or busy machine would.  A test that is green on an idle
# machine and red here waits for something asynchronous the wrong way (a
# fixed sleep, a read before the effect): fix the test, not the load.
#
# Usage (as root, in a clean clone):  tests/check-loaded.sh [RUNS [LOAD]]
# Prints each run's closing line, then "N passed, N failed" over all runs.
# The load processes are ended however this script ends.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
load=${2:-2}
case "$runs$load" in *[!0-9]*)
	echo "usage: $0 [RUNS [LOAD]]" >&2
	exit 2
	;;
esac

burners=()
stop_load() {
	[ ${#burners[@]} -gt 0 ] && kill "${burners[@]}" 2>/dev/null
	wait 2>/dev/null
}
trap stop_load EXIT
trap 'exit 130' INT TERM
for _ in $(seq "$load"); do
	# a shell loop that never sleeps: one core busy at normal priority
	bash -c 'while :; do :; done' &
	burners+=($!)
done

pass=0 fail=0 status=0
for run in $(seq "$runs"); do
	echo "=== run $run of $runs, with $load CPU-bound processes beside it"
	"$top/tests/check-all.sh" >"$top/check-loaded.$run.out" 2>&1
	rc=$?
	last=$(tail -1 "$top/check-loaded.$run.out")
	echo "run $run: $last (exit $rc; output in check-loaded.$run.out)"
	p=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ] || [ "$rc" != 0 ]; then
		status=1
		grep -h '^not ok\|^FAIL\|^ERROR' "$top/check-loaded.$run.out" | head -20
	fi
	pass=$((pass + ${p:-0}))
	fail=$((fail + ${f:-1}))
done
echo "$pass passed, $fail failed"
[ "$status" = 0 ] && [ "$fail" = 0 ]
