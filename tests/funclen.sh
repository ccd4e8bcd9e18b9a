#!/bin/sh
# funclen - no function in the sources is longer than 80 lines (issue 17).
#
# A function runs from its `{` at column 0 to the `}` at column 0 that closes
# it, both lines counted.  It scans the *.c of every layer (util/ dns/ facts/
# rules/ history/ checks/ milter/ report/ tool/)
# except the *_test.c files, and prints TAP: one line per function, failing
# when it is longer than the limit.  tests/funclen.allow lists (`file
# function`, one a line, # for comments) the functions still too long; an
# allowlisted function that is no longer too long fails too, so that the
# list only shrinks.  make runs it with top_srcdir set; by hand, run it from
# the source tree.
set -u
srcdir=${top_srcdir:-${srcdir:-.}}
limit=${FUNCLEN_MAX:-80}
allow=${FUNCLEN_ALLOW:-$srcdir/tests/funclen.allow}

cd "$srcdir" || exit 99
[ -f "$allow" ] || allow=/dev/null
files=$(ls util/*.c dns/*.c facts/*.c rules/*.c history/*.c checks/*.c milter/*.c report/*.c tool/*.c 2>/dev/null | grep -v '_test\.c$')
[ -n "$files" ] || { echo "1..0 # SKIP no sources under $srcdir"; exit 0; }

# The name: the last identifier before `(` in the lines from the end of the
# previous top-level item to the `{`.
# shellcheck disable=SC2086
awk -v limit="$limit" -v allowfile="$allow" '
BEGIN {
	while ((getline line < allowfile) > 0) {
		sub(/#.*/, "", line)
		if (split(line, w, /[ \t]+/) < 2) {
			if (w[1] != "") { bad[++nbad] = line }
			continue
		}
		if (w[1] == "") { w[1] = w[2]; w[2] = w[3] }
		allowed[w[1] " " w[2]] = 1
	}
	n = 0
}
FNR == 1 { head = ""; start = 0 }
start == 0 && /^\{/ {
	start = FNR
	name = head
	gsub(/\/\*[^*]*\*\//, "", name)
	if (match(name, /[A-Za-z_][A-Za-z_0-9]*[ \t]*\(/)) {
		# the first identifier followed by ( (a pointer-returning or
		# plain declaration: the name comes before the parameters)
		name = substr(name, RSTART, RLENGTH)
		sub(/[ \t]*\($/, "", name)
	} else
		name = "?"
	next
}
start == 0 {
	if ($0 ~ /^[ \t]*$/ || $0 ~ /;[ \t]*$/ || $0 ~ /^\}/ || $0 ~ /^#/ || $0 ~ /\*\/[ \t]*$/)
		head = ""
	else
		head = head " " $0
	next
}
/^\}/ {
	len = FNR - start + 1
	key = FILENAME " " name
	n++
	if (key in allowed) {
		seen[key] = 1
		if (len > limit)
			out[n] = "ok " n " - " FILENAME ":" start " " name " is " len " lines # allowlisted"
		else
			out[n] = "not ok " n " - " FILENAME ":" start " " name " is " len " lines: remove it from the allowlist"
	} else if (len > limit)
		out[n] = "not ok " n " - " FILENAME ":" start " " name " is " len " lines, more than " limit
	else
		out[n] = "ok " n " - " FILENAME ":" start " " name " is " len " lines"
	start = 0
	head = ""
}
END {
	for (k in allowed)
		if (!(k in seen)) {
			n++
			out[n] = "not ok " n " - allowlisted " k ": no such function: remove it from the allowlist"
		}
	for (i = 1; i <= nbad; i++) {
		n++
		out[n] = "not ok " n " - " allowfile ": not `file function`: " bad[i]
	}
	print "1.." n
	for (i = 1; i <= n; i++)
		print out[i]
}' $files
