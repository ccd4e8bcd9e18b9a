#!/bin/sh
# Install what authscore needs on Debian 12.  Run as root.  Idempotent.
#
#   sh contrib/install-deps-debian.sh [runtime] [build] [test]
#
#   runtime  the shared libraries the two programs link (enough to run a
#            build made elsewhere; the Debian package pulls these itself)
#   build    a compiler, the autotools, the -dev packages, and the tools
#            that build the Debian package (debhelper, dpkg-dev, fakeroot)
#   test     what `make check` and tests/check-all.sh run: Postfix, NSD,
#            PostgreSQL, swaks, Python's DKIM and YAML modules, lintian...
#
# With no argument: all three (README.md's first command, and .ci/run).
#
# The test suite starts its own private NSD and PostgreSQL; the servers
# this script installs are never started, and are left disabled at boot.
# A server that was already installed is left exactly as it was (it may be
# this machine's DNS server or database).
set -eu
export DEBIAN_FRONTEND=noninteractive

runtime=no build=no test=no
[ $# -gt 0 ] || set -- runtime build test
for group in "$@"; do
	case $group in
	runtime) runtime=yes ;;
	build) build=yes ;;
	test) test=yes ;;
	*) echo "usage: $0 [runtime] [build] [test]" >&2; exit 2 ;;
	esac
done

apt_install() { apt-get install -y -q --no-install-recommends "$@"; }
apt-get update -q

if [ $runtime = yes ]; then
	apt_install libmilter1.0.1 libspf2-2 libopendkim11 libssl3 libopendmarc2 libmaxminddb0 \
		libunbound8 libsqlite3-0 libpq5 libpcre2-8-0 zlib1g libxml2 libmicrohttpd12 libcurl4 \
		ca-certificates
	# the body's content (issue 19): MIME (GMime), URLs (libpsl and its
	# current list, libidn2)
	apt_install libgmime-3.0-0 libpsl5 publicsuffix libidn2-0
fi

if [ $build = yes ]; then
	apt_install build-essential autoconf automake libtool pkg-config \
		libmilter-dev libspf2-dev libopendkim-dev libssl-dev libopendmarc-dev \
		libmaxminddb-dev libunbound-dev libsqlite3-dev libpq-dev libpcre2-dev \
		libxml2-dev zlib1g-dev libmicrohttpd-dev libcurl4-openssl-dev \
		debhelper dpkg-dev fakeroot
	apt_install libgmime-3.0-dev libpsl-dev libidn2-dev
fi

if [ $test = yes ]; then
	# The suite runs its own private Postfix; the packaged one must not
	# ask questions or be configured as a system mailer here.
	if ! dpkg -s postfix >/dev/null 2>&1; then
		echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	fi
	# Servers the tests start themselves: note which are new here.
	new_servers=""
	for pkg in nsd postgresql; do
		dpkg -s "$pkg" >/dev/null 2>&1 || new_servers="$new_servers $pkg"
	done
	# While they are installed, refuse every start of those (policy-rc.d,
	# asked by invoke-rc.d and deb-systemd-invoke); any other policy that
	# was there is put back afterwards.
	policy=/usr/sbin/policy-rc.d saved=""
	if [ -n "$new_servers" ]; then
		if [ -e $policy ]; then
			saved=$(mktemp /usr/sbin/policy-rc.d.authscore.XXXXXX)
			cp -p $policy "$saved"
		fi
		trap 'if [ -n "$saved" ]; then mv -f "$saved" '$policy'; else rm -f '$policy'; fi' EXIT
		cat >$policy <<-'EOF'
			#!/bin/sh
			# contrib/install-deps-debian.sh: test servers are not started.
			case $1 in nsd | nsd.service | postgresql | postgresql.service | postgresql@*) exit 101 ;; esac
			exit 0
		EOF
		chmod 755 $policy
	fi
	apt_install postfix nsd postgresql \
		swaks libio-socket-inet6-perl iproute2 util-linux procps ca-certificates \
		python3 python3-dkim python3-authres python3-nacl python3-yaml \
		libxml2-utils dmarc-cat sasl2-bin libsasl2-modules-db curl \
		clang lintian m4 libwrap0
	# the HTML5 parser the HTML reduction is held to (tests/html_oracle.c):
	# tests only, the programs never link it
	apt_install libgumbo-dev
	# Sendmail for tests/e2e/sendmail.sh.  Debian's sendmail-bin conflicts
	# with postfix (both are the mail-transport-agent), so it is not
	# installed: its package and sendmail-cf's m4 macros are unpacked into
	# a private directory, and the test runs that binary with its own .cf
	# and queues.  Its libraries (libwrap0 above) are ordinary packages.
	sendmail_root=/var/cache/authscore-tests/sendmail
	version=$(apt-cache policy sendmail-bin | sed -n 's/^ *Candidate: *//p')
	if [ "$(cat $sendmail_root/VERSION 2>/dev/null)" != "$version" ]; then
		dl=$(mktemp -d)
		chown _apt "$dl" 2>/dev/null || chmod 755 "$dl" # apt downloads as _apt
		(cd "$dl" && apt-get download -q sendmail-bin sendmail-cf)
		rm -rf $sendmail_root
		mkdir -p $sendmail_root
		for deb in "$dl"/*.deb; do dpkg-deb -x "$deb" $sendmail_root; done
		rm -rf "$dl"
		echo "$version" >$sendmail_root/VERSION
		echo "install-deps: Sendmail $version unpacked into $sendmail_root (not installed)"
	fi
	# Not at boot either (and stopped, should anything have started them).
	for pkg in $new_servers; do
		if [ -d /run/systemd/system ]; then
			systemctl disable --now "$pkg.service" >/dev/null 2>&1 || true
		else
			systemctl disable "$pkg.service" >/dev/null 2>&1 || update-rc.d "$pkg" disable >/dev/null 2>&1 || true
		fi
		echo "install-deps: $pkg is installed for the tests only: not started, disabled at boot"
	done
fi
