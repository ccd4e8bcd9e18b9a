#!/bin/bash
# tests/helpman.sh - --help and the man pages say the same (issue 15 item 16).
#
# authscore-milter: the usage line equals the SYNOPSIS of authscore-milter(8),
# and every option of --help is an entry of OPTIONS and the other way round,
# the first sentence of each the same words.  authscore: every command of
# `authscore --help` has a synopsis in authscore(1) and the other way round,
# and each synopsis there equals the usage of `authscore COMMAND --help`
# (compared without regard to case: the man page writes placeholders in
# italics where --help writes them in capitals).  The man pages are read as
# roff source: the font macros (.B, .I, .BR, .IR, ...) are flattened to text.
# Prints TAP.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
MILTER=${AUTHSCORE_MILTER:-$top_builddir/authscore-milter}
TOOL=${AUTHSCORE:-$top_builddir/authscore}
MAN8=$top_srcdir/doc/authscore-milter.8
MAN1=$top_srcdir/doc/authscore.1
N=0 FAILED=0

is() { # GOT WANT DESC
	N=$((N + 1))
	if [ "$1" == "$2" ]; then
		echo "ok $N - $3"
	else
		FAILED=$((FAILED + 1))
		echo "not ok $N - $3"
		printf '#   --help: %s\n#   man:    %s\n' "$1" "$2"
	fi
}

# roff MODE FILE - flattened text of FILE's man page.  MODE synopsis: one
# line per synopsis block (a run of font macros starting ".B NAME..."),
# "NAME<TAB>text"; MODE options: one line per .TP entry of the section
# $SECTION (default OPTIONS), "tag<TAB>first sentence".
roff() {
	perl -e '
	use strict; use warnings;
	my ($mode, $file, $want) = @ARGV;
	sub unesc { my $s = shift; $s =~ s/\\f[BIRP]//g; $s =~ s/\\-/-/g; $s =~ s/\\&//g;
		$s =~ s/\\\(em/--/g; $s =~ s/\\e/\\/g; return $s; }
	sub args { my $s = shift; my @a;
		while ($s =~ /\G\s*(?:"((?:[^"]|"")*)"|(\S+))/gc) { push @a, defined $1 ? $1 : $2; }
		return @a; }
	# one line of roff as text; undef when it is not text or a font macro
	sub line { my $l = shift;
		if ($l =~ /^\.(B|I|R|SM)\s+(.*)$/) { return unesc(join(" ", args($2))); }
		if ($l =~ /^\.(BR|RB|BI|IB|IR|RI)\s+(.*)$/) { return unesc(join("", args($2))); }
		return undef if $l =~ /^\./;
		return unesc($l); }
	sub macro { return $_[0] =~ /^\.(B|I|BR|RB|BI|IB|IR|RI)\s/; }
	sub norm { my $s = shift; $s =~ s/\s+/ /g; $s =~ s/^ | $//g; return $s; }
	open(my $f, "<", $file) or die "$file: $!\n";
	my @l = <$f>; chomp @l;
	my $section = "";
	for (my $i = 0; $i < @l; $i++) {
		$section = $1 if $l[$i] =~ /^\.SH\s+"?([^"]*)"?/;
		if ($mode eq "synopsis" && $l[$i] =~ /^\.B (authscore\S*)/) {
			my $name = $1; my @t; my $j = $i;
			while ($j < @l && macro($l[$j])) { push @t, line($l[$j]); $j++; }
			next if @t < 2; # a name in running text
			print "$name\t", norm(join(" ", @t)), "\n";
			$i = $j - 1;
		} elsif ($mode eq "options" && $section eq $want && $l[$i] eq ".TP") {
			my $tag = norm(line($l[++$i]) // "");
			my @d;
			while (++$i < @l && $l[$i] !~ /^\.(TP|SH|PP)\b/) {
				my $t = line($l[$i]); push @d, $t if defined $t; }
			$i--;
			my $d = norm(join(" ", @d));
			$d =~ s/^(.*?\.)(?:\s.*)?$/$1/;
			print "$tag\t$d\n";
		}
	}' "$1" "$2" "${SECTION:-OPTIONS}"
}

# ---------------------------------------------------------- authscore-milter
help=$("$MILTER" --help)
is "$(sed -n 's/^usage: //p' <<<"$help")" "$(roff synopsis "$MAN8" | cut -f2)" \
	"authscore-milter: the usage line is the SYNOPSIS"
# "  -c config          Read this configuration file." -> tag TAB sentence
help_opts=$(sed -n 's/^  \(-.*[^ ]\)  \+\([^ ].*\)$/\1\t\2/p' <<<"$help" |
	sed 's/\t\([^.]*\.\).*/\t\1/' | sort)
man_opts=$(roff options "$MAN8" | sort)
is "$(cut -f1 <<<"$help_opts" | tr '\n' ' ')" "$(cut -f1 <<<"$man_opts" | tr '\n' ' ')" \
	"authscore-milter: the same options in --help and OPTIONS"
while IFS=$'\t' read -r tag text; do
	is "$text" "$(awk -F'\t' -v t="$tag" '$1 == t { print $2 }' <<<"$man_opts")" \
		"authscore-milter $tag: the same words"
done <<<"$help_opts"

# ---------------------------------------------------------- authscore
help=$("$TOOL" --help)
is "$("$TOOL" -h)" "$help" "authscore: -h is --help"
commands=$(sed -n 's/^  \([a-z]\+\)  .*/\1/p' <<<"$help" | sort -u | tr '\n' ' ')
synopses=$(roff synopsis "$MAN1")
man_commands=$(cut -f2 <<<"$synopses" | awk '$2 ~ /^[a-z]/ { print $2 }' | sort -u | tr '\n' ' ')
is "$commands" "$man_commands" "authscore: the same commands in --help and the man page's synopses"
like_v=$(grep -c '^  -V, --version  ' <<<"$help")
is "$like_v $(cut -f2 <<<"$synopses" | grep -cx 'authscore -V')" "1 1" "authscore -V: in --help and the man page"
help_cmds=$(sed -n 's/^  \(-.*[^ ]\|[a-z]\+\)  \+\([^ ].*\)$/\1\t\2/p' <<<"$help" | sort)
is "$help_cmds" "$(SECTION=SYNOPSIS roff options "$MAN1" | sort)" \
	"authscore --help: the commands and options listed with the man page's words"
for c in $commands; do
	usage=$("$TOOL" "$c" --help 2>&1 | sed -n '/^usage: /,/^$/p' | sed 's/^usage: //' | tr '\n' ' ')
	usage=$(tr -s ' ' <<<"$usage" | sed 's/ $//')
	n=0
	while IFS= read -r syn; do
		n=$((n + 1))
		is "${usage,,}" "${syn,,}" "authscore $c --help: synopsis $n of the man page"
	done < <(cut -f2 <<<"$synopses" | awk -v c="$c" '$2 == c')
	[ $n -gt 0 ] || is "$usage" "" "authscore $c: a synopsis in the man page"
done

echo "1..$N"
[ "$FAILED" = 0 ]
