#!/bin/sh
# Made the fixtures in this folder once; they are committed and never
# regenerated at test time.  Needs Debian's libmail-dkim-perl and openssl.
# Keys: the RFC 8463 A.1 RSA test key (../rfc8463/, public, already in
# ../keys.zone) and one 512-bit RSA key made here (rsa512.pem).
set -eu
cd "$(dirname "$0")"
RSA=../rfc8463/test.football.example.com.rsa-private.pem
MSG=../rfc8463/rfc8463-unsigned.eml
[ -f rsa512.pem ] || openssl genrsa -traditional -out rsa512.pem 512 2>/dev/null
pub512=$(openssl rsa -in rsa512.pem -pubout -outform DER 2>/dev/null | base64 -w0)
pubtest=$(openssl rsa -in "$RSA" -pubout -outform DER 2>/dev/null | base64 -w0)

sign() { # algorithm key domain selector < message > signed message
	perl -MMail::DKIM::Signer -e '
		my ($alg, $key, $d, $s) = @ARGV;
		my $m = do { local $/; <STDIN> }; $m =~ s/\r?\n/\r\n/g;
		my $signer = Mail::DKIM::Signer->new(Algorithm => $alg, Method => "relaxed/simple",
			Domain => $d, Selector => $s, KeyFile => $key,
			Headers => "from:to:subject:date:message-id", Timestamp => 1700000000);
		$signer->PRINT($m); $signer->CLOSE;
		print $signer->signature->as_string, "\r\n", $m;' "$@"
}

sign rsa-sha1 "$RSA" football.example.com test <"$MSG" >rsa-sha1.eml
sign rsa-sha256 rsa512.pem authscore.test s512 <"$MSG" >rsa512.eml

# 50 signatures by the same key under 50 selectors, top to bottom s1..s50.
cp "$MSG" fifty.tmp
for i in $(seq 50 -1 1); do
	sign rsa-sha256 "$RSA" authscore.test "s$i" <fifty.tmp >fifty.next
	mv fifty.next fifty.tmp
done
mv fifty.tmp fifty-sigs.eml

{
	echo "; Keys for the fixtures in authscore/ (made by make-fixtures.sh)."
	echo "s512._domainkey.authscore.test. 3600 IN TXT \"v=DKIM1; k=rsa; p=$pub512\""
	for i in $(seq 1 50); do
		echo "s$i._domainkey.authscore.test. 3600 IN TXT \"v=DKIM1; k=rsa; p=$pubtest\""
	done
} >keys.zone
