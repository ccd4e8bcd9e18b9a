# shellcheck shell=bash
# tests/bench/bench_msg.sh - the benchmark's plain message, sourced by
# milter_bench.sh and cost_bench.sh (bash; SENDER, DOMAIN and E2E_RCPT set).

# make_bench_msg - a ~5 kB text/plain message from $SENDER, unsigned, LF
# line ends (68 body lines)
make_bench_msg() {
	local i
	printf 'From: Alice <%s>\n' "$SENDER"
	printf 'To: <%s>\n' "$E2E_RCPT"
	printf 'Subject: milter benchmark message\n'
	printf 'Date: Thu, 28 May 2026 10:00:00 +0000\n'
	printf 'Message-ID: <bench-1@%s>\n' "$DOMAIN"
	printf 'MIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=us-ascii\n'
	printf 'Received: from client.authscore.test (client.authscore.test [203.0.113.10])\n\tby mail.%s with ESMTPS id 4Bq9; Thu, 28 May 2026 09:59:59 +0000\n' "$DOMAIN"
	printf '\n'
	for ((i = 1; i <= 68; i++)); do
		printf 'Line %02d of the benchmark body: quarterly figures follow below.\n' "$i"
	done
}
