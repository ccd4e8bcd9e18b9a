#!/bin/sh
# Install everything authscore needs to build and to run its whole test
# suite on Debian 12.  Run as root.  Idempotent.
set -eu
export DEBIAN_FRONTEND=noninteractive
# The test suite runs its own private Postfix; the packaged one must not
# ask questions or be configured as a system mailer here.
if ! dpkg -s postfix >/dev/null 2>&1; then
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
apt-get update -q
apt-get install -y -q --no-install-recommends \
	build-essential autoconf automake libtool pkg-config \
	libmilter-dev libspf2-dev libopendkim-dev libssl-dev libopendmarc-dev \
	libmaxminddb-dev libunbound-dev libsqlite3-dev libpq-dev libpcre2-dev clang \
	postgresql \
	postfix swaks libio-socket-inet6-perl nsd iproute2 util-linux procps ca-certificates \
	python3-dkim python3-nacl \
	python3-yaml \
	libxml2-dev zlib1g-dev libxml2-utils dmarc-cat \
	libcurl4-openssl-dev \
	sasl2-bin libsasl2-modules-db
# Monitoring: the metrics endpoint (libmicrohttpd12 at run time); curl and
# python3 for tests/e2e/ops.sh (scrapes, parses the JSON log).
apt-get install -y -q --no-install-recommends libmicrohttpd-dev curl python3
