#!/bin/bash
# Every test, twice: a plain build and an ASan+UBSan build, each in its own
# build directory, `make check` in each.  Needs root for the end-to-end
# tests (network namespaces, a private Postfix and NSD).  Prints the test
# counts of both runs and a final "N passed, N failed" line.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ -f config.status ]; then
	echo "the source tree is configured in place; run 'make distclean' first" >&2
	exit 1
fi
[ -x configure ] || autoreconf -fi >/dev/null || exit 1
jobs=$(nproc 2>/dev/null || echo 2)
pass=0 fail=0 status=0
for variant in plain sanitizers; do
	dir="$top/build-$variant"
	flags=""
	[ "$variant" = sanitizers ] && flags="--enable-asan --enable-ubsan"
	mkdir -p "$dir"
	echo "=== $variant build ($dir)"
	if ! (cd "$dir" && "$top/configure" -q $flags >configure.out 2>&1 && make -s -j"$jobs" >make.out 2>&1); then
		echo "build failed:"; tail -30 "$dir/configure.out" "$dir/make.out" 2>/dev/null
		fail=$((fail + 1)); status=1; continue
	fi
	(cd "$dir" && make -s -j"$jobs" check) || status=1
	[ -f "$dir/test-suite.log" ] || { fail=$((fail + 1)); status=1; continue; }
	p=$(sed -n 's/^# PASS: *//p' "$dir/test-suite.log" | head -1)
	f=$(sed -n 's/^# FAIL: *//p' "$dir/test-suite.log" | head -1)
	e=$(sed -n 's/^# ERROR: *//p' "$dir/test-suite.log" | head -1)
	x=$(sed -n 's/^# XPASS: *//p' "$dir/test-suite.log" | head -1)
	pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0} + ${e:-0} + ${x:-0}))
	[ "$status" = 0 ] || grep -h -B2 -A20 '^not ok\|^ERROR\|^FAIL' "$dir"/test-suite.log | head -150
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ] && [ "$status" = 0 ]
