#!/bin/sh
# run-fuzz.sh - build every libFuzzer target with clang and run each for a
# bounded time (FUZZ_TIME seconds, FUZZ_RUNS inputs) from its seed corpus.
# Prints TAP, one test per target; skips cleanly without clang or
# libFuzzer.  `make check` runs it briefly; `make fuzz` longer.  A crash,
# leak or timeout input is kept in tests/fuzz/ of the build tree.
set -u
srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
builddir=${top_builddir:-$srcdir}
time=${FUZZ_TIME:-10}
runs=${FUZZ_RUNS:-200000}
CLANG=${CLANG:-clang}
s=$srcdir

if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "1..0 # SKIP no clang"
	exit 0
fi
work=$(mktemp -d /tmp/authscore-fuzz.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$builddir/tests/fuzz"
# the install paths conf.c is built with (Makefile.am passes them as -D)
printf '#define SYSCONFDIR "/etc"\n#define LOCALSTATEDIR "/var"\n' >"$work/paths.h"
util="$s/util/arena.c $s/util/buf.c $s/util/mem.c $s/util/log.c $s/util/addr.c $s/util/json.c"
# The milter target links everything the callbacks reach, with libmilter
# and the resolver faked, and default.rules compiled in as Makefile.am does.
{
	echo 'const char rules_default_text[] ='
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$/\\n"/' "$s/rules/default.rules"
	echo '	"";'
} >"$work/default_rules.c"
milter_core=
for f in arc_sealkey conf dkim_make dkim_keys dkim_sign message metrics runtime session summary \
	verdict; do
	milter_core="$milter_core $s/milter/$f.c"
done
for f in arc arc_canon arc_seal arc_trust authres dkim dkim_tags dmarc dnsbl geoip iprev metrics_dns ratelimit \
	spf spf_record; do
	milter_core="$milter_core $s/checks/$f.c"
done
# issue 19's URL block lists and the body's rule tests
milter_core="$milter_core $s/milter/uribl.c $s/milter/metrics_uribl.c $s/rules/rules_content.c"
for f in arc dkim dmarc dnsbl iprev ratelimit spf verdict; do
	milter_core="$milter_core $s/facts/${f}_result.c"
done
milter_core="$milter_core $s/rules/rules_lex.c $s/rules/rules_parse.c $s/rules/rules_check.c $s/rules/rules_eval.c \
	$s/rules/rules_lists.c \
	$s/rules/rules_info.c $s/util/counters.c $s/history/record.c $s/history/record_facts.c $s/history/store.c \
	$s/history/store_sqlite.c $s/history/store_pg.c $s/util/domain.c $s/util/rfc5322.c $s/util/hsplit.c \
	$s/tests/fake_dns.c $work/default_rules.c -lspf2 -lopendkim -lcrypto -lopendmarc \
	-lmaxminddb -lpcre2-8 -lsqlite3 -lpq -lpthread"
pq_cflags=$(pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
# The body's content (issue 19): GMime, libpsl, libidn2; message.c
# scans with it, so the milter target links it too.
content_cflags=$(pkg-config --cflags gmime-3.0 libpsl libidn2)
content_libs=$(pkg-config --libs gmime-3.0 libpsl libidn2)
content_src="$s/checks/content.c $s/checks/content_html.c $s/checks/content_pool.c $s/checks/content_sniff.c $s/checks/content_url.c \
	$s/checks/content_spool.c"
milter_core="$milter_core $content_src $content_libs"

# the AAR reader is authres.c's, which links the result names it renders
authres_facts=
for f in arc dkim dmarc iprev spf; do
	authres_facts="$authres_facts $s/facts/${f}_result.c"
done

# name | extra compiler flags | sources | corpus | dictionary
targets="rules||$s/tests/fuzz/fuzz_rules.c $s/rules/rules_lex.c $s/rules/rules_parse.c $s/rules/rules_check.c $s/rules/rules_eval.c $s/rules/rules_content.c -lpcre2-8|corpus_rules|rules.dict
headers|-DFUZZ_HEADERS|$s/tests/fuzz/fuzz_parsers.c $s/util/rfc5322.c|corpus_headers|
hsplit|-DFUZZ_HSPLIT|$s/tests/fuzz/fuzz_parsers.c $s/util/hsplit.c|corpus_hsplit|
conf|-DFUZZ_CONF -include $work/paths.h|$s/tests/fuzz/fuzz_parsers.c $s/milter/conf.c|corpus_conf|
spf|-DFUZZ_SPF|$s/tests/fuzz/fuzz_parsers.c $s/checks/spf_record.c|corpus_spf|
dmarc|-DFUZZ_DMARC|$s/tests/fuzz/fuzz_parsers.c $s/checks/dmarc.c $s/facts/dmarc_result.c $s/tests/fake_dns.c|corpus_dmarc|
dkimtags|-DFUZZ_DKIMTAGS|$s/tests/fuzz/fuzz_parsers.c $s/checks/dkim_tags.c|corpus_dkimtags|
arc||$s/tests/fuzz/fuzz_arc.c $s/checks/arc.c $s/checks/arc_seal.c $s/checks/arc_canon.c $s/facts/arc_result.c $s/tests/fake_dns.c -lcrypto -lpthread|corpus_arc|
record|-DFUZZ_RECORD -I$s/history|$s/tests/fuzz/fuzz_parsers.c $s/history/record.c|corpus_record|
facts|-DFUZZ_FACTS -I$s/history|$s/tests/fuzz/fuzz_parsers.c $s/history/record.c $s/history/record_facts.c|corpus_facts|
aar|-DFUZZ_AAR|$s/tests/fuzz/fuzz_parsers.c $s/checks/arc_trust.c $s/checks/authres.c $authres_facts|corpus_aar|
smtpauth|-DFUZZ_SMTPAUTH -I$s/report -I$s/history|$s/tests/fuzz/fuzz_parsers.c $s/report/report_send.c -lcurl|corpus_smtpauth|
dkimkeys|-include $work/paths.h|$s/tests/fuzz/fuzz_dkim_keys.c $s/milter/dkim_keys.c $s/milter/dkim_make.c $s/checks/arc_canon.c $s/milter/conf.c $s/util/domain.c -lcrypto|corpus_dkimkeys|
content||$s/tests/fuzz/fuzz_content.c $content_src $content_libs $content_cflags|corpus_content|
milter|-include $work/paths.h -I$s/history -I$s/tests/fuzz $pq_cflags $content_cflags|$s/tests/fuzz/fuzz_milter.c $s/tests/fuzz/fake_libmilter.c $s/milter/callbacks.c $milter_core|corpus_milter|"

# The HTML reduction held to gumbo's HTML5 parse (tests/html_oracle.c):
# gumbo is a test dependency only, without it this target is not run.
if pkg-config --exists gumbo 2>/dev/null; then
	targets="$targets
html_oracle|$content_cflags $(pkg-config --cflags gumbo)|$s/tests/fuzz/fuzz_html_oracle.c $s/tests/html_oracle.c $content_src $content_libs $(pkg-config --libs gumbo)|corpus_html_oracle|html.dict"
fi

echo "$targets" | awk 'END { print "1.." NR }'
n=0
echo "$targets" | while IFS='|' read -r name flags sources corpus dict; do
	n=$((n + 1))
	bin=$builddir/tests/fuzz/fuzz_$name
	# the fuzzer's own sanitizers, whatever the tree was configured with
	# shellcheck disable=SC2086
	if ! "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		$flags -I"$builddir/build-aux" -I"$s/util" -I"$s/facts" -I"$s/checks" -I"$s/milter" -I"$s/dns" -I"$s/rules" -I"$s/tests" \
		$sources $util -o "$bin" >"$work/build-$name.log" 2>&1; then
		if grep -q "fuzzer" "$work/build-$name.log" && ! grep -q "error:" "$work/build-$name.log"; then
			echo "ok $n - fuzz_$name # SKIP clang without libFuzzer"
			continue
		fi
		echo "not ok $n - fuzz_$name builds"
		sed 's/^/# /' "$work/build-$name.log" | head -40
		continue
	fi
	mkdir -p "$work/$name/corpus" "$work/$name/cwd"
	cp "$s/tests/fuzz/$corpus"/* "$work/$name/corpus/" 2>/dev/null
	dictarg=
	[ -n "$dict" ] && dictarg="-dict=$s/tests/fuzz/$dict"
	# The HTML5 oracle is a differential against another parser's tree
	# builder, which content_html.c models only as far as the tokenizer's
	# state needs: fuzzing it finds new shapes to judge (ours or gumbo's?),
	# not regressions, so `make check` replays its corpus and only
	# FUZZ_ORACLE=1 (as `make fuzz` sets) fuzzes it.
	# (gumbo's own leaks are suppressed: lsan-gumbo.supp)
	target_runs=$runs lsan=${LSAN_OPTIONS:-}
	[ "$name" = html_oracle ] && [ "${FUZZ_ORACLE:-0}" != 1 ] && target_runs=0
	[ "$name" = html_oracle ] && lsan="suppressions=$s/tests/fuzz/lsan-gumbo.supp"
	# shellcheck disable=SC2086
	if (cd "$work/$name/cwd" && LSAN_OPTIONS=$lsan "$bin" -max_total_time="$time" -runs="$target_runs" -max_len=4096 \
		-timeout=10 -rss_limit_mb=1024 $dictarg -artifact_prefix="$work/$name/" \
		"$work/$name/corpus" >"$work/$name/fuzz.log" 2>&1); then
		echo "ok $n - fuzz_$name: $(grep -o 'Done [0-9]* runs' "$work/$name/fuzz.log" | tail -1) in at most ${time}s"
	else
		echo "not ok $n - fuzz_$name found a crash"
		tail -40 "$work/$name/fuzz.log" | sed 's/^/# /'
		for f in "$work/$name"/crash-* "$work/$name"/leak-* "$work/$name"/timeout-*; do
			[ -f "$f" ] && cp "$f" "$builddir/tests/fuzz/" && echo "# kept $(basename "$f") in tests/fuzz/"
		done
	fi
done
