#!/bin/bash
# tests/e2e/report_smtp.sh - `authscore report` through a real Postfix as
# its relay (issue 15, item 15): plain SMTP on port 25 (host:port and
# smtp://), a submission service on 127.0.0.1:10587 that requires STARTTLS
# and SASL AUTH (Cyrus SASL, sasldb), and an smtps service on 10465.  The
# certificate is self-signed, made here with openssl.  The reports arrive
# (Postfix relays them to smtp-sink) and validate; a wrong password, an
# unverified certificate or a relay without STARTTLS fail with a clear
# message and leave the period unmarked, so the next run sends it; an AUTH
# file others may read and AUTH over plain text are refused up front.
# Everything on loopback in the test's network namespace.  TAP; root.
. "$(dirname "$0")/lib.sh"

SEED=$top_builddir/tests/e2e/report_seed
XSD=$top_srcdir/tests/data/dmarc/dmarc-aggregate-2.0.xsd
DAY=2023-11-15
DAY_T=1700006400 # 2023-11-15 00:00:00 UTC
RECEIVER=mx.example.net
SUBMISSION=10587
SMTPS=10465

for tool in openssl saslpasswd2 python3 xmllint; do
	command -v $tool >/dev/null || { echo "1..0 # SKIP $tool not installed"; exit 0; }
done
e2e_setup
T=$E2E_TMP

# ------------------------------------------------------------ the relay
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/relay.key" -out "$T/relay.crt" -days 2 \
	-subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	>"$T/openssl.log" 2>&1
ok "[ -s '$T/relay.crt' ]" "a self-signed certificate for 127.0.0.1" || diag "$(cat "$T/openssl.log")"
echo right-secret | saslpasswd2 -p -c -f "$T/sasldb2" -u $E2E_AUTHSERV_ID reporter
chown postfix "$T/sasldb2" && chmod 0600 "$T/sasldb2"
mkdir -p /etc/postfix/sasl # the test's private /etc/postfix
printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: %s\n' \
	"$T/sasldb2" >/etc/postfix/sasl/smtpd.conf
AUTH_ONLY="-o smtpd_sasl_auth_enable=yes -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject"
cat >>/etc/postfix/master.cf <<EOF
tlsmgr unix - - n 1000? 1 tlsmgr
127.0.0.1:$SUBMISSION inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes
  $AUTH_ONLY
127.0.0.1:$SMTPS inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt
  $AUTH_ONLY
EOF
ok "postfix_set smtpd_tls_cert_file=$T/relay.crt smtpd_tls_key_file=$T/relay.key \
	smtpd_tls_loglevel=1 smtpd_sasl_type=cyrus smtpd_sasl_path=smtpd \
	cyrus_sasl_config_path=/etc/postfix/sasl smtpd_sasl_local_domain=$E2E_AUTHSERV_ID" \
	"Postfix: TLS certificate and Cyrus SASL configured"
wait_for "$E2E_WAIT" "_tcp_listening $SUBMISSION && _tcp_listening $SMTPS" \
	"Postfix to listen on $SUBMISSION and $SMTPS"
ok "_tcp_listening $SUBMISSION && _tcp_listening $SMTPS" \
	"Postfix listens on $SUBMISSION (STARTTLS + AUTH) and $SMTPS (TLS + AUTH)" ||
	diag "$(tail -n 20 "$E2E_TMP/postfix.log")"

printf 'reporter\nright-secret\n' >"$T/auth.right"
printf 'reporter\nwrong-secret\n' >"$T/auth.wrong"
chmod 0600 "$T/auth.right" "$T/auth.wrong"

# ------------------------------------------------------------ helpers
# conf NAME [EXTRA LINE...] - $T/NAME.conf over its own store $T/NAME.db
conf() {
	local name=$1
	shift
	mkdir -p "$T/state-$name"
	ok "'$SEED' sqlite:$T/$name.db $DAY_T" "$name: store seeded"
	{
		echo "state-dir $T/state-$name"
		echo "history sqlite:$T/$name.db"
		echo "report-email dmarc-reports@$RECEIVER"
		echo "log-to stderr"
		echo "dns-timeout 2s"
		printf '%s\n' "$@"
	} >"$T/$name.conf"
}

# report NAME - run the tool on NAME's config; status in $RC, stderr in $T/NAME.err
report() {
	"$AUTHSCORE" report -c "$T/$1.conf" --period $DAY >"$T/$1.out" 2>"$T/$1.err"
	RC=$?
}

# reports only: Postfix also mails the postmaster notices of failed sessions
sink_count() { grep -l '^Subject: Report Domain: ' "$T/sink"/* 2>/dev/null | wc -l; }

# arrived N LABEL - N more messages in the sink than at $SINK_BEFORE
arrived() {
	local want=$((SINK_BEFORE + $1))
	wait_for "$E2E_WAIT" "[ \$(sink_count) -ge $want ]" "$want messages in the sink"
	is "$(sink_count)" "$want" "$2: $1 report(s) arrive through Postfix"
}

marked() { # marked NAME - rows in NAME's sent-report ledger
	python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(
		"select count(*) from reports_sent").fetchone()[0])' "$T/$1.db" 2>&1
}

# ------------------------------------------ plain relay: host:port, smtp://
SINK_BEFORE=$(sink_count)
conf plain "report-relay 127.0.0.1:$E2E_SMTP_PORT"
report plain
is "$RC" 0 "plain host:port: exit 0" || diag "$(cat "$T/plain.err")"
arrived 2 "plain host:port"
is "$(marked plain)" 2 "plain host:port: both reports marked sent"

SINK_BEFORE=$(sink_count)
conf plainurl "report-relay smtp://127.0.0.1:$E2E_SMTP_PORT"
report plainurl
is "$RC" 0 "plain smtp://: exit 0" || diag "$(cat "$T/plainurl.err")"
arrived 2 "plain smtp://"

# ------------------------------------------- STARTTLS + AUTH on submission
SINK_BEFORE=$(sink_count)
N_AUTH=$(grep -c 'sasl_username=reporter' "$E2E_TMP/postfix.log")
conf starttls "report-relay smtp://127.0.0.1:$SUBMISSION" "report-smtp-auth-file $T/auth.right" \
	"report-smtp-ca-file $T/relay.crt"
report starttls
is "$RC" 0 "STARTTLS + AUTH: exit 0" || diag "$(cat "$T/starttls.err")"
arrived 2 "STARTTLS + AUTH"
is "$(marked starttls)" 2 "STARTTLS + AUTH: both reports marked sent"
ok "[ $(grep -c 'sasl_username=reporter' "$E2E_TMP/postfix.log") -ge $((N_AUTH + 2)) ]" \
	"STARTTLS + AUTH: Postfix logs the SASL login of each" ||
	diag "$(grep -i 'sasl\|tls' "$E2E_TMP/postfix.log" | tail -n 5)"
like "$(grep "127.0.0.1:$SUBMISSION\|postfix/smtpd" "$E2E_TMP/postfix.log")" \
	'TLS connection established from localhost\[127\.0\.0\.1\]' \
	"STARTTLS + AUTH: the session was encrypted"
# the report that arrived is the report: its attachment validates
LAST=$(grep -l '^Subject: Report Domain: ' "$T/sink"/* | xargs ls -t | head -n 1)
python3 - "$LAST" "$T/arrived.xml" <<'EOF' 2>"$T/extract.err"
import email, gzip, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
for part in msg.walk():
    if part.get_content_type() == "application/gzip":
        open(sys.argv[2], "wb").write(gzip.decompress(part.get_payload(decode=True)))
EOF
ok "xmllint --noout --schema '$XSD' '$T/arrived.xml' 2>'$T/arrived.lint'" \
	"STARTTLS + AUTH: the report that arrived validates against the RFC 9990 schema" ||
	diag "$(cat "$T/extract.err" "$T/arrived.lint" 2>/dev/null | head -5)"
SINK_BEFORE=$(sink_count)
report starttls
is "$RC" 0 "STARTTLS + AUTH: a second run exits 0"
like "$(cat "$T/starttls.err")" 'already sent' "STARTTLS + AUTH: a second run sends nothing again"

# --------------------------------------------------------- wrong password
conf wrong "report-relay smtp://127.0.0.1:$SUBMISSION" "report-smtp-auth-file $T/auth.wrong" \
	"report-smtp-ca-file $T/relay.crt"
SINK_BEFORE=$(sink_count)
report wrong
is "$RC" 3 "wrong password: exit 3 (left for the next run)" || diag "$(cat "$T/wrong.err")"
like "$(cat "$T/wrong.err")" "not sent: report-relay smtp://127\.0\.0\.1:$SUBMISSION: AUTH refused \(user or password wrong\?\)" \
	"wrong password: the error says AUTH was refused"
like "$(cat "$T/wrong.err")" 'last reply 535' "wrong password: with the relay's 535"
unlike "$(cat "$T/wrong.err")" 'wrong-secret' "wrong password: the password is never logged"
is "$(marked wrong)" 0 "wrong password: the period is not marked sent"
is "$(sink_count)" "$SINK_BEFORE" "wrong password: nothing arrives"
sed -i "s|auth.wrong|auth.right|" "$T/wrong.conf"
report wrong
is "$RC" 0 "password fixed: the next run sends the period" || diag "$(cat "$T/wrong.err")"
arrived 2 "password fixed"

# ---------------------------------------------------- smtps (TLS at once)
SINK_BEFORE=$(sink_count)
conf smtps "report-relay smtps://127.0.0.1:$SMTPS" "report-smtp-auth-file $T/auth.right" \
	"report-smtp-ca-file $T/relay.crt"
report smtps
is "$RC" 0 "smtps:// + AUTH: exit 0" || diag "$(cat "$T/smtps.err")"
arrived 2 "smtps:// + AUTH"

# ------------------------------------------------ what must not go through
conf unverified "report-relay smtp://127.0.0.1:$SUBMISSION" "report-smtp-auth-file $T/auth.right"
report unverified
is "$RC" 3 "certificate not trusted (no report-smtp-ca-file): exit 3" ||
	diag "$(cat "$T/unverified.err")"
like "$(cat "$T/unverified.err")" "certificate does not verify" \
	"certificate not trusted: verification is on by default, and the error says so"
is "$(marked unverified)" 0 "certificate not trusted: nothing marked sent"

conf nostarttls "report-relay smtp://127.0.0.1:$E2E_SMTP_PORT" "report-smtp-tls starttls"
report nostarttls
is "$RC" 3 "starttls required, relay without STARTTLS: exit 3" || diag "$(cat "$T/nostarttls.err")"
like "$(cat "$T/nostarttls.err")" "STARTTLS failed \\(not offered, or refused\\)" \
	"starttls required: the error says STARTTLS failed"
is "$(marked nostarttls)" 0 "starttls required: nothing marked sent"

printf 'reporter\nright-secret\n' >"$T/auth.open"
chmod 0644 "$T/auth.open"
conf openauth "report-relay smtp://127.0.0.1:$SUBMISSION" "report-smtp-auth-file $T/auth.open" \
	"report-smtp-ca-file $T/relay.crt"
report openauth
is "$RC" 1 "an AUTH file others may read: refused (exit 1)"
like "$(cat "$T/openauth.err")" "report-smtp-auth-file $T/auth.open: mode 0644" \
	"an AUTH file others may read: the error names the file and its mode"

conf cleartext "report-relay smtp://127.0.0.1:$SUBMISSION" "report-smtp-auth-file $T/auth.right" \
	"report-smtp-tls none"
report cleartext
is "$RC" 1 "AUTH with report-smtp-tls none: refused (exit 1)"
like "$(cat "$T/cleartext.err")" "password in clear" "AUTH with report-smtp-tls none: says why"

conf badtls "report-relay smtp://127.0.0.1:$SUBMISSION" "report-smtp-tls ssl"
report badtls
is "$RC" 1 "report-smtp-tls ssl: a configuration error (exit 1)"
like "$(cat "$T/badtls.err")" "badtls\.conf:[0-9]+:[0-9]+: report-smtp-tls: expected none or may or starttls or tls" \
	"report-smtp-tls ssl: file:line:column"

unlike "$(cat "$T"/*.err | grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' | head -3)" . \
	"no sanitizer report from authscore report"
done_testing
