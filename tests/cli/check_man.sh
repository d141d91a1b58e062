#!/bin/sh
# The man pages are complete: every command `airlock --help` lists is in
# airlock(1) with the usage its --help prints, every configuration key (`airlock config reference`, generated
# from the key table) is in airlock.conf(5) under its section.
# usage: check_man.sh AIRLOCK DOCS_MAN_DIR
set -u
airlock=$1 man=$2
fail=0
cmds=$("$airlock" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ -n "$cmds" ] || { echo "no commands in airlock --help"; exit 1; }
for c in $cmds; do
	[ "$c" = help ] && continue
	if ! grep -qx "\*$c\*" "$man/airlock.1.scd"; then
		echo "airlock(1) does not describe the command '$c' ($man/airlock.1.scd)"
		fail=1
		continue
	fi
	# its usage block, the first fenced block after its heading, is what --help prints
	block=$(awk -v h="*$c*" '$0 == h { in_c = 1; next } in_c && /^```/ { if (in_b) exit; in_b = 1; next } in_b { print }' "$man/airlock.1.scd")
	help=$("$airlock" "$c" --help 2>&1)
	if [ "$block" != "$help" ]; then
		echo "airlock(1): the usage of '$c' is not what 'airlock $c --help' prints:"
		printf '%s\n' "$help" | diff -u /dev/fd/3 - 3<<EOF || true
$block
EOF
		fail=1
	fi
done
ref=$("$airlock" config reference) || { echo "airlock config reference failed"; exit 1; }
section=
n=0
echo "$ref" | {
	while IFS= read -r line; do
		case $line in
		"## ["*) section=${line#"## "} ;;
		"### "*)
			key=${line#"### "}
			n=$((n + 1))
			# the key's line, after its section's header
			if ! awk -v s="## $section" -v k="*$key*" '$0 == s { in_s = 1; next } /^## / { in_s = 0 } in_s && $0 == k { found = 1 } END { exit !found }' "$man/airlock.conf.5.scd"; then
				echo "airlock.conf(5) does not describe $section $key ($man/airlock.conf.5.scd)"
				fail=1
			fi ;;
		esac
	done
	[ "$n" -gt 10 ] || { echo "only $n keys in airlock config reference"; fail=1; }
	exit $fail
} || fail=1
[ $fail = 0 ] && echo "man pages describe every command and key"
exit $fail
