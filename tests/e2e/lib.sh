# tests/e2e/lib.sh - end-to-end harness for authscore (sourced, bash only).
#
# A scenario script does
#     . "$(dirname "$0")/lib.sh"
#     e2e_setup            # NSD, smtp-sink, Postfix, the milter
#     ...assertions...
#     done_testing
#
# Sourcing this file re-executes the calling script inside private network,
# mount and PID namespaces (unshare), so nothing can leave the machine, the
# ports are private, and every process started here dies with the script.
# Inside: lo is up, 203.0.113.0/24 is local (any address of it can be used as
# a client), 2001:db8::10, ::11 and ::25 are on lo.  /etc/postfix,
# /var/spool/postfix, /var/lib/postfix and /etc/resolv.conf are replaced by
# private copies (bind mounts), so the private Postfix uses its default paths.
#
# Environment:
#   AUTHSCORE_MILTER  the daemon (default $top_builddir/authscore-milter)
#   AUTHSCORE         the admin tool (default $top_builddir/authscore)
#   E2E_KEEP=1        keep the temporary directory (path printed as a comment)
#   E2E_TIMEOUT       seconds wait_delivered waits for a message (default 30)
#   E2E_WAIT          seconds a wait for anything else asynchronous (a log
#                     line, a reload, a process exit) may take (default 30);
#                     a wait that succeeds returns at once, so these are
#                     generous: a loaded 2-core machine must not fail them
#   E2E_MILTER_DEFAULT_ACTION  Postfix milter_default_action (default tempfail)
#   E2E_MASTER_CF     a master.cf to use instead of the generated one
#   E2E_MAIN_CF_APPEND  a file appended to main.cf unchanged
#   E2E_PRE_START     a function e2e_setup runs before starting any server
#   E2E_NO_MILTER=1   e2e_setup does not start the milter
#   E2E_START_MTA, E2E_STOP_MTA  functions that start and stop another MTA
#                     instead of Postfix (lib_sendmail.sh sets them)
#   E2E_MILTER_SOCKET the milter's socket (default $E2E_TMP/milter.sock)
#
# Layout of $E2E_TMP: nsd/ (conf, log), sink/ (one file per message),
# postfix.log, milter.log, authscore.conf, msg/ (generated messages).

# ---------------------------------------------------------------- namespaces
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_SCRIPT=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

if [ -z "${E2E_IN_NS:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "1..0 # SKIP need root (unshare, Postfix, NSD)"
		exit 0
	fi
	# Prefer a PID namespace too: when the script ends, everything in it is
	# killed by the kernel, even after a crash of this harness.
	# A UTS namespace too: a test may name its host (lib_sendmail.sh).
	if unshare --net --mount --uts --pid --fork --kill-child --mount-proc true 2>/dev/null; then
		E2E_IN_NS=pid exec unshare --net --mount --uts --pid --fork --kill-child \
			--mount-proc /bin/bash "$E2E_SCRIPT" "$@"
	elif unshare --net --mount true 2>/dev/null; then
		E2E_IN_NS=net exec unshare --net --mount /bin/bash "$E2E_SCRIPT" "$@"
	fi
	echo "1..0 # SKIP need root: unshare --net --mount failed"
	exit 0
fi
export E2E_IN_NS

: "${top_srcdir:=$(cd "$E2E_DIR/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${AUTHSCORE_MILTER:=$top_builddir/authscore-milter}"
: "${AUTHSCORE:=$top_builddir/authscore}"
: "${E2E_TIMEOUT:=30}"
: "${E2E_WAIT:=30}"
: "${E2E_MILTER_DEFAULT_ACTION:=tempfail}"
# A sanitizer build's LeakSanitizer scans the heap when a process exits:
# on a busy machine that takes seconds the daemon does not spend.  Deadlines
# on a process's exit get this much more there; the daemon's own stop is
# timed by its "stopped" log line (milter_stop_ms).
if ldd "$AUTHSCORE_MILTER" 2>/dev/null | grep -q 'libasan\|libubsan'; then
	E2E_EXIT_SLACK=5
else
	E2E_EXIT_SLACK=0
fi

E2E_ZONES=$E2E_DIR/zones
E2E_AUTHSERV_ID=mx.authscore.test
# Zones configured in NSD without a zone file: NSD 4.6 answers SERVFAIL for
# every name in them (it logs "zonefile ... does not exist" and serves the
# zone as not loaded).  Must not be delegated from the parent zone.
E2E_SERVFAIL_ZONES="servfail.authscore.test"
E2E_DNS_PORT=5353
E2E_SINK_PORT=2525
E2E_SMTP_PORT=25
E2E_CLIENT4=203.0.113.10
E2E_CLIENT6=2001:db8::10
E2E_RCPT=user@sink.test

# ---------------------------------------------------------------------- TAP
# fd 3 is the TAP stream: a wait that gives up says so there, even from
# inside ok's condition (whose output goes to /dev/null) or a $(...)
# (daemons started here get it closed: they must not hold the stream open)
exec 3>&1
T_N=0
T_FAILED=0

diag() {
	local line
	printf '%s\n' "$@" | while IFS= read -r line; do printf '# %s\n' "$line"; done
}

# print the logs' tails after a failure, unless they have not grown since
# the last time (a scenario's later failures would repeat them)
_LOG_STATE=
_log_tails() {
	local f state
	state=$(stat -c %s "$E2E_TMP/milter.log" "$E2E_TMP/postfix.log" "$E2E_TMP/sendmail.log" 2>/dev/null | tr '\n' ' ')
	[ "$state" = "$_LOG_STATE" ] && return 0
	_LOG_STATE=$state
	for f in "$E2E_TMP/milter.log" "$E2E_TMP/postfix.log" "$E2E_TMP/sendmail.log"; do
		[ -s "$f" ] || continue
		diag "---- tail ${f##*/} ----"
		tail -n "${E2E_TAIL:-12}" "$f" | diag "$(cat)"
	done
}

_result() { # STATUS DESC
	T_N=$((T_N + 1))
	if [ "$1" = 0 ]; then
		printf 'ok %d - %s\n' "$T_N" "$2"
		return 0
	fi
	T_FAILED=$((T_FAILED + 1))
	printf 'not ok %d - %s\n' "$T_N" "$2"
	return 1
}

# ok 'SHELL CONDITION' DESC - the condition is evaluated with eval.
ok() {
	local st=0
	eval "$1" >/dev/null 2>&1 || st=1
	_result "$st" "$2" && return 0
	diag "  condition failed: $1"
	_log_tails
	return 1
}

# is GOT WANT DESC
is() {
	local st=0
	[ "$1" = "$2" ] || st=1
	_result "$st" "$3" && return 0
	diag "       got: '$1'" "  expected: '$2'"
	_log_tails
	return 1
}

# like GOT ERE DESC (bash =~); unlike is the negation
like() {
	local st=0
	[[ $1 =~ $2 ]] || st=1
	_result "$st" "$3" && return 0
	diag "  '$1'" "  doesn't match /$2/"
	_log_tails
	return 1
}

unlike() {
	local st=0
	[[ $1 =~ $2 ]] && st=1
	_result "$st" "$3" && return 0
	diag "  '$1'" "  matches /$2/"
	_log_tails
	return 1
}

fail() { _result 1 "$1"; shift; [ $# -gt 0 ] && diag "$@"; _log_tails; return 1; }
pass() { _result 0 "$1"; }

done_testing() {
	# A sanitizer build reports memory errors, undefined behaviour and leaks
	# in the milter's log (leaks only at exit): stop it cleanly and look.
	if [ -n "${MILTER_PID:-}" ]; then
		kill -TERM "$MILTER_PID" 2>/dev/null
		wait_for "$E2E_WAIT" "! _pid_alive $MILTER_PID" "the milter to exit after SIGTERM"
		MILTER_PID=
	fi
	unlike "$(grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$E2E_TMP/milter.log" 2>/dev/null | head -5)" . \
		"no sanitizer report in the milter log"
	printf '1..%d\n' "$T_N"
	[ "$T_FAILED" = 0 ] || diag "$T_FAILED of $T_N failed; temporary files: $E2E_TMP (E2E_KEEP=1 keeps them)"
	[ "$T_FAILED" = 0 ]
	exit $?
}

# ------------------------------------------------------------------ helpers
# wait_for SECONDS 'CONDITION' [WHAT] - poll every 0.1 s until CONDITION
# (eval'd) holds; give up once SECONDS of wall-clock time have passed (a
# slow condition does not stretch the deadline), saying on the TAP stream
# what was waited for (WHAT, default the condition itself)
wait_for() {
	local secs=$1 cond=$2 what=${3:-$2} end now
	end=$((${EPOCHREALTIME/[.,]/} + secs * 1000000))
	for (( ; ; )); do
		now=${EPOCHREALTIME/[.,]/}
		eval "$cond" >/dev/null 2>&1 && return 0
		((now < end)) || break
		sleep 0.1
	done
	printf '# gave up after %ss waiting for: %s\n' "$secs" "$what" >&3
	return 1
}

_tcp_listening() { ss -Hltn "sport = :$1" | grep -q .; }
_unix_listening() { ss -Hxl | grep -qF " $1 "; }

# milter_stop_ms SINCE - milliseconds from SINCE (date +%s%3N) to the
# milter's last "stopped" log line, or nothing if it has logged none since
milter_stop_ms() {
	local line t
	line=$(grep -E '^[0-9T:.-]+Z authscore-milter\[notice\]: stopped$' "$E2E_TMP/milter.log" | tail -n 1)
	[ -n "$line" ] || return 1
	t=$(date -d "${line%%Z *}Z" +%s%3N) || return 1
	[ "$t" -ge "$1" ] || return 1
	echo $((t - $1))
}

_pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# _stop_pid PID [SIG] - signal, wait up to E2E_WAIT s, then SIGKILL
_stop_pid() {
	local pid=$1
	_pid_alive "$pid" || return 0
	kill -"${2:-TERM}" "$pid" 2>/dev/null
	wait_for "$E2E_WAIT" "! _pid_alive $pid" "process $pid to exit after SIG${2:-TERM}" ||
		kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# ---------------------------------------------------------------- network
_setup_net() {
	ip link set lo up &&
		ip route add local 203.0.113.0/24 dev lo &&
		ip addr add 2001:db8::10/128 dev lo nodad &&
		ip addr add 2001:db8::11/128 dev lo nodad &&
		ip addr add 2001:db8::25/128 dev lo nodad
}

# --------------------------------------------------------------------- NSD
# zones_with DOMAIN RECORDS... - before NSD starts (E2E_PRE_START): a copy
# of the test zones in $E2E_TMP/zones with a zone for DOMAIN made of the
# RECORDS files (as `authscore dkim keygen` writes S.txt), and E2E_ZONES
# pointing at it.
zones_with() {
	local d=$1 z=$E2E_TMP/zones
	shift
	mkdir -p "$z" && cp "$E2E_ZONES"/*.zone "$z/" || return 1
	{
		echo "\$ORIGIN $d."
		echo "\$TTL 300"
		echo "@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60"
		echo "@ IN NS ns.test."
		cat "$@"
	} >"$z/$d.zone" || return 1
	E2E_ZONES=$z
}

start_nsd() {
	local d=$E2E_TMP/nsd z name
	mkdir -p "$d"
	cat >"$d/nsd.conf" <<-EOF
		server:
		  ip-address: 127.0.0.1@$E2E_DNS_PORT
		  ip-address: ::1@$E2E_DNS_PORT
		  # also on port 53 for /etc/resolv.conf (Postfix's own lookups)
		  ip-address: 127.0.0.1@53
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
		  tcp-count: 20
		  # no response rate limiting: at its default (200 answers a second
		  # per /24) it drops answers to Postfix's PTR and A lookups under
		  # load, and smtpd then waits out the resolver's 1 s timeout
		  rrl-ratelimit: 0
		  rrl-whitelist-ratelimit: 0
		  verbosity: 1
		  hide-version: yes
		remote-control:
		  control-enable: no
	EOF
	for z in "$E2E_ZONES"/*.zone; do
		name=${z##*/}
		name=${name%.zone}
		printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "$name" "$z" >>"$d/nsd.conf"
	done
	for name in $E2E_SERVFAIL_ZONES; do
		printf 'zone:\n  name: "%s"\n  zonefile: "%s/%s.absent"\n' "$name" "$d" "$name" >>"$d/nsd.conf"
	done
	nsd -d -c "$d/nsd.conf" >"$d/stderr" 2>&1 3>&- &
	NSD_PID=$!
	if ! wait_for "$E2E_WAIT" "grep -q 'nsd started' '$d/nsd.log'" "NSD to log 'nsd started'"; then
		diag "NSD did not start:" "$(cat "$d/stderr" "$d/nsd.log" 2>/dev/null)"
		return 1
	fi
	if grep error "$d/nsd.log" | grep -qv '\.absent does not exist'; then
		diag "NSD zone errors:" "$(grep error "$d/nsd.log")"
	fi
}

# ---------------------------------------------------------------- smtp-sink
start_sink() {
	mkdir -p "$E2E_TMP/sink"
	chown postfix "$E2E_TMP/sink"
	# one file per message: sink/<time>.<random>
	smtp-sink -u postfix -h sink.test -d "$E2E_TMP/sink/%Y%m%d%H%M%S." \
		127.0.0.1:$E2E_SINK_PORT 50 >"$E2E_TMP/sink.log" 2>&1 3>&- &
	SINK_PID=$!
	wait_for "$E2E_WAIT" "_tcp_listening $E2E_SINK_PORT" "smtp-sink to listen on $E2E_SINK_PORT" || { diag "smtp-sink did not start" "$(cat "$E2E_TMP/sink.log")"; return 1; }
}

# ------------------------------------------------------------------ Postfix
_private_dir() { # REALPATH PRIVATEPATH - bind-mount PRIVATEPATH over REALPATH
	mkdir -p "$1" && mount --bind "$2" "$1"
}

start_postfix() {
	local pf=$E2E_TMP/postfix etc spool lib
	etc=$pf/etc
	spool=$pf/spool
	lib=$pf/lib
	mkdir -p "$etc" "$spool" "$lib"
	cp -a /etc/postfix/. "$etc/"
	rm -f "$etc/main.cf" "$etc/master.cf"
	chown postfix:postfix "$lib"
	chmod 755 "$spool"
	: >"$E2E_TMP/postfix.log"
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$E2E_TMP/resolv.conf"
	_private_dir /etc/postfix "$etc" &&
		_private_dir /var/spool/postfix "$spool" &&
		_private_dir /var/lib/postfix "$lib" &&
		mount --bind "$E2E_TMP/resolv.conf" /etc/resolv.conf || return 1
	cat >/etc/postfix/main.cf <<-EOF
		# generated by tests/e2e/lib.sh
		compatibility_level = 3.6
		myhostname = $E2E_AUTHSERV_ID
		mydomain = authscore.test
		myorigin = \$myhostname
		mydestination =
		inet_interfaces = loopback-only
		inet_protocols = all
		mynetworks = 127.0.0.0/8 [::1]/128
		relay_domains = sink.test
		relayhost = [127.0.0.1]:$E2E_SINK_PORT
		relay_transport = relay:[127.0.0.1]:$E2E_SINK_PORT
		default_transport = smtp:[127.0.0.1]:$E2E_SINK_PORT
		smtp_dns_support_level = disabled
		smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
		smtpd_recipient_restrictions = permit
		smtpd_milters = unix:$E2E_TMP/milter.sock
		non_smtpd_milters =
		milter_default_action = $E2E_MILTER_DEFAULT_ACTION
		milter_protocol = 6
		milter_connect_timeout = 5s
		milter_command_timeout = 30s
		milter_content_timeout = 60s
		maillog_file = $E2E_TMP/postfix.log
		maillog_file_prefixes = $E2E_TMP
		alias_maps =
		alias_database =
		local_recipient_maps =
		biff = no
		append_dot_mydomain = no
		smtputf8_enable = no
		smtpd_tls_security_level = none
		smtp_tls_security_level = none
		smtpd_error_sleep_time = 0
		smtpd_soft_error_limit = 1000
		smtpd_hard_error_limit = 1000
		smtpd_client_connection_rate_limit = 0
		in_flow_delay = 0
		queue_run_delay = 1s
		minimal_backoff_time = 1s
		maximal_backoff_time = 2s
		delay_warning_time = 0
		smtp_connect_timeout = 5s
	EOF
	cat >/etc/postfix/master.cf <<-EOF
		# generated by tests/e2e/lib.sh; nothing chrooted
		# service type  private unpriv  chroot  wakeup  maxproc command
		127.0.0.1:$E2E_SMTP_PORT inet n - n - - smtpd
		[::1]:$E2E_SMTP_PORT inet n - n - - smtpd
		pickup    unix  n       -       n       60      1       pickup
		cleanup   unix  n       -       n       -       0       cleanup
		qmgr      unix  n       -       n       300     1       qmgr
		rewrite   unix  -       -       n       -       -       trivial-rewrite
		bounce    unix  -       -       n       -       0       bounce
		defer     unix  -       -       n       -       0       bounce
		trace     unix  -       -       n       -       0       bounce
		verify    unix  -       -       n       -       1       verify
		flush     unix  n       -       n       1000?   0       flush
		proxymap  unix  -       -       n       -       -       proxymap
		smtp      unix  -       -       n       -       -       smtp
		relay     unix  -       -       n       -       -       smtp
		showq     unix  n       -       n       -       -       showq
		error     unix  -       -       n       -       -       error
		retry     unix  -       -       n       -       -       error
		discard   unix  -       -       n       -       -       discard
		local     unix  -       n       n       -       -       local
		anvil     unix  -       -       n       -       1       anvil
		scache    unix  -       -       n       -       1       scache
		postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
	_postfix_shipped || return 1
	if ! postfix check >"$E2E_TMP/postfix-start.log" 2>&1 ||
		! postfix start >>"$E2E_TMP/postfix-start.log" 2>&1 3>&-; then
		diag "postfix start failed:" "$(cat "$E2E_TMP/postfix-start.log")"
		return 1
	fi
	POSTFIX_STARTED=1
	wait_for "$E2E_WAIT" "_tcp_listening $E2E_SMTP_PORT" "Postfix to listen on $E2E_SMTP_PORT" || { diag "Postfix does not listen"; return 1; }
}

# As an admin would set Postfix up (tests/e2e/shipped.sh): E2E_MASTER_CF
# replaces the master.cf above (Debian's stock one), E2E_MAIN_CF_APPEND is
# appended to main.cf unchanged (the parameters it sets are removed from the
# generated part first), and chrooted services get their chroot prepared by
# Debian's own script, as Debian's postfix.service does before each start.
_postfix_shipped() {
	local p
	if [ -n "${E2E_MASTER_CF:-}" ]; then
		cp "$E2E_MASTER_CF" /etc/postfix/master.cf || return 1
	fi
	if [ -n "${E2E_MAIN_CF_APPEND:-}" ]; then
		for p in $(sed -n 's/^\([a-z_0-9]*\)[[:space:]]*=.*/\1/p' "$E2E_MAIN_CF_APPEND"); do
			postconf -X "$p" || return 1
		done
		cat "$E2E_MAIN_CF_APPEND" >>/etc/postfix/main.cf || return 1
	fi
	if awk '/^[0-9a-z]/ && $5 ~ /^[yY]$/ { found = 1 } END { exit !found }' /etc/postfix/master.cf; then
		/usr/lib/postfix/configure-instance.sh - >>"$E2E_TMP/postfix-start.log" 2>&1 ||
			{ diag "chroot setup failed:" "$(cat "$E2E_TMP/postfix-start.log")"; return 1; }
	fi
	return 0
}

stop_postfix() {
	local pid
	[ -n "${POSTFIX_STARTED:-}" ] || return 0
	pid=$(sed -n 's/ //gp' /var/spool/postfix/pid/master.pid 2>/dev/null)
	postfix stop >/dev/null 2>&1
	[ -n "$pid" ] && { wait_for "$E2E_WAIT" "! _pid_alive $pid" "Postfix's master to exit" || kill -KILL "$pid"; }
	POSTFIX_STARTED=
}

# postfix_set NAME=VALUE... - change main.cf, reload, and wait until the
# reload has taken effect: Postfix's master logged it and every Postfix
# process started before it (which had read the old main.cf) has exited.
# `postfix reload` only signals the master, it does not wait.
postfix_set() {
	local master old n p
	master=$(sed -n 's/ //gp' /var/spool/postfix/pid/master.pid 2>/dev/null)
	old=$(ps -o pid= --ppid "$master" 2>/dev/null)
	n=$(_postfix_reloads)
	postconf -e "$@" && postfix reload >/dev/null 2>&1 || return 1
	wait_for "$E2E_WAIT" "[ \$(_postfix_reloads) -gt $n ]" "Postfix's master to log the reload" ||
		return 1
	for p in $old; do
		wait_for "$E2E_WAIT" "! _pid_alive $p" "Postfix process $p (older than the reload) to exit" ||
			return 1
	done
}
_postfix_reloads() { grep -c 'postfix/master\[[0-9]*\]: reload --' "$E2E_TMP/postfix.log"; }

# start_blackhole PORT - a UDP port on 127.0.0.1 that takes DNS queries and
# never answers (a lookup there lasts until its deadline); every query's
# name is appended to $E2E_TMP/blackhole-PORT.log, so a test can wait for
# a lookup to be under way, or check that none was made.
start_blackhole() {
	local port=$1 log=$E2E_TMP/blackhole-$1.log
	: >"$log"
	perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:$ARGV[0]", Proto => "udp")
			or die "blackhole: $!\n";
		open(my $log, ">>", $ARGV[1]) or die "blackhole: $ARGV[1]: $!\n";
		$log->autoflush(1);
		while (defined $s->recv(my $q, 4096)) {
			my ($i, @l) = (12);
			while ($i < length $q) {
				my $n = ord substr($q, $i, 1);
				last if $n == 0 || $n > 63;
				push @l, substr($q, $i + 1, $n);
				$i += $n + 1;
			}
			print $log lc(join(".", @l)), "\n";
		}' "$port" "$log" >/dev/null 2>>"$log.err" 3>&- &
	BLACKHOLE_PIDS+=" $!"
	wait_for "$E2E_WAIT" "ss -Hlun 'sport = :$port' | grep -q ." "the blackhole to listen on UDP $port" ||
		{ diag "$(cat "$log.err")"; return 1; }
}
BLACKHOLE_PIDS=
# blackhole_asked PORT NAME - a query for NAME reached the blackhole on PORT
blackhole_asked() { grep -qixF "$2" "$E2E_TMP/blackhole-$1.log"; }

# blackhole_sync PORT - send the blackhole a query of our own and wait until
# it is logged: every query sent to it before is logged by then (one socket,
# read in order), so "no query for X" can be checked after this
blackhole_sync() {
	local label=sync$RANDOM$RANDOM len
	printf -v len '\\x%02x' "${#label}"
	# a DNS query: header (id, RD, one question), the name, type A, class IN
	printf "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00$len%s\x03e2e\x00\x00\x01\x00\x01" \
		"$label" >"/dev/udp/127.0.0.1/$1"
	wait_for "$E2E_WAIT" "blackhole_asked $1 $label.e2e" "the blackhole on $1 to log our query $label.e2e"
}

# ------------------------------------------------------------------- milter
E2E_CONF=
# write_milter_conf FILE [EXTRA LINE...]
write_milter_conf() {
	local f=$1
	shift
	{
		echo "# generated by tests/e2e/lib.sh"
		echo "socket unix:${E2E_MILTER_SOCKET:-$E2E_TMP/milter.sock}"
		echo "authserv-id $E2E_AUTHSERV_ID"
		echo "trusted-networks 127.0.0.0/8 ::1/128"
		echo "log-to stderr"
		echo "log-level debug"
		echo "dns-stub test. 127.0.0.1@$E2E_DNS_PORT"
		echo "dns-stub 113.0.203.in-addr.arpa. 127.0.0.1@$E2E_DNS_PORT"
		echo "dns-stub 8.b.d.0.1.0.0.2.ip6.arpa. 127.0.0.1@$E2E_DNS_PORT"
		# the DNS lists of the default rules, served by our NSD (zones/)
		for z in zen.spamhaus.org bl.spamcop.net b.barracudacentral.org \
			list.dnswl.org dbl.spamhaus.org; do
			echo "dns-stub $z. 127.0.0.1@$E2E_DNS_PORT"
		done
		echo "dns-timeout 2s"
		# history store and reports stay in the test's directory
		echo "state-dir $E2E_TMP/state"
		echo "report-email dmarc-reports@mx.authscore.test"
		echo "report-org-name \"authscore e2e\""
		printf '%s\n' "$@"
	} >"$f"
}

# start_milter [EXTRA CONFIG LINE...] - (re)start the daemon with the base
# config plus the given lines; its stderr is appended to milter.log
start_milter() {
	E2E_CONF=$E2E_TMP/authscore.conf
	write_milter_conf "$E2E_CONF" "$@"
	if [ ! -x "$AUTHSCORE_MILTER" ]; then
		diag "milter not found: $AUTHSCORE_MILTER (set AUTHSCORE_MILTER)"
		return 1
	fi
	echo "==== start $(date +%T.%N) $AUTHSCORE_MILTER -f -c $E2E_CONF" >>"$E2E_TMP/milter.log"
	local sock=${E2E_MILTER_SOCKET:-$E2E_TMP/milter.sock}
	(umask 0 && exec "$AUTHSCORE_MILTER" -f -c "$E2E_CONF" -p "unix:$sock") \
		>>"$E2E_TMP/milter.log" 2>&1 3>&- &
	MILTER_PID=$!
	if ! wait_for "$E2E_WAIT" "_unix_listening $sock || ! _pid_alive $MILTER_PID" \
		"the milter to listen on $sock (or exit)" ||
		! _pid_alive "$MILTER_PID"; then
		diag "milter did not start:" "$(tail -n 20 "$E2E_TMP/milter.log")"
		return 1
	fi
	# Postfix's smtpd (user postfix) must be able to connect
	chmod 0666 "$sock" 2>/dev/null
	return 0
}

# stop_milter [SIGNAL] - default TERM; KILL simulates a crash
stop_milter() {
	_stop_pid "${MILTER_PID:-}" "${1:-TERM}"
	MILTER_PID=
}

# authscore_test ARGS... < message - run the admin tool with the current config
authscore_test() {
	"$AUTHSCORE" test -c "$E2E_CONF" "$@"
}

# -------------------------------------------------------------------- mail
# make_msg MARKER [HEADER LINE...] - write a message to $E2E_TMP/msg/MARKER
# and print its path.  Message-ID is <MARKER@e2e.authscore.test>, the last
# body line is "E2E-END MARKER" (wait_delivered looks for it).
make_msg() {
	local marker=$1 f
	shift
	mkdir -p "$E2E_TMP/msg"
	f=$E2E_TMP/msg/$marker
	{
		[ $# -gt 0 ] && printf '%s\n' "$@"
		printf 'From: <sender@authscore.test>\n'
		printf 'To: <%s>\n' "$E2E_RCPT"
		printf 'Subject: e2e %s\n' "$marker"
		printf 'Date: %s\n' "$(date -R)"
		printf 'Message-ID: <%s@e2e.authscore.test>\n' "$marker"
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: text/plain; charset=us-ascii\n'
		printf '\n'
		printf 'Test message %s.\n' "$marker"
		printf 'E2E-END %s\n' "$marker"
	} >"$f"
	echo "$f"
}

# send_mail [--ip ADDR] [--helo H] [--from A] [--to R] [--data FILE] [swaks args...]
# Connects from ADDR (default 203.0.113.10; IPv6 addresses go to [::1]) and
# prints swaks' transcript (SMTP replies on lines starting "<-" / "<**").
# Returns swaks' exit status.
send_mail() {
	local ip=$E2E_CLIENT4 helo=client.authscore.test from=user@pass.authscore.test
	local to=$E2E_RCPT
	local -a rest=()
	while [ $# -gt 0 ]; do
		case $1 in
		--ip) ip=$2; shift 2 ;;
		--helo) helo=$2; shift 2 ;;
		--from) from=$2; shift 2 ;;
		--to) to=$2; shift 2 ;;
		--data) [ -f "$2" ] && rest+=(--data "@$2") || rest+=(--data "$2"); shift 2 ;;
		*) rest+=("$1"); shift ;;
		esac
	done
	local -a server
	case $ip in
	# swaks needs IO::Socket::INET6 (Debian: libio-socket-inet6-perl) for IPv6
	*:*) server=(--server ::1 --port "$E2E_SMTP_PORT" -6) ;;
	*) server=(--server 127.0.0.1 --port "$E2E_SMTP_PORT" -4) ;;
	esac
	swaks "${server[@]}" --local-interface "$ip" --helo "$helo" \
		--from "$from" --to "$to" --timeout 60 --hide-informational \
		"${rest[@]}" 2>&1
}

# data_reply TRANSCRIPT - the server's reply to the end of DATA ("." line),
# or to the command that ended the transaction early
data_reply() {
	awk '/^ *-> \.$/ { dot = 1; next }
	     dot && /^<(-|\*\*) / { sub(/^<(-|\*\*) +/, ""); print; exit }
	     /^<\*\* / { err = $0 }
	     END { if (!dot && err != "") { sub(/^<\*\* +/, "", err); print err } }' <<<"$1"
}

# wait_delivered MARKER [TIMEOUT] - print the sink file of the message whose
# body ends with "E2E-END MARKER"; fail after TIMEOUT (default E2E_TIMEOUT) s.
# smtp-sink writes the file as the data comes in, and the marker is the last
# line: once it is there, the rest is too.
wait_delivered() {
	local marker=$1 t=${2:-$E2E_TIMEOUT}
	wait_for "$t" "_sink_file_marker '$marker'" "the message with E2E-END $marker in the sink" &&
		_sink_file_marker "$marker"
}
_sink_file_marker() {
	local f
	f=$(grep -lx "E2E-END $1" "$E2E_TMP"/sink/* 2>/dev/null | head -n 1)
	[ -n "$f" ] && echo "$f"
}

# queued MARKER - a file in one of Postfix's queues holds "E2E-END MARKER"
queued() {
	grep -rlaqF "E2E-END $1" /var/spool/postfix/{maildrop,incoming,active,deferred,hold} 2>/dev/null
}

# never_delivered MARKER - the message is in no Postfix queue (waiting for
# that, E2E_WAIT s at most) and not in the sink: it cannot be delivered
# later.  (A message is in a queue from DATA until it is delivered, so
# checking the queues first, then the sink, misses none.)
never_delivered() {
	wait_for "$E2E_WAIT" "! queued '$1'" "the message E2E-END $1 to leave Postfix's queues" &&
		! grep -qx "E2E-END $1" "$E2E_TMP"/sink/* 2>/dev/null
}

# delivered_headers FILE - the message's header lines as delivered to the
# sink, unfolded, one per line, without smtp-sink's own records (its
# X-Client-*, X-Helo/Mail/Rcpt-Args and its Received header, which come
# first)
delivered_headers() {
	awk 'BEGIN { inhdr = 1 }
	     !inhdr { exit }
	     /^$/ { inhdr = 0; if (cur != "") print cur; exit }
	     /^[ \t]/ { gsub(/^[ \t]+/, " "); cur = cur $0; next }
	     { if (cur != "") print cur; cur = $0 }' "$1" |
		awk 'skip_done { print; next }
		     /^X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args):/ { next }
		     /^Received: .*\(smtp-sink\)/ { skip_done = 1; next }
		     { print }'
}

# ar_headers FILE [AUTHSERV-ID] - delivered Authentication-Results headers
# (unfolded) whose authserv-id is ours (or the given one), case-insensitive
ar_headers() {
	local id=${2:-$E2E_AUTHSERV_ID}
	delivered_headers "$1" | awk -v id="$id" '
		{ l = tolower($0) }
		l ~ /^authentication-results[ \t]*:/ {
			v = l; sub(/^authentication-results[ \t]*:[ \t]*/, "", v)
			split(v, a, /[ \t;]/)
			if (a[1] == tolower(id)) print }'
}

# spf_results TEXT - the "spf=RESULT smtp.PROP=VALUE" pairs in TEXT, sorted,
# space separated, lowercased
spf_results() {
	grep -oiE 'spf=[a-z]+([[:space:]]*\([^)]*\))?[[:space:]]+smtp\.(mailfrom|helo)=[^;[:space:]]+' <<<"$1" |
		sed -E 's/[[:space:]]*\([^)]*\)//; s/[[:space:]]+/ /g' | tr 'A-Z' 'a-z' | sort | tr '\n' ' ' | sed 's/ $//'
}

# ------------------------------------------------------------ setup/teardown
e2e_cleanup() {
	local st=$? pid
	trap - EXIT INT TERM
	stop_milter TERM
	for pid in $BLACKHOLE_PIDS; do _stop_pid "$pid"; done
	stop_postfix
	[ -z "${E2E_STOP_MTA:-}" ] || "$E2E_STOP_MTA"
	_stop_pid "${SINK_PID:-}"
	_stop_pid "${NSD_PID:-}"
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		diag "kept $E2E_TMP"
	elif [ -n "${E2E_TMP:-}" ]; then
		# the private mounts vanish with the namespace; unmount anyway so
		# rm does not walk into them while the namespace still exists
		umount /etc/postfix /var/spool/postfix /var/lib/postfix /etc/resolv.conf 2>/dev/null
		rm -rf "$E2E_TMP"
	fi
	exit "$st"
}

# --------------------------------------------------------- scenario helpers
ID_RE='mx\.authscore\.test'

# spec_re 'spf=RESULT smtp.PROP=VALUE' - regex for that resinfo in a
# lowercased AR (an optional comment after the result; a local-part before
# a mailfrom domain allowed)
spec_re() {
	local r=${1%% *} p=${1#* }
	local prop=${p%%=*} val=${p#*=} lp=
	[ "$prop" = smtp.mailfrom ] && lp='([^;[:space:]]*@)?'
	# a comment may hold escaped parentheses (quoted-pairs, RFC 5322 §3.2.1)
	printf '(^|;)[[:space:]]*%s([[:space:]]+\\(([^()\\\\]|\\\\.)*\\))*[[:space:]]+%s=%s%s([;[:space:]]|$)' \
		"${r//./\\.}" "${prop//./\\.}" "$lp" "${val//./\\.}"
}

LAST_FILE='' LAST_AR='' LAST_MSG=''
MSG_HEADERS=() # extra header lines for the next message, put on top
# accepted NAME SPEC... -- [send_mail args] - the message must be accepted
# (250), delivered, and carry exactly one AR of ours containing every SPEC
# ('spf=RESULT smtp.PROP=VALUE').  Always emits 3 + (number of SPECs)
# test results.
accepted() {
	local name=$1 marker reply out f ar n re
	shift
	local -a res=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do res+=("$1"); shift; done
	shift
	marker=$name-$$-$RANDOM
	LAST_MSG=$(make_msg "$marker" "${MSG_HEADERS[@]}")
	MSG_HEADERS=()
	out=$(send_mail --data "$LAST_MSG" "$@")
	reply=$(data_reply "$out")
	like "$reply" '^250 ' "$name: accepted" || diag "$(grep -E '^(<|<\*\*| ->) ' <<<"$out" | grep -v '^ -> [A-Z][a-z-]*:' | tail -n 8)"
	LAST_FILE='' LAST_AR=''
	if [[ $reply == 250\ * ]] && f=$(wait_delivered "$marker"); then
		LAST_FILE=$f
		pass "$name: delivered to the sink"
	else
		fail "$name: delivered to the sink" "not delivered within ${E2E_TIMEOUT}s"
	fi
	if [ -n "$LAST_FILE" ]; then
		ar=$(ar_headers "$LAST_FILE")
		LAST_AR=$ar
		n=$(grep -c . <<<"$ar")
		is "$n" 1 "$name: one Authentication-Results of ours" || diag "headers:" "$(delivered_headers "$LAST_FILE")"
	else
		fail "$name: one Authentication-Results of ours" "no message"
	fi
	for re in "${res[@]}"; do
		like "$(tr 'A-Z' 'a-z' <<<"$LAST_AR")" "$(spec_re "$re")" "$name: AR has $re"
	done
}

# refused NAME REPLY-REGEX [send_mail args] - the end of DATA (or an earlier
# command) gets a reply matching REPLY-REGEX and nothing is delivered
refused() {
	local name=$1 want=$2 marker out reply
	shift 2
	marker=$name-$$-$RANDOM
	LAST_MSG=$(make_msg "$marker")
	out=$(send_mail --data "$LAST_MSG" "$@")
	reply=$(data_reply "$out")
	like "$reply" "$want" "$name: reply $want"
	ok "never_delivered '$marker'" "$name: not delivered"
}

# ------------------------------------ DKIM/DMARC helpers (dkim.sh, dmarc.sh)
# dkim_sign SELECTOR DOMAIN KEYFILE [ALG] < MESSAGE - the message with a
# DKIM-Signature prepended (python3-dkim's dkimsign, c=relaxed/simple).
# ALG: rsa-sha256 (default), ed25519-sha256, rsa-sha1; KEYFILE: a PEM RSA
# key or a base64 Ed25519 seed (tests/e2e/data/keys/).
dkim_sign() {
	dkimsign --signalg "${4:-rsa-sha256}" "$1" "$2" "$3"
}

# dkim_sign_file FILE SELECTOR DOMAIN KEYFILE [ALG] - the same, FILE in place
dkim_sign_file() {
	dkim_sign "$2" "$3" "$4" "${5:-}" <"$1" >"$1.signed" && mv "$1.signed" "$1"
}

# msg_from MARKER FROM [HEADER...] - make_msg with the given From address
msg_from() {
	local f
	f=$(make_msg "$1" "${@:3}") || return 1
	sed -i "s/^From: <sender@authscore\.test>\$/From: <$2>/" "$f"
	echo "$f"
}

# queued_id TRANSCRIPT - the id in Postfix's "250 2.0.0 Ok: queued as ID"
queued_id() {
	sed -n 's/^<- *250 .*queued as \([0-9A-Za-z]*\).*/\1/p' <<<"$1" | tail -n 1
}

# wait_delivered_qid QID [TIMEOUT] - like wait_delivered, for messages that
# cannot carry an E2E-END line (fixed, signed test vectors): the sink file
# whose Postfix Received header names the queue id QID.  That header comes
# first and smtp-sink writes as the data comes in, so the file is complete
# only once Postfix logged the sink's 250 (status=sent): wait for both.
wait_delivered_qid() {
	local qid=$1 t=${2:-$E2E_TIMEOUT}
	[ -n "$qid" ] || return 1
	wait_for "$t" "grep -qE ' $qid: to=<.*status=sent' '$E2E_TMP/postfix.log' && _sink_file_qid $qid" \
		"queue id $qid delivered to the sink (status=sent logged, the file there)" &&
		_sink_file_qid "$qid"
}
_sink_file_qid() {
	local f
	f=$(grep -lE "\(Postfix\) with [A-Z]+ id $1([^0-9A-Za-z]|\$)" "$E2E_TMP"/sink/* 2>/dev/null | head -n 1)
	[ -n "$f" ] && echo "$f"
}

# resinfo_re 'METHOD=RESULT PROP=VALUE...' - ERE for that resinfo in a
# lowercased AR: the result, then each property in the given order, with
# comments (which may hold ';') and other properties between.  Only dots are
# escaped, so RESULT may be an alternative: 'dkim=(fail|permerror)'.
resinfo_re() {
	local w re=
	for w in $1; do
		w=${w//./\\.}
		if [ -z "$re" ]; then
			re="(^|;)[[:space:]]*$w"
		else
			re+="(([^;()]|\\(([^()\\\\]|\\\\.)*\\))*[[:space:]])?$w"
		fi
	done
	printf '%s([;[:space:]]|$)' "$re"
}

# send_file NAME FILE [send_mail args] - send FILE as it is (swaks --data;
# only line endings become CRLF).  Sets SENT_OUT (transcript), SENT_REPLY
# (reply to the end of DATA), SENT_QID (Postfix queue id, if queued) and
# SENT_SECS (seconds the whole SMTP session took).
send_file() {
	local t0 t1
	shift
	t0=$(date +%s.%N)
	SENT_OUT=$(send_mail --data "$@")
	t1=$(date +%s.%N)
	SENT_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	SENT_REPLY=$(data_reply "$SENT_OUT")
	SENT_QID=$(queued_id "$SENT_OUT")
}

# delivered_ok NAME - the last send_file got 250 and its message reached
# the sink with exactly one AR of ours.  Sets LAST_FILE and LAST_AR
# (lowercased).  Always emits 3 test results.
delivered_ok() {
	local name=$1 n
	LAST_FILE='' LAST_AR=''
	like "$SENT_REPLY" '^250 ' "$name: accepted" ||
		diag "$(grep -E '^(<|<\*\*) ' <<<"$SENT_OUT" | tail -n 4)"
	if [[ $SENT_REPLY == 250\ * ]] && LAST_FILE=$(wait_delivered_qid "$SENT_QID"); then
		pass "$name: delivered to the sink"
		LAST_AR=$(ar_headers "$LAST_FILE" | tr 'A-Z' 'a-z')
		n=$(grep -c . <<<"$LAST_AR")
		is "$n" 1 "$name: one Authentication-Results of ours" || diag "headers:" "$(delivered_headers "$LAST_FILE")"
	else
		LAST_FILE=''
		fail "$name: delivered to the sink" "not delivered within ${E2E_TIMEOUT}s"
		fail "$name: one Authentication-Results of ours" "no message"
	fi
}

# ar_has NAME SPEC... - LAST_AR has every resinfo SPEC (see resinfo_re)
ar_has() {
	local name=$1 spec
	shift
	for spec in "$@"; do
		like "$LAST_AR" "$(resinfo_re "${spec,,}")" "$name: AR has $spec"
	done
}

# e2e_setup [EXTRA MILTER CONFIG LINE...] - bring everything up.  A failing
# milter start is reported as a failed test, not a bail-out, so the
# scenarios still run (and fail).
e2e_setup() {
	E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/authscore-e2e.XXXXXX") || exit 1
	chmod 0755 "$E2E_TMP"
	trap e2e_cleanup EXIT
	trap 'exit 130' INT TERM
	[ "${E2E_KEEP:-0}" = 1 ] && diag "temporary directory: $E2E_TMP"
	if ! _setup_net; then
		echo "Bail out! cannot set up the network namespace"
		exit 1
	fi
	# E2E_PRE_START: a function to run before any server starts (mounts)
	if [ -n "${E2E_PRE_START:-}" ] && ! "$E2E_PRE_START"; then
		echo "Bail out! $E2E_PRE_START failed"
		exit 1
	fi
	start_nsd || { echo "Bail out! NSD did not start"; exit 1; }
	start_sink || { echo "Bail out! smtp-sink did not start"; exit 1; }
	# E2E_START_MTA: the MTA to start instead of Postfix (lib_sendmail.sh)
	"${E2E_START_MTA:-start_postfix}" || { echo "Bail out! ${E2E_START_MTA:-start_postfix} failed"; exit 1; }
	# E2E_NO_MILTER=1: the scenario starts the daemon its own way
	[ "${E2E_NO_MILTER:-0}" = 1 ] && return 0
	if start_milter "$@"; then
		pass "milter starts ($AUTHSCORE_MILTER)"
	else
		fail "milter starts ($AUTHSCORE_MILTER)"
	fi
}
