#!/bin/bash
# tests/e2e/history.sh - the DMARC history and aggregate reports through the
# real Postfix: mail from several policy domains is recorded in the default
# SQLite store, `authscore report --dry-run` writes one gzip report per
# domain that validates against the RFC 9990 schema and that dmarc-cat
# reads; then the same with a PostgreSQL server this test starts itself,
# stopped while mail flows: no record lost, none twice.  Prints TAP; root.
. "$(dirname "$0")/lib.sh"

D=dmarc.authscore.test
XSD=$top_srcdir/tests/data/dmarc/dmarc-aggregate-2.0.xsd
e2e_setup
TODAY=$(date -u +%F)

# send NAME FROM-DOMAIN MAIL-FROM - one message, accepted or held
send() {
	local marker=$1-$$-$RANDOM f
	f=$(msg_from "$marker" "user@$2")
	send_file "$1" "$f" --from "$3"
	like "$SENT_REPLY" '^250 ' "$1: accepted"
}

# reports_ok DIR LABEL WANT-DOMAINS... - one valid .xml.gz per domain
reports_ok() {
	local dir=$1 label=$2 d f
	shift 2
	is "$(ls "$dir"/*.xml.gz 2>/dev/null | wc -l)" "$#" "$label: one report per policy domain"
	for d in "$@"; do
		f=$(ls "$dir"/*"!$d!"*.xml.gz 2>/dev/null | head -n 1)
		if [ -z "$f" ]; then
			fail "$label: report for $d" "none in $dir: $(ls "$dir")"
			continue
		fi
		like "$(basename "$f")" "^mx\.authscore\.test!$d![0-9]+![0-9]+![^!]+\.xml\.gz$" \
			"$label: $d: file named receiver!domain!begin!end!id.xml.gz"
		ok "gunzip -c '$f' >'$f.xml' && xmllint --noout --schema '$XSD' '$f.xml' 2>'$f.lint'" \
			"$label: $d: a gzip member that validates against the RFC 9990 schema" ||
			diag "$(cat "$f.lint")"
		ok "dmarc-cat -N '$f' >'$f.cat' 2>&1 && grep -q '$d' '$f.cat'" "$label: $d: dmarc-cat reads it" ||
			diag "$(head -20 "$f.cat")"
	done
}

# ------------------------------------------------------------ SQLite
send rep1-a "rep1.$D" "u@rep1.$D"
send rep1-b "rep1.$D" "u@rep1.$D"
send rep1-notaligned "rep1.$D" "user@pass.authscore.test"
send rep2-a "rep2.$D" "u@rep2.$D"
send rep3-held "rep3.$D" "user@pass.authscore.test"
postsuper -d ALL hold >/dev/null 2>&1
stop_milter TERM # the writer flushes its queue on the way out
db=$E2E_TMP/state/history.db
ok "[ -s '$db' ]" "sqlite: the default store is a file in the state directory"
out=$("$AUTHSCORE" report -c "$E2E_CONF" --period "$TODAY" --dry-run "$E2E_TMP/dry1" 2>&1)
is "$?" 0 "sqlite: authscore report --dry-run exits 0" || diag "$out"
reports_ok "$E2E_TMP/dry1" sqlite "rep1.$D" "rep2.$D" "rep3.$D"
xml=$(cat "$E2E_TMP"/dry1/*"!rep1.$D!"*.xml 2>/dev/null)
like "$xml" '<count>2</count>' "sqlite: rep1: the two aligned messages share one row"
like "$xml" '<count>1</count>' "sqlite: rep1: the unaligned one has its own row"
like "$xml" '<envelope_from>pass\.authscore\.test</envelope_from>' "sqlite: rep1: the envelope domain is reported"
like "$(cat "$E2E_TMP"/dry1/*"!rep3.$D!"*.xml 2>/dev/null)" '<disposition>quarantine</disposition>' \
	"sqlite: rep3: the quarantine applied is the disposition"
# a second dry run gives the same report id (stable, so a resend is recognisable)
"$AUTHSCORE" report -c "$E2E_CONF" --period "$TODAY" --dry-run "$E2E_TMP/dry2" >/dev/null 2>&1
is "$(cd "$E2E_TMP/dry2" && ls *.xml.gz | sort | tr '\n' ' ')" "$(cd "$E2E_TMP/dry1" && ls *.xml.gz | sort | tr '\n' ' ')" \
	"sqlite: a re-run names the same reports"

# ------------------------------------- retention without reports (issue 15, item 10)
# report-email unset (no report is ever sent): the daemon's writer still
# deletes records older than history-retention-days, at start.
SEED=$top_builddir/tests/e2e/report_seed
RET_DB=$E2E_TMP/retention.db
NOW_T=$(date +%s)
OLD_T=$((NOW_T / 86400 * 86400 - 400 * 86400))
# count_before DB T - records older than T (python3's sqlite3: no CLI needed)
count_before() {
	python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(
	    "select count(*) from messages where time < ?", (int(sys.argv[2]),)).fetchone()[0])' "$1" "$2"
}
ok "'$SEED' sqlite:$RET_DB $OLD_T" "retention: records of 400 days ago seeded"
OLD_N=$(count_before "$RET_DB" $((NOW_T - 30 * 86400)))
ok "[ '$OLD_N' -gt 0 ]" "retention: the store holds $OLD_N old records"
write_milter_conf "$E2E_CONF" "history sqlite:$RET_DB" "history-retention-days 30"
sed -i '/^report-email/d' "$E2E_CONF"
unlike "$(cat "$E2E_CONF")" 'report-email' "retention: report-email is not set"
echo "==== start $(date +%T.%N) (retention) $AUTHSCORE_MILTER -f -c $E2E_CONF" >>"$E2E_TMP/milter.log"
(umask 0 && exec "$AUTHSCORE_MILTER" -f -c "$E2E_CONF" -p "unix:$E2E_TMP/milter.sock") \
	>>"$E2E_TMP/milter.log" 2>&1 3>&- &
MILTER_PID=$!
wait_for "$E2E_WAIT" "_unix_listening $E2E_TMP/milter.sock || ! _pid_alive $MILTER_PID" \
	"the milter to listen" && chmod 0666 "$E2E_TMP/milter.sock"
ok "_pid_alive $MILTER_PID" "retention: the daemon starts without report-email" ||
	diag "$(tail -n 20 "$E2E_TMP/milter.log")"
send ret-new "rep1.$D" "u@rep1.$D"
wait_for "$E2E_WAIT" "[ \"\$(count_before '$RET_DB' $((NOW_T - 30 * 86400)))\" = 0 ]" \
	"the daemon to expire the old records"
is "$(count_before "$RET_DB" $((NOW_T - 30 * 86400)))" 0 \
	"retention: the daemon removed every record older than 30 days"
like "$(cat "$E2E_TMP/milter.log")" "$OLD_N record.s. older than 30 days removed" \
	"retention: the daemon logs how many it removed"
stop_milter TERM
is "$(count_before "$RET_DB" $((NOW_T + 86400)))" 1 "retention: the new message's record stays"

# -------------------------------------------------------- PostgreSQL
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ] || ! id postgres >/dev/null 2>&1; then
	echo "# no PostgreSQL server binaries: the PostgreSQL part is skipped"
	done_testing
fi
PG=$E2E_TMP/pg
mkdir -p "$PG" && chown postgres "$PG"
as_pg() { runuser -u postgres -- "$@"; }
pg_start() { as_pg "$PGBIN/pg_ctl" -D "$PG/data" -l "$PG/log" -w -t 30 start >/dev/null; }
pg_stop() { as_pg "$PGBIN/pg_ctl" -D "$PG/data" -m fast -w -t 30 stop >/dev/null 2>&1; }
psql_q() { as_pg "$PGBIN/psql" -h "$PG" -U postgres -At -d authscore -c "$1"; }
trap 'pg_stop; e2e_cleanup' EXIT
as_pg "$PGBIN/initdb" -D "$PG/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG/initdb.log" 2>&1
printf "listen_addresses = ''\nunix_socket_directories = '%s'\nfsync = off\n" "$PG" >>"$PG/data/postgresql.conf"
ok pg_start "postgresql: a private server starts (unix socket only)" || diag "$(tail "$PG/log")"
as_pg "$PGBIN/createdb" -h "$PG" -U postgres authscore
start_milter "history postgresql:///authscore?host=$PG&user=postgres" || fail "milter starts with PostgreSQL"
send pg-1 "rep1.$D" "u@rep1.$D"
send pg-2 "rep2.$D" "u@rep2.$D"
wait_for "$E2E_WAIT" "[ \"\$(psql_q 'select count(*) from messages')\" = 2 ]" "2 rows in PostgreSQL"
is "$(psql_q 'select count(*) from messages')" 2 "postgresql: records written by the daemon"
pg_stop
send pg-down-1 "rep1.$D" "u@rep1.$D"
send pg-down-2 "rep1.$D" "u@rep1.$D"
send pg-down-3 "rep2.$D" "u@rep2.$D"
# the writer spools a batch once the store refuses it: wait for all three
wait_for 10 "[ \"\$(cat '$E2E_TMP/state/authscore-spool.jsonl' 2>/dev/null | wc -l)\" = 3 ]"
like "$(cat "$E2E_TMP/state/authscore-spool.jsonl" 2>/dev/null | wc -l)" '^[1-3]$' \
	"postgresql: while the server is down, records go to the spool" ||
	diag "$(ls -la "$E2E_TMP/state")"
ok pg_start "postgresql: the server comes back"
send pg-after "rep3.$D" "u@rep3.$D"
ok 'wait_for 20 "[ \"\$(psql_q \"select count(*) from messages\")\" = 6 ]"' \
	"postgresql: every record arrives once the store is back (6)" ||
	diag "count: $(psql_q 'select count(*) from messages')" "$(tail -5 "$E2E_TMP/milter.log")"
is "$(psql_q 'select count(distinct uid) from messages')" 6 "postgresql: none stored twice"
stop_milter TERM
out=$("$AUTHSCORE" report -c "$E2E_CONF" --history "postgresql:///authscore?host=$PG&user=postgres" \
	--period "$TODAY" --dry-run "$E2E_TMP/drypg" 2>&1)
is "$?" 0 "postgresql: authscore report --dry-run exits 0" || diag "$out"
reports_ok "$E2E_TMP/drypg" postgresql "rep1.$D" "rep2.$D" "rep3.$D"
done_testing
