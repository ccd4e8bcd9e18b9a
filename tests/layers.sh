#!/bin/sh
# tests/layers.sh - issue 17: each directory includes only the layers below
# it (doc/ARCHITECTURE.md).  Reads every `#include "..."` of the C sources
# and prints TAP: one failing line, naming file:line and the header, for an
# include that reaches up or sideways.  tests/layers.allow lists the ones
# the tree still has (`file header`); like tests/funclen.allow it may only
# shrink: an allowlisted include that is gone fails too.
#   LAYERS_ALLOW  another allowlist (default tests/layers.allow)
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
cd "$top_srcdir" || exit 1
allow=${LAYERS_ALLOW:-tests/layers.allow}

# what each directory may include, itself first
uses() {
	case $1 in
	util) echo "util" ;;
	dns) echo "dns util" ;;
	facts) echo "facts util" ;;
	rules) echo "rules facts util" ;;
	history) echo "history facts util" ;;
	checks) echo "checks facts dns util" ;;
	milter) echo "milter checks history rules facts dns util" ;;
	report) echo "report history facts dns util" ;;
	tool) echo "tool report milter checks history rules facts dns util" ;;
	esac
}

dirs=""
for d in util dns facts rules history checks milter report tool; do
	[ -d "$d" ] && dirs="$dirs $d"
done

# every include as "file line header dir-of-header"
list=$(mktemp) || exit 1
out=$(mktemp) || exit 1
trap 'rm -f "$list" "$out"' EXIT
for d in $dirs; do
	for f in "$d"/*.c "$d"/*.h; do
		[ -f "$f" ] || continue
		awk -v f="$f" '/^[ \t]*#[ \t]*include[ \t]*"/ {
			h = $0; sub(/^[^"]*"/, "", h); sub(/".*/, "", h); print f, FNR, h }' "$f"
	done
done | while read -r f line h; do
	case $h in
	config.h) continue ;;
	*/*) hd=${h%%/*} ;;
	*)
		hd=""
		for d in $dirs tests; do
			[ -f "$d/$h" ] && { hd=$d; break; }
		done
		# beside the file first, as the preprocessor looks
		[ -f "${f%/*}/$h" ] && hd=${f%/*}
		;;
	esac
	echo "$f $line $h ${hd:-?}"
done >"$list"

n=0 bad=0
while read -r f line h hd; do
	d=${f%%/*}
	case $f in
	*_test.c) [ "$hd" = tests ] && continue ;;
	esac
	ok=no
	for u in $(uses "$d"); do
		[ "$u" = "$hd" ] && ok=yes
	done
	[ $ok = yes ] && continue
	echo "$f $h" >>"$out"
	grep -qx "$f $h" "$allow" 2>/dev/null && continue
	n=$((n + 1)) bad=$((bad + 1))
	echo "not ok $n - $f:$line includes $h ($hd/): $d/ may use only $(uses "$d" | sed 's/ /, /g')"
done <"$list"

# the allowlist only shrinks: each line must still be an include out of
# its layer
while read -r f h; do
	case $f in '' | \#*) continue ;; esac
	if ! grep -qx "$f $h" "$out"; then
		n=$((n + 1)) bad=$((bad + 1))
		echo "not ok $n - allowlisted $f including $h is no longer out of its layer: remove it from $allow"
	fi
done <"$allow"

n=$((n + 1))
if [ $bad = 0 ]; then
	echo "ok $n - every include stays in its layer ($(grep -c . "$list") includes read; $(grep -vc '^#' "$allow" 2>/dev/null || echo 0) allowlisted)"
else
	echo "not ok $n - $bad failure(s): includes out of their layer, or allowlist lines to remove"
fi
echo "1..$n"
[ $bad = 0 ]
