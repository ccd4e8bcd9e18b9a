#!/bin/bash
# tests/package.sh - the two ways to install authscore, built and checked (TAP).
#
# 1. The Debian package: `dpkg-buildpackage -us -uc -b` in a temporary copy
#    of the source tree (the source tree itself is never written), then the
#    .deb against the installed layout: every path the package promises, the
#    conffiles, the maintainer scripts (system user, tmpfiles, which units
#    are enabled and started), the units naming files the package ships,
#    README.Debian's Postfix lines equal to contrib/postfix/main.cf.snippet,
#    the shared libraries of both binaries resolving once unpacked (into a
#    directory: the package is never installed on this machine), and
#    lintian reporting no error.
# 2. The source build: configure with the default prefix, `make install
#    DESTDIR=...`, everything under /usr/local.
#
# The package build runs with DEB_BUILD_OPTIONS=nocheck: the unit tests it
# would run are part of the `make check` that runs this script; both builds
# run under nice, beside the end-to-end tests and their deadlines.  Skips
# only without dpkg-buildpackage (Debian: dpkg-dev); a missing debhelper or
# lintian is a failure (contrib/install-deps-debian.sh installs them).
# PACKAGE_KEEP=1 keeps the temporary directory (its path is printed).
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"

if ! command -v dpkg-buildpackage >/dev/null; then
	echo "1..0 # SKIP dpkg-buildpackage not found (Debian: dpkg-dev)"
	exit 0
fi

T=$(mktemp -d /tmp/authscore-package.XXXXXX)
cleanup() { if [ -n "${PACKAGE_KEEP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi; }
trap cleanup EXIT
jobs=$(nproc 2>/dev/null || echo 2)

n=0 failed=0
ok() { n=$((n + 1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi; }
check() { local what=$1; shift; "$@"; ok $? "$what"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
done_testing() { echo "1..$n"; [ "$failed" = 0 ]; exit $?; }

# ---------------------------------------------------------------- the copy
# The files git knows, plus new ones not ignored (so uncommitted work is
# built too); from a release tarball, everything but build directories.
srcstate() { git -C "$top_srcdir" status --porcelain 2>/dev/null; }
mkdir "$T/src"
if git -C "$top_srcdir" rev-parse --git-dir >/dev/null 2>&1; then
	before=$(srcstate)
	(cd "$top_srcdir" && git ls-files -co --exclude-standard -z | tar -c --null -T -) | tar -x -C "$T/src"
else
	(cd "$top_srcdir" && tar -c --exclude='./build*' --exclude=./.git .) | tar -x -C "$T/src"
fi
check "source copied, with debian/" test -x "$T/src/debian/rules"
cp -a "$T/src" "$T/src2"

# ---------------------------------------------------------------- the package
start=$(date +%s)
(cd "$T/src" && DEB_BUILD_OPTIONS="nocheck parallel=$jobs" nice -n 10 dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1
rc=$?
ok $rc "dpkg-buildpackage -us -uc -b ($(($(date +%s) - start))s)"
deb=$(ls "$T"/authscore_*.deb 2>/dev/null | head -1)
if [ $rc != 0 ] || [ -z "$deb" ]; then
	diag "build log (last 40 lines):" "$(tail -40 "$T/build.log")"
	echo "Bail out! no package built"
	exit 1
fi
diag "built $(basename "$deb")"

dpkg-deb -c "$deb" | awk '{ print $6 }' | sed -e 's|^\./|/|' -e 's|/$||' >"$T/contents"
mkdir "$T/control" "$T/root"
dpkg-deb -e "$deb" "$T/control"
dpkg-deb -x "$deb" "$T/root"

has() { grep -qxF "$1" "$T/contents"; }
missing=""
for p in /usr/sbin/authscore-milter /usr/bin/authscore \
	/usr/share/man/man8/authscore-milter.8.gz /usr/share/man/man1/authscore.1.gz \
	/usr/share/man/man5/authscore.conf.5.gz /usr/share/man/man5/authscore.rules.5.gz \
	/usr/share/authscore/default.rules \
	/etc/authscore/authscore.conf /etc/authscore/local.rules \
	/lib/systemd/system/authscore-milter.service /lib/systemd/system/authscore-report.service \
	/lib/systemd/system/authscore-report.timer \
	/usr/lib/sysusers.d/authscore.conf /usr/lib/tmpfiles.d/authscore.conf \
	/usr/share/doc/authscore/README.Debian /usr/share/doc/authscore/copyright \
	/usr/share/doc/authscore/examples/main.cf.snippet \
	/usr/share/doc/authscore/examples/authscore.mc; do
	has "$p" || missing="$missing $p"
done
ok "$([ -z "$missing" ]; echo $?)" "the package holds every promised path${missing:+ (missing:$missing)}"
stray=$(grep -E '^/(usr/local|var|run|tmp|home)(/|$)' "$T/contents")
ok "$([ -z "$stray" ]; echo $?)" "nothing under /usr/local, /var, /run${stray:+ (found: $stray)}"

conffiles=$(cat "$T/control/conffiles" 2>/dev/null)
like() { printf '%s\n' "$1" | grep -qxF "$2"; }
check "authscore.conf is a conffile" like "$conffiles" /etc/authscore/authscore.conf
check "local.rules is a conffile" like "$conffiles" /etc/authscore/local.rules
ok "$(printf '%s\n' "$conffiles" | grep -qv '^/etc/'; [ $? = 1 ]; echo $?)" \
	"every conffile is under /etc ($(echo $conffiles))"
ok "$(like "$conffiles" /usr/share/authscore/default.rules; [ $? = 1 ]; echo $?)" \
	"the shipped default.rules is not a conffile (upgrades replace it)"

depends=$(dpkg-deb -f "$deb" Depends)
ok "$(echo "$depends" | grep -q 'libmilter1.0.1' && echo "$depends" | grep -q 'libc6'; echo $?)" \
	"Depends names the shared libraries (\${shlibs:Depends}): $depends"
check "Recommends postfix and publicsuffix (libpsl reads its current list)" test "$(dpkg-deb -f "$deb" Recommends)" = "postfix, publicsuffix"

# The system user: a sysusers.d file naming it, applied in postinst.
postinst=$T/control/postinst
sysusers=$T/root/usr/lib/sysusers.d/authscore.conf
ok "$(grep -Eq '^u[[:space:]]+authscore([[:space:]]|$)' "$sysusers" 2>/dev/null; echo $?)" \
	"sysusers.d defines the system user authscore"
# What runs at configure: postinst without its branch for the trigger.
main=$T/postinst.configure
sed '/"$1" = triggered/,/^fi/d' "$postinst" >"$main" 2>/dev/null
line_of() { grep -n -E "$1" "$main" | head -1 | cut -d: -f1; }
l_users=$(line_of 'systemd-sysusers.*authscore\.conf|adduser.*authscore|useradd.*authscore')
l_tmpfiles=$(line_of 'systemd-tmpfiles.*--create.*authscore\.conf')
l_start=$(line_of 'deb-systemd-invoke .*authscore-milter\.service')
ok "$([ -n "$l_users" ]; echo $?)" "postinst creates the system user"
ok "$([ -n "$l_tmpfiles" ]; echo $?)" "postinst applies the tmpfiles.d file"
ok "$([ -n "$l_users" ] && [ -n "$l_tmpfiles" ] && [ -n "$l_start" ] &&
	[ "$l_users" -lt "$l_tmpfiles" ] && [ "$l_tmpfiles" -lt "$l_start" ]; echo $?)" \
	"postinst: user (line ${l_users:-none}), then directories (${l_tmpfiles:-none}), then the milter starts (${l_start:-none})"
for u in authscore-milter.service authscore-report.timer; do
	ok "$(grep -Eq "deb-systemd-helper enable '?$u'?( |$)" "$main"; echo $?)" "postinst enables $u"
done
ok "$(grep -E 'deb-systemd-(invoke|helper) .*(start|enable).*authscore-report\.service' "$main" | grep -q .;
	[ $? = 1 ]; echo $?)" "postinst neither enables nor starts authscore-report.service (its timer does)"
ok "$(grep -qx 'interest-noawait /usr/sbin/postfix' "$T/control/triggers" 2>/dev/null &&
	sed -n '/"$1" = triggered/,/^fi/p' "$postinst" | grep -q 'systemd-tmpfiles --create authscore.conf'; echo $?)" \
	"installing Postfix later triggers postinst to make the socket directory"
tmpf=$T/root/usr/lib/tmpfiles.d/authscore.conf
ok "$(grep -Eq '^d[[:space:]]+/var/spool/postfix/authscore[[:space:]]+[0-7]+[[:space:]]+authscore[[:space:]]+postfix' "$tmpf" 2>/dev/null; echo $?)" \
	"tmpfiles.d creates /var/spool/postfix/authscore, owner authscore, group postfix"

# Every unit starts a program the package ships, with a config it ships.
units_ok() { # root
	local root=$1 u exec bin conf bad=""
	while read -r u; do
		while read -r exec; do
			bin=$(echo "$exec" | awk '{ print $1 }' | sed 's/^[-@:+!]*//')
			conf=$(echo "$exec" | sed -n 's/.* -c \([^ ]*\).*/\1/p')
			case $bin in
			/bin/* | /usr/bin/kill) continue ;;
			/*) ;;
			*) # the system's, found on systemd's fixed search path
				command -v "$bin" >/dev/null || bad="$bad $(basename "$u"):$bin"
				continue ;;
			esac
			[ -x "$root$bin" ] || bad="$bad $(basename "$u"):$bin"
			[ -z "$conf" ] || [ -f "$root$conf" ] || bad="$bad $(basename "$u"):$conf"
		done < <(sed -n 's/^Exec[A-Za-z]*=//p' "$u")
	done < <(find "$root" -name '*.service' -type f)
	[ -z "$bad" ] || diag "units name what is not there:$bad"
	[ -z "$bad" ]
}
check "the units start programs and configs the package ships" units_ok "$T/root"

# README.Debian's lines are the snippet's lines; the configured socket is
# where they point, inside Postfix's chroot.
readme=$T/root/usr/share/doc/authscore/README.Debian
snippet=$top_srcdir/contrib/postfix/main.cf.snippet
for key in smtpd_milters non_smtpd_milters; do
	want=$(grep -E "^$key[[:space:]]*=" "$snippet")
	ok "$([ -n "$want" ] && grep -qxF "$want" "$readme"; echo $?)" "README.Debian has the snippet's line: $want"
	ok "$([ -n "$want" ] && grep -qF "'$want'" "$top_srcdir/README.md"; echo $?)" "README.md's postconf sets the snippet's line: $want"
done
conf_socket=$(sed -n 's/^[[:space:]]*socket[[:space:]]\{1,\}\([^[:space:]#]*\).*/\1/p' "$T/root/etc/authscore/authscore.conf" 2>/dev/null)
snip_socket=$(sed -n 's/^smtpd_milters[[:space:]]*=[[:space:]]*unix:\([^[:space:]]*\).*/\1/p' "$snippet")
ok "$([ "$conf_socket" = "unix:/var/spool/postfix$snip_socket" ] || [ "$conf_socket" = "local:/var/spool/postfix$snip_socket" ]; echo $?)" \
	"authscore.conf's socket ($conf_socket) is the snippet's ($snip_socket) inside the chroot"

# The binaries' libraries resolve (on this machine's libraries).
for b in usr/sbin/authscore-milter usr/bin/authscore; do
	nf=$(ldd "$T/root/$b" 2>&1 | grep -E 'not found|not a dynamic')
	ok "$([ -z "$nf" ]; echo $?)" "ldd /$b: every library found${nf:+ ($nf)}"
done
ok "$("$T/root/usr/sbin/authscore-milter" -V >"$T/version" 2>&1; echo $?)" \
	"the packaged authscore-milter runs: $(head -1 "$T/version")"

if command -v lintian >/dev/null; then
	changes=$(ls "$T"/authscore_*.changes | head -1)
	lintian --allow-root -I -E --pedantic "$changes" >"$T/lintian.out" 2>&1
	rc=$?
	diag "lintian: $(grep -c '^E:' "$T/lintian.out") errors, $(grep -c '^W:' "$T/lintian.out") warnings" \
		"$(grep -E '^[EW]:' "$T/lintian.out")"
	ok "$([ $rc = 0 ] && ! grep -q '^E:' "$T/lintian.out"; echo $?)" "lintian reports no error (exit $rc)"
else
	ok 1 "lintian reports no error (lintian not installed: contrib/install-deps-debian.sh test)"
fi

# ---------------------------------------------------------------- the source build
# As README.md's first command builds (autoreconf -fi, then a build
# directory), from a second copy taken before the package build; the
# default prefix, so everything goes under /usr/local.
(cd "$T/src2" && autoreconf -fi && mkdir build && cd build && nice -n 10 ../configure -q &&
	nice -n 10 make -s -j"$jobs" && make -s install DESTDIR="$T/dest") >"$T/srcbuild.log" 2>&1
rc=$?
ok $rc "source build: autoreconf -fi, ../configure, make, make install DESTDIR"
[ $rc = 0 ] || diag "$(tail -30 "$T/srcbuild.log")"
missing=""
for p in sbin/authscore-milter bin/authscore share/man/man8/authscore-milter.8 share/man/man1/authscore.1 \
	share/man/man5/authscore.conf.5 share/man/man5/authscore.rules.5 \
	etc/authscore/authscore.conf etc/authscore/local.rules share/authscore/default.rules; do
	[ -e "$T/dest/usr/local/$p" ] || missing="$missing /usr/local/$p"
done
ok "$([ -z "$missing" ]; echo $?)" "the source build installs the main paths under /usr/local${missing:+ (missing:$missing)}"
outside=$(cd "$T/dest" 2>/dev/null && find . -mindepth 1 ! -path ./usr ! -path './usr/local' ! -path './usr/local/*' | head -5)
ok "$([ -z "$outside" ]; echo $?)" "the source build installs nothing outside /usr/local${outside:+ ($outside)}"
check "the source build's units start what it installs" units_ok "$T/dest"

if [ -n "${before+set}" ]; then
	after=$(srcstate)
	ok "$([ "$before" = "$after" ]; echo $?)" "the source tree is as it was"
	[ "$before" = "$after" ] || diag "$(diff <(echo "$before") <(echo "$after"))"
fi
done_testing
