#!/bin/bash
# tests/e2e/shipped.sh - the shipped files together, exactly as installed
# (issue 15).  `make install DESTDIR` gives the units, the sysusers.d and
# tmpfiles.d files, the configuration and the rules; inside this test's
# mount namespace /usr, /etc, /var and /run are copy-on-write overlays of
# the host's (the host is never written), the installed tree is copied into
# them, and then, as on a machine:
#   - README command 1 first: the daemon run as root with its defaults
#     leaves a root-owned history store in the state directory;
#   - the user and group come from the shipped sysusers.d file
#     (systemd-sysusers), the directories from the shipped tmpfiles.d file;
#   - Postfix runs with Debian's stock master.cf (smtpd and cleanup
#     chrooted) and contrib/postfix/main.cf.snippet appended unchanged;
#   - the milter is started with the unit's ExecStartPre and ExecStart lines,
#     read from the installed unit, as its User and Group with its UMask,
#     with the installed configuration plus what a site sets (its DNS, here
#     the test zones; its authserv-id and report address);
#   - ExecReload refuses a broken configuration and reloads a good one;
#   - mail by SMTP and by sendmail(1) gets through, the history store gets
#     the rows, and the report unit's ExecStart, run as its User, sends the
#     DMARC report to the rua address and records it (a second run sends
#     nothing);
#   - systemd-analyze verify passes on the installed units (where systemd's
#     unit files are; skipped otherwise).
# Nothing is mapped or rewritten: the commands run as the files say.
. "$(dirname "$0")/lib.sh"

D=dmarc.authscore.test
STOCK_MASTER_CF=/usr/share/postfix/master.cf.dist
SNIPPET=$top_srcdir/contrib/postfix/main.cf.snippet
ROOT= # the DESTDIR install, set in overlay_setup

# --------------------------------------------------------------- parsing
# unit_values FILE KEY - every value of KEY= in the unit, in order
unit_values() { sed -n "s/^$2=//p" "$1"; }

# conf_value FILE KEY - the value of an active KEY line of authscore.conf
conf_value() { awk -v k="$2" '$1 == k { sub(/^[^ \t]+[ \t]+/, ""); sub(/[ \t]+#.*/, ""); print; exit }' "$1"; }

# unit_cmd LINE - split an Exec line as systemd does, for the lines the
# shipped units have: prefixes '+' (as root) and '-' (failure ignored),
# words without quotes, $MAINPID (MILTER_PID).  Sets U_ROOT, U_IGNORE and
# U_CMD; fails (a failed test) on anything else, so a unit that grows
# beyond this is not silently run differently.
unit_cmd() {
	local line=$1
	U_ROOT=0 U_IGNORE=0 U_CMD=()
	while :; do
		case $line in
		+*) U_ROOT=1; line=${line#+} ;;
		-*) U_IGNORE=1; line=${line#-} ;;
		[@:!]*) fail "unit line: prefix ${line:0:1} is not handled here" "$1"; return 1 ;;
		*) break ;;
		esac
	done
	case $line in *[\"\'\\]*) fail "unit line: quoting is not handled here" "$1"; return 1 ;; esac
	line=${line//\$MAINPID/$MILTER_PID}
	read -ra U_CMD <<<"$line"
}

# unit_exec USER GROUP UMASK - exec U_CMD as systemd would: as root for a
# '+' line, otherwise as USER and GROUP (with USER's supplementary groups,
# initgroups) and UMASK; a clean environment either way
unit_exec() {
	local user=$1 group=$2 v
	local -a env=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8)
	for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
		[ -n "${!v:-}" ] && env+=("$v=${!v}")
	done
	[ "$U_ROOT" = 1 ] && exec "${env[@]}" "${U_CMD[@]}"
	umask "$3" || exit 126
	exec "${env[@]}" HOME="$(getent passwd "$user" | cut -d: -f6)" USER="$user" LOGNAME="$user" \
		setpriv --reuid="$user" --regid="$group" --init-groups -- "${U_CMD[@]}"
}

# unit_run USER GROUP UMASK LOG LINE - run one Exec line to its end, output
# appended to LOG; its status (0 for a '-' line)
unit_run() {
	local st=0
	unit_cmd "$5" || return 1
	(unit_exec "$1" "$2" "$3") >>"$4" 2>&1 3>&- || st=$?
	[ "$U_IGNORE" = 1 ] && st=0
	return "$st"
}

# as USER CMD... - run a command as USER (reads of the store, sendmail)
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$(id -g "$u")" --init-groups -- "$@"; }

# ------------------------------------------------- the private machine
# Copy-on-write /usr, /etc, /var and /run for this namespace: writes go to
# $E2E_TMP/ovl, the host's directories stay as they are.
overlay_setup() {
	local d n=0
	for d in /usr /etc /var /run; do
		n=$((n + 1))
		mkdir -p "$E2E_TMP/ovl/$n/upper" "$E2E_TMP/ovl/$n/work" &&
			mount -t overlay "overlay$n" \
				-o "lowerdir=$d,upperdir=$E2E_TMP/ovl/$n/upper,workdir=$E2E_TMP/ovl/$n/work" "$d" ||
			{ echo "# cannot overlay $d"; return 1; }
	done
	# the installed tree, as `make install` makes it
	ROOT=$E2E_TMP/root
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top_builddir" install DESTDIR="$ROOT" \
		>"$E2E_TMP/install.log" 2>&1 || { echo "# make install failed"; cat "$E2E_TMP/install.log"; return 1; }
}

if [ ! -r "$STOCK_MASTER_CF" ]; then
	echo "1..0 # SKIP no $STOCK_MASTER_CF (Debian's postfix package)"
	exit 0
fi
E2E_PRE_START=overlay_setup
E2E_NO_MILTER=1
E2E_MASTER_CF=$STOCK_MASTER_CF
E2E_MAIN_CF_APPEND=$SNIPPET
e2e_setup

# The installed files, found in the DESTDIR tree; every path below is read
# from them.
MUNIT=$(find "$ROOT" -path '*/systemd/system/authscore-milter.service' | head -n 1)
RUNIT=$(find "$ROOT" -path '*/systemd/system/authscore-report.service' | head -n 1)
SYSUSERS=$(find "$ROOT" -path '*/sysusers.d/authscore.conf' | head -n 1)
TMPFILES=$(find "$ROOT" -path '*/tmpfiles.d/authscore.conf' | head -n 1)
ok "[ -f '$MUNIT' ] && [ -f '$RUNIT' ] && [ -f '$SYSUSERS' ] && [ -f '$TMPFILES' ]" \
	"make install: the milter and report units, sysusers.d and tmpfiles.d files" ||
	diag "$(cd "$ROOT" && find . -type f)"
START=$(unit_values "$MUNIT" ExecStart)
CONF=$(sed -n 's/.* -c \([^ ]*\).*/\1/p' <<<"$START")
ok "[ -f '$ROOT$CONF' ]" "make install: the configuration the unit names ($CONF)"
unlike "$START" '(^| )-p' "the unit does not name a socket (-p): the configuration does"
SOCKET=$(conf_value "$ROOT$CONF" socket)
STATEDIR=$(conf_value "$ROOT$CONF" state-dir)
RULES=$(conf_value "$ROOT$CONF" rules)
SOCKPATH=${SOCKET#unix:}
SOCKDIR=${SOCKPATH%/*}
like "$SOCKET" '^unix:/' "the configuration names a unix socket ($SOCKET)"

# ----------------------------------- one place: Postfix's side agrees
QUEUE_DIR=$(postconf -hx queue_directory)
is "$(postconf -hx smtpd_milters)" "unix:${SOCKPATH#"$QUEUE_DIR"}" \
	"main.cf.snippet: smtpd_milters is the configuration's socket, relative to the chroot"
is "$(postconf -hx non_smtpd_milters)" "$(postconf -hx smtpd_milters)" \
	"main.cf.snippet: local submissions (non_smtpd_milters) go to the same socket"
is "$(awk '$1 == "smtp" && $2 == "inet" { print $5 }' /etc/postfix/master.cf)/$(awk '$1 == "cleanup" { print $5 }' /etc/postfix/master.cf)" \
	"y/y" "stock master.cf: smtpd and cleanup run chrooted (what the snippet is for)"
is "$(awk -v d="$SOCKDIR" '$1 == "d" && $2 == d { print $3, $4, $5 }' "$TMPFILES")" "2750 authscore postfix" \
	"tmpfiles.d: the socket's directory, setgid, owner authscore, group postfix"
rw=" $(unit_values "$MUNIT" ReadWritePaths | tr '\n' ' ') "
ok "[[ '$rw' == *' $SOCKDIR '* && '$rw' == *' $STATEDIR '* ]]" \
	"the unit may write the socket's directory and the state directory"
rw=" $(unit_values "$RUNIT" ReadWritePaths | tr '\n' ' ') "
ok "[[ '$rw' == *' $STATEDIR '* ]]" "the report unit may write the state directory (it records sent reports)"

# ------------------------------------------------------- README command 1
# The daemon as root with its defaults, from the build directory, before
# anything is installed: it creates the history store in its default state
# directory (the installed configuration's too), owned by root.
echo "==== README command 1: $AUTHSCORE_MILTER -f (root, defaults)" >>"$E2E_TMP/milter.log"
(cd "$top_builddir" && exec "$AUTHSCORE_MILTER" -f) >>"$E2E_TMP/milter.log" 2>&1 3>&- &
MILTER_PID=$!
wait_for "$E2E_WAIT" "[ -s '$STATEDIR/history.db' ] || ! _pid_alive $MILTER_PID" \
	"README command 1 to create $STATEDIR/history.db"
stop_milter TERM
is "$(stat -c %U "$STATEDIR/history.db" 2>/dev/null)" root \
	"README command 1 as root: a root-owned history store in $STATEDIR"

# ------------------------------------------------------------- install
# (tar keeps /lib -> usr/lib a symlink where a DESTDIR has lib/systemd/system)
tar -C "$ROOT" -cf - . | tar -C / -xf - --keep-directory-symlink || fail "copy the installed tree into place"
ok "systemd-sysusers '${SYSUSERS#"$ROOT"}' >'$E2E_TMP/sysusers.log' 2>&1" \
	"systemd-sysusers creates the user from the shipped file" || diag "$(cat "$E2E_TMP/sysusers.log")"
MUSER=$(unit_values "$MUNIT" User)
MGROUP=$(unit_values "$MUNIT" Group)
MMASK=$(unit_values "$MUNIT" UMask)
is "$(getent passwd "$MUSER" | cut -d: -f6)" "$STATEDIR" "the unit's user ($MUSER) exists, its home the state directory"
ok "getent group '$MGROUP'" "the unit's group ($MGROUP) exists"
RUSER=$(unit_values "$RUNIT" User)
RGROUP=$(unit_values "$RUNIT" Group)
RMASK=$(unit_values "$RUNIT" UMask)
is "$RUSER:$RGROUP" "$MUSER:$MGROUP" "the report unit runs as the milter's user and group"

# What a site adds to the installed configuration: the test's DNS (NSD
# serves the zones; names elsewhere fail at once, there is no network), its
# authserv-id and the reports' From address.  Only keys the shipped file
# leaves unset (a key set twice is an error).
conf_add() { [ -n "$(conf_value "$CONF" "$1")" ] || printf '%s\n' "$*" >>"$CONF"; }
{
	echo
	echo "# added by tests/e2e/shipped.sh"
} >>"$CONF"
conf_add authserv-id "$E2E_AUTHSERV_ID"
conf_add report-email dmarc-reports@mx.authscore.test
conf_add log-level debug
for z in test. 113.0.203.in-addr.arpa. 8.b.d.0.1.0.0.2.ip6.arpa. zen.spamhaus.org. \
	bl.spamcop.net. b.barracudacentral.org. list.dnswl.org. dbl.spamhaus.org.; do
	echo "dns-stub $z 127.0.0.1@$E2E_DNS_PORT" >>"$CONF"
done
E2E_CONF=$CONF

# ------------------------------------------------------- the milter unit
# `systemctl start`: every ExecStartPre in order, each must succeed, then
# ExecStart in the background.
st=0
while IFS= read -r line; do
	unit_run "$MUSER" "$MGROUP" "$MMASK" "$E2E_TMP/prestart.log" "$line" || { st=$?; break; }
done < <(unit_values "$MUNIT" ExecStartPre)
is "$st" 0 "the unit's ExecStartPre lines succeed (tmpfiles.d, then -n)" || diag "$(cat "$E2E_TMP/prestart.log")"
like "$(cat "$E2E_TMP/prestart.log")" 'configuration OK' "ExecStartPre: -n checked the configuration and rules"
is "$(stat -c '%U:%G %a' "$SOCKDIR" 2>/dev/null)" "authscore:postfix 2750" "the socket's directory is there ($SOCKDIR)"
is "$(find "$STATEDIR" ! -user "$MUSER" 2>/dev/null | head -n 3)" "" \
	"item 4: everything in the state directory is the service user's again (no root-owned store)"
echo "==== ExecStart as $MUSER:$MGROUP umask $MMASK: $START" >>"$E2E_TMP/milter.log"
unit_cmd "$START"
# the background subshell execs setpriv, which execs the daemon: one process
unit_exec "$MUSER" "$MGROUP" "$MMASK" >>"$E2E_TMP/milter.log" 2>&1 3>&- &
MILTER_PID=$!
wait_for "$E2E_WAIT" "_unix_listening $SOCKPATH || ! _pid_alive $MILTER_PID" "the milter to listen on $SOCKPATH"
ok "_unix_listening $SOCKPATH" "the milter listens on the configured socket" ||
	diag "$(tail -n 20 "$E2E_TMP/milter.log")"
is "$(stat -c '%U:%G %a' "$SOCKPATH" 2>/dev/null)" "authscore:postfix 660" \
	"the socket: group postfix (from the setgid directory), mode 0660"
is "$(awk '/^Uid:/ { print $2 }' "/proc/$MILTER_PID/status" 2>/dev/null)" "$(id -u "$MUSER")" \
	"the milter runs as the unit's user"

# ---------------------------------------------------------------- mail
# By SMTP, to the chrooted smtpd: our Authentication-Results.
f=$(msg_from "smtp-$$" "user@rep1.$D")
send_file smtp "$f" --from "u@rep1.$D"
delivered_ok "SMTP through the chrooted smtpd"
ar_has "SMTP through the chrooted smtpd" "dmarc=pass header.from=rep1.$D"

# Local submission: sendmail(1) -> pickup -> cleanup (chrooted), which asks
# the milter through non_smtpd_milters.  Not deferred, and checked.
marker=local-$$
f=$(make_msg "$marker")
ok "as nobody /usr/sbin/sendmail -f sender@authscore.test '$E2E_RCPT' <'$f'" "sendmail(1): handed to Postfix"
if file=$(wait_delivered "$marker"); then
	pass "sendmail(1): delivered, not deferred"
else
	fail "sendmail(1): delivered, not deferred" "$(grep -i 'milter\|defer' "$E2E_TMP/postfix.log" | tail -n 5)"
fi
# The milter saw it (and, local mail from a trusted network, let it pass
# unchecked): its log names the message's queue id.
qid=$(sed -n "s/.* postfix\/cleanup\[[0-9]*\]: \([0-9A-F]*\): message-id=<$marker@.*/\1/p" "$E2E_TMP/postfix.log")
ok "[ -n '$qid' ] && grep -q '$qid' '$E2E_TMP/milter.log'" "sendmail(1): cleanup asked the milter (queue id ${qid:-?} in its log)"
unlike "$(grep -E 'milter|status=deferred' "$E2E_TMP/postfix.log" | grep -vi 'milter-reject' | grep -E 'warning|deferred')" . \
	"Postfix logged no milter warning and deferred nothing"

# ------------------------------------------------------------- history
sq() { as "$MUSER" sqlite3 -readonly "$STATEDIR/history.db" "$1"; }
wait_for "$E2E_WAIT" "[ \"\$(sq \"select count(*) from messages where policy_domain = 'rep1.$D'\")\" -ge 1 ]" \
	"the SMTP message's row in the history store"
is "$(sq "select count(*) from messages where policy_domain = 'rep1.$D'")" 1 \
	"history: the SMTP message's row, written by the service user"

# -------------------------------------------------------------- reload
# ExecReload as systemctl reload runs it: each line in order, the first
# failure fails the reload.  A broken file: refused, no signal sent.
reload() {
	local line
	: >"$E2E_TMP/reload.log"
	while IFS= read -r line; do
		unit_run "$MUSER" "$MGROUP" "$MMASK" "$E2E_TMP/reload.log" "$line" || return 1
	done < <(unit_values "$MUNIT" ExecReload)
}
reloads() { grep -c 'configuration reloaded from' "$E2E_TMP/milter.log"; }
n=$(reloads)
cp "$CONF" "$E2E_TMP/conf.good"
echo "no-such-key on" >>"$CONF"
ok '! reload' "ExecReload: a broken configuration fails the reload"
like "$(cat "$E2E_TMP/reload.log")" "$CONF:[0-9]+:[0-9]+: unknown key" "ExecReload: and says where (file:line:column)"
cp "$E2E_TMP/conf.good" "$CONF"
echo 'rule BROKEN spf ==' >>"$RULES"
ok '! reload' "ExecReload: broken rules fail the reload"
sed -i '$d' "$RULES"
is "$(reloads)" "$n" "ExecReload: the daemon was not signalled"
ok reload "ExecReload: a good configuration reloads" || diag "$(cat "$E2E_TMP/reload.log")"
ok "wait_for $E2E_WAIT '[ \$(reloads) -gt $n ]'" "ExecReload: the daemon reloaded"

# ------------------------------------------------------- the report unit
# The records are today's; the report unit reports the previous UTC day:
# move them there, as the store's own user.
as "$MUSER" sqlite3 "$STATEDIR/history.db" "update messages set time = time - 86400" ||
	fail "move the records to yesterday"
report_run() { # LOG - ExecStartPre and ExecStart of the report unit
	local line st=0
	while IFS= read -r line; do
		unit_run "$RUSER" "$RGROUP" "$RMASK" "$1" "$line" || return $?
	done < <(unit_values "$RUNIT" ExecStartPre)
	unit_run "$RUSER" "$RGROUP" "$RMASK" "$1" "$(unit_values "$RUNIT" ExecStart)" || st=$?
	return "$st"
}
reports_in_sink() { grep -l "Report Domain: rep1\\.$D" "$E2E_TMP"/sink/* 2>/dev/null | wc -l; }
report_run "$E2E_TMP/report1.log"
is "$?" 0 "report unit: exits 0" || diag "$(cat "$E2E_TMP/report1.log")"
wait_for "$E2E_TIMEOUT" "[ \$(reports_in_sink) -ge 1 ]" "the rep1 report in the sink"
is "$(reports_in_sink)" 1 "report unit: the rep1 report reached its rua address (through sendmail and Postfix)"
is "$(sq "select count(*) from reports_sent where policy_domain = 'rep1.$D'")" 1 \
	"report unit: the report is recorded as sent"
report_run "$E2E_TMP/report2.log"
is "$?" 0 "report unit, second run: exits 0" || diag "$(cat "$E2E_TMP/report2.log")"
like "$(cat "$E2E_TMP/report2.log")" 'already sent' "report unit, second run: already sent, says so"
wait_for "$E2E_WAIT" "[ -z \"\$(postqueue -j)\" ]" "Postfix's queue to be empty"
is "$(reports_in_sink)" 1 "report unit, second run: nothing sent again"

# ------------------------------------------------------ systemd-analyze
if ! command -v systemd-analyze >/dev/null || [ ! -f /lib/systemd/system/sysinit.target ]; then
	printf 'ok %d # SKIP systemd-analyze or systemd unit files not here\n' $((T_N += 1))
else
	units=()
	for u in "$MUNIT" "$RUNIT" "${MUNIT%/*}/authscore-report.timer"; do units+=("${u#"$ROOT"}"); done
	out=$(systemd-analyze verify --man=no "${units[@]}" 2>&1)
	is "$?:$out" "0:" "systemd-analyze verify: the installed units, no complaint" ||
		diag "$(ls -l "${units[@]}" 2>&1)"
fi

done_testing
