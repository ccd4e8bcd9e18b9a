#!/bin/bash
# tests/bench/bench_table.sh DIR - the one table of `make bench` (issue #7).
#
# DIR holds what the benchmarks of the same run left: `results` ("key value"
# lines from milter_bench.sh, pipeline_bench.sh and cost_bench.sh) and the printed output
# of rules_bench (rules.txt), report_bench (report.txt) and replay_bench
# (replay.txt).  Each figure is
# shown beside the baseline measured in the same run, as a ratio where one
# makes sense, with the target of issue #7 and whether it was met.  A
# figure whose benchmark did not run (not root, say) is shown as "-".
dir=${1:?usage: bench_table.sh DIR}
res=$dir/results

get() { # KEY - the value, or empty
	[ -f "$res" ] && awk -v k="$1" '$1 == k { v = $2 } END { if (v != "") print v }' "$res"
}
calc() { awk "BEGIN { printf \"$1\", $2 }" 2>/dev/null; }
# met VALUE OP LIMIT - yes/no/-
met() {
	[ -z "$1" ] || [ "$1" = - ] || [ "$1" = nan ] && { echo -; return; }
	awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
		ok = (op == "<=") ? v <= l : (op == ">=") ? v >= l : (op == "<") ? v < l : v == l
		print ok ? "yes" : "NO" }'
}
or_dash() { [ -n "$1" ] && echo "$1" || echo -; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && calc '%.2f' "$1 / $2" || echo -; } # A B - A/B, or -
row() { printf '%-34s | %-30s | %-14s | %-7s | %-16s | %s\n' "$@"; }

two() { [ -n "$1" ] && calc '%.2f' "$1"; } # VALUE - two decimals, or empty
none_rate=$(get pipeline.none.rate)
null_ratio=$(two "$(get pipeline.null.ratio)")
lean_ratio=$(two "$(get pipeline.lean.ratio)")
hdrs_ratio=$(two "$(get pipeline.headers.ratio)")
as_ratio=$(two "$(get pipeline.authscore.ratio)")
none_cpu=$(two "$(get pipeline.none.cpu_ms_per_msg)")
hdrs_cpu=$(two "$(get pipeline.headers.cpu_ms_per_msg)")
as_pcpu=$(two "$(get pipeline.authscore.cpu_ms_per_msg)")
null_rounds=$(get pipeline.null.dns_rounds)
as_rounds=$(get pipeline.authscore.dns_rounds)
null_cpu=$(get milter.null.unix.milter_cpu_ms_per_msg)
as_cpu=$(get milter.authscore.unix.milter_cpu_ms_per_msg)
null_rt=$(get milter.null.unix.round_trips_per_msg)
as_rt=$(get milter.authscore.unix.round_trips_per_msg)
null_rate=$(get milter.null.unix.msg_per_s)
as_rate=$(get milter.authscore.unix.msg_per_s)
as_inet=$(get milter.authscore.inet.solo_p50)
as_unix=$(get milter.authscore.unix.solo_p50)
null_inet=$(get milter.null.inet.solo_p50)
null_unix=$(get milter.null.unix.solo_p50)
null_pss=$(get milter.null.hold.pss_kb)
as_pss=$(get milter.authscore.hold.pss_kb)
as_held=$(get milter.authscore.hold.held)
errors=0
for k in milter.authscore.unix.errors milter.authscore.inet.errors milter.authscore.hold.errors; do
	v=$(get "$k")
	[ -n "$v" ] && errors=$((errors + v))
done
tempfails=$(get milter.authscore.unix.replies | sed -n 's/.*tempfail:\([0-9]*\).*/\1/p')

inet_gap= null_gap=
[ -n "$as_inet" ] && [ -n "$as_unix" ] && inet_gap=$(calc '%+.2f' "$as_inet - $as_unix")
[ -n "$null_inet" ] && [ -n "$null_unix" ] && null_gap=$(calc '%+.2f' "$null_inet - $null_unix")
pss_mb= null_pss_mb=
[ -n "$as_pss" ] && pss_mb=$(calc '%.1f' "$as_pss / 1024")
[ -n "$null_pss" ] && null_pss_mb=$(calc '%.1f' "$null_pss / 1024")

echo
echo "authscore benchmarks: $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -r)"
row figure "baseline (same run)" authscore ratio target met
row ---------------------------------- ------------------------------ -------------- ------- ---------------- ---
row "Postfix pipeline, ratio to none" "none $(or_dash "$none_rate") msg/s; null $(or_dash "$null_ratio")" \
	"$(or_dash "$as_ratio")" "$(or_dash "$as_ratio")" ">= 0.85" "$(met "$as_ratio" '>=' 0.85)"
# the floor: a libmilter filter that reads the message and does nothing else
row "  libmilter floor (lean filter)" "no edits $(or_dash "$lean_ratio"); 2 headers $(or_dash "$hdrs_ratio")" \
	"$(or_dash "$as_ratio")" \
	"$(ratio "$as_ratio" "$hdrs_ratio")" "-" "-"
row "  machine CPU per message (ms)" "none $(or_dash "$none_cpu"); 2 headers $(or_dash "$hdrs_cpu")" \
	"$(or_dash "$as_pcpu")" \
	"$(ratio "$as_pcpu" "$none_cpu")" "-" "-"
row "milter CPU per message (ms)" "null filter $(or_dash "$null_cpu")" "$(or_dash "$as_cpu")" \
	"$(ratio "$as_cpu" "$null_cpu")" \
	"<= 1.0" "$(met "$as_cpu" '<=' 1.0)"
row "milter round trips per message" "null filter $(or_dash "$null_rt")" "$(or_dash "$as_rt")" \
	"$(ratio "$as_rt" "$null_rt")" \
	"< null filter" "$(met "$as_rt" '<' "${null_rt:-0}")"
row "milter msg/s, 20 sessions" "null filter $(or_dash "$null_rate")" "$(or_dash "$as_rate")" \
	"$(ratio "$as_rate" "$null_rate")" "-" "-"
row "added DNS rounds at 50 ms/answer" "null filter $(or_dash "$null_rounds")" "$(or_dash "$as_rounds")" "-" \
	"<= 1.5" "$(met "$as_rounds" '<=' 1.5)"
row "inet - unix p50, one session (ms)" "null filter $(or_dash "$null_gap")" "$(or_dash "$inet_gap")" "-" \
	"<= 1.0" "$(met "$inet_gap" '<=' 1.0)"
row "PSS with $(or_dash "$as_held") sessions open (MB)" "null filter $(or_dash "$null_pss_mb")" \
	"$(or_dash "$pss_mb")" "-" "<= 32" "$(met "$pss_mb" '<=' 32)"
row "errors + tempfails, milter runs" "-" "$((errors + ${tempfails:-0}))" "-" "0" \
	"$([ -f "$res" ] && met "$((errors + ${tempfails:-0}))" '==' 0 || echo -)"

if [ -f "$dir/rules.txt" ]; then
	base=$(sed -n 's/^baseline.*: *\([0-9.]*\) ns\/message.*/\1/p' "$dir/rules.txt")
	gen=$(sed -n 's/^generated.*: *\([0-9.]*\) ns\/message.*/\1/p' "$dir/rules.txt")
	row "rules: 1,000 rules per message" "empty ruleset ${base:-?} ns" "$(calc '%.1f us' "${gen:-0} / 1000")" \
		"$(calc '%.0f' "${gen:-0} / ${base:-1}")" "< 1 ms" "$(met "$(calc '%.3f' "${gen:-0} / 1000000")" '<' 1)"
fi
if [ -f "$dir/report.txt" ]; then
	read_s=$(sed -n 's/.*baseline: store_each over the day: *\([0-9.]*\) s.*/\1/p' "$dir/report.txt")
	rep_s=$(sed -n 's/.*report --dry-run over the day: *\([0-9.]*\) s.*/\1/p' "$dir/report.txt")
	n=$(sed -n 's/^history: \([0-9]*\) records.*/\1/p' "$dir/report.txt")
	row "reports: ${n:-?} records, one day" "reading them ${read_s:-?} s" "${rep_s:-?} s" \
		"$(calc '%.2f' "${rep_s:-0} / ${read_s:-1}")" "seconds" "$(met "${rep_s:-}" '<' 60)"
fi
if [ -f "$dir/replay.txt" ]; then
	read_s=$(sed -n 's/.*baseline: store_each over them: *\([0-9.]*\) s.*/\1/p' "$dir/replay.txt")
	rep_s=$(sed -n 's/.*authscore replay --rules .*: *\([0-9.]*\) s,.*/\1/p' "$dir/replay.txt")
	n=$(sed -n 's/^history: \([0-9]*\) records.*/\1/p' "$dir/replay.txt")
	row "replay: ${n:-?} stored messages" "reading them ${read_s:-?} s" "${rep_s:-?} s" \
		"$(calc '%.2f' "${rep_s:-0} / ${read_s:-1}")" "seconds" "$(met "${rep_s:-}" '<' 60)"
fi
# issues 18/19 (cost_bench.sh, only with BASE_MILTER): each kind's CPU beside
# the build before them, the budget on the difference (median of the rounds)
for kind in plain5k html50k arc2 sign; do
	cb=$(get cost.$kind.base) cn=$(get cost.$kind.new) cd=$(get cost.$kind.diff)
	[ -n "$cd" ] || continue
	case $kind in plain5k) lim=0.05 ;; sign) lim=0.5 ;; *) lim=0.3 ;; esac
	ok=$(met "$cd" '<=' "$lim")
	[ "$(get cost.$kind.checked)" = 1 ] || ok="- (see cost.txt)"
	row "cost: $kind CPU ms/msg +$(calc '%.3f' "$cd")" "before issues 18/19 $(calc '%.3f' "$cb")" \
		"$(calc '%.3f' "$cn")" "$(ratio "$cn" "$cb")" "<= +$lim ms" "$ok"
done
cpk=$(get cost.mem.new.peak_kb)
if [ -n "$cpk" ]; then
	row "cost: peak RSS, $(get cost.mem.new.held) in flight (MB)" \
		"before issues 18/19 $(calc '%.1f' "$(get cost.mem.base.peak_kb) / 1024")" \
		"$(calc '%.1f' "$cpk / 1024")" "-" "< 64" "$(met "$(calc '%.1f' "$cpk / 1024")" '<' 64)"
fi
