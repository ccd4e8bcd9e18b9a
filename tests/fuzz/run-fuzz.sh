#!/bin/sh
# run-fuzz.sh - build the libFuzzer targets with clang and run each for a
# bounded time (FUZZ_TIME seconds, FUZZ_RUNS inputs) from its seed corpus.
# Prints TAP; skips cleanly without clang or libFuzzer.  `make check` runs
# it briefly; `make fuzz` longer.
set -u
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-$srcdir}
time=${FUZZ_TIME:-20}
runs=${FUZZ_RUNS:-200000}
CLANG=${CLANG:-clang}

if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "1..0 # SKIP no clang"
	exit 0
fi
work=$(mktemp -d /tmp/fuzz_rules.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
bin=$builddir/tests/fuzz/fuzz_rules
mkdir -p "$builddir/tests/fuzz"
# the test program's own sanitizers, whatever the tree was configured with
if ! "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$builddir" -I"$srcdir/util" -I"$srcdir/milter" -I"$srcdir/rules" \
	"$srcdir/tests/fuzz/fuzz_rules.c" "$srcdir/rules/rules_parse.c" "$srcdir/rules/rules_eval.c" \
	"$srcdir/util/arena.c" "$srcdir/util/buf.c" "$srcdir/util/mem.c" "$srcdir/util/log.c" \
	"$srcdir/util/addr.c" -lpcre2-8 -o "$bin" >"$work/build.log" 2>&1; then
	if grep -q "fuzzer" "$work/build.log"; then
		echo "1..0 # SKIP clang without libFuzzer"
		exit 0
	fi
	echo "1..1"
	echo "not ok 1 - fuzz_rules builds"
	sed 's/^/# /' "$work/build.log"
	exit 1
fi
echo "1..1"
mkdir "$work/corpus" "$work/cwd"
cp "$srcdir"/tests/fuzz/corpus_rules/* "$work/corpus/" 2>/dev/null
if (cd "$work/cwd" && "$bin" -max_total_time="$time" -runs="$runs" -max_len=4096 \
	-timeout=10 -rss_limit_mb=1024 -dict="$srcdir/tests/fuzz/rules.dict" \
	-artifact_prefix="$work/" "$work/corpus" >"$work/fuzz.log" 2>&1); then
	echo "ok 1 - fuzz_rules: $(grep -o 'Done [0-9]* runs' "$work/fuzz.log" | tail -1) in at most ${time}s"
else
	echo "not ok 1 - fuzz_rules found a crash"
	tail -40 "$work/fuzz.log" | sed 's/^/# /'
	for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
		[ -f "$f" ] && cp "$f" "$builddir/tests/fuzz/" && echo "# kept $(basename "$f") in tests/fuzz/"
	done
	exit 1
fi
