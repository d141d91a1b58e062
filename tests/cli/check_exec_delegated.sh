#!/bin/sh
# `airlock exec` as an ordinary user in a delegated cgroup: the limits are
# the cgroup's, not rlimits. As root, this test makes a cgroup below its own
# (v2 where the test's v2 cgroup offers memory, pids and cpu; else one
# directory in each v1 hierarchy airlock uses: memory, pids, cpu and the
# freezer), gives it and its control files to uid 65534 as systemd's
# Delegate=yes does, moves a shell into it and runs `airlock exec` from there
# as uid 65534. It asserts that the domain's cgroup carries the limits (read
# back from the kernel's files while the domain runs), that an allocation
# over --memory is killed by the cgroup (not refused by RLIMIT_AS), that
# forks stop at --pids, that the CPU share needs no --accept-unenforced, and
# that the attestation says "delegated". Everything made is removed on
# every path.
#
# usage: check_exec_delegated.sh AIRLOCK_EXECUTABLE
set -u
exe=${1:?usage: check_exec_delegated.sh AIRLOCK_EXECUTABLE}
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
skip() { echo "check_exec_delegated: skipped: $*"; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "needs root to make and delegate a cgroup"
command -v setpriv >/dev/null 2>&1 || skip "no setpriv"
py=$(readlink -f /usr/bin/python3 2>/dev/null || true)
[ -x "$py" ] || skip "no /usr/bin/python3"
user() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
user "$exe" --version >/dev/null 2>&1 ||
	skip "uid 65534 cannot run $exe (the build's directory is not readable)"

name=al-deleg-test-$$
tmp=$(mktemp -d) || exit 1
dirs=""
bg=""
v2enabled=""
cleanup() {
	[ -n "$bg" ] && kill -9 "$bg" 2>/dev/null && wait "$bg" 2>/dev/null
	# the domains' cgroups (airlock removes them; a failed run may not) and
	# a v2 runner's leaf, then ours; a cgroup empties a moment after its
	# last task exits
	for d in $dirs; do
		for i in 1 2 3 4 5 6 7 8 9 10; do
			for sub in "$d"/airlock-*; do [ -d "$sub" ] && rmdir "$sub" 2>/dev/null; done
			rmdir "$d" 2>/dev/null && break
			[ -d "$d" ] || break
			sleep 0.1
		done
		[ -d "$d" ] && echo "FAIL: cgroup $d left behind" >&2
	done
	# controllers this test enabled, where nothing else uses them now
	[ -n "$v2enabled" ] && echo "-memory -pids -cpu" >"$v2enabled/cgroup.subtree_control" 2>/dev/null
	rm -rf "$tmp"
}
trap 'cleanup' EXIT
trap 'exit 1' INT TERM

# --- where: v2 if the test's own v2 cgroup offers the three controllers ---
own_path() { # the test's cgroup path in the hierarchy holding controller $1 ("" for v2)
	awk -F: -v c="$1" '
		c == "" && $1 == "0" && $2 == "" { print $3; exit }
		c != "" { n = split($2, a, ","); for (i = 1; i <= n; i++) if (a[i] == c) { print $2 ":" $3; exit } }
	' /proc/self/cgroup
}
has3() { grep -qw memory "$1" && grep -qw pids "$1" && grep -qw cpu "$1"; }
mode=
p=$(own_path "")
if [ -n "$p" ]; then
	[ "$p" = / ] && p=
	for m in /sys/fs/cgroup/unified /sys/fs/cgroup; do
		f=$m$p/cgroup.controllers
		[ -r "$f" ] || continue
		has3 "$f" && mode=v2 v2mnt=$m v2own=$m$p
		break
	done
fi
if [ "$mode" = v2 ]; then
	# the parent must give the controllers to the cgroup made here: the
	# test's own cgroup, or where that holds processes (a v2 cgroup that
	# does cannot; the test's shell is one), the hierarchy's root
	v2base=
	for b in "$v2own" "$v2mnt"; do
		if has3 "$b/cgroup.subtree_control"; then
			v2base=$b
		elif echo "+memory +pids +cpu" >"$b/cgroup.subtree_control" 2>/dev/null; then
			v2base=$b v2enabled=$b
		fi
		[ -n "$v2base" ] && break
	done
	[ -n "$v2base" ] || skip "v2: neither $v2own nor $v2mnt gives memory, pids and cpu to a child"
	d=$v2base/$name
	mkdir "$d" || exit 1
	dirs=$d
	# what systemd gives a delegated unit (Delegate=yes)
	for f in "" cgroup.procs cgroup.threads cgroup.subtree_control memory.oom.group memory.reclaim; do
		[ -e "$d/$f" ] && chown 65534:65534 "$d/$f"
	done
else
	mode=v1
	for c in memory pids cpu freezer; do
		lp=$(own_path $c)
		if [ -z "$lp" ]; then
			[ $c = freezer ] && continue
			skip "no v1 $c hierarchy and no v2 cgroup with memory, pids and cpu"
		fi
		list=${lp%%:*} p=${lp#*:}
		[ "$p" = / ] && p=
		base=
		for b in /sys/fs/cgroup/$c /sys/fs/cgroup/$list; do
			[ -w "$b$p/cgroup.procs" ] && base=$b$p && break
		done
		[ -n "$base" ] || skip "v1 $c: the test's cgroup is not writable"
		mkdir "$base/$name" || exit 1
		dirs="$dirs $base/$name"
		for f in "" tasks cgroup.procs; do chown 65534:65534 "$base/$name/$f"; done
	done
fi
echo "mode $mode: $dirs"

# runs airlock exec as uid 65534 from inside the delegated cgroup(s): the
# shell moves itself in before it drops root
inside() {
	sh -c 'for d in $1; do echo $$ >"$d/cgroup.procs" || exit 90; done
		shift; exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"' sh "$dirs" "$@"
}
ax() { inside "$exe" exec --profile tool "$@"; }

# --- the attestation: the cgroup carries the limits, delegated ---
ax --memory 64M --pids 8 --json -- "$py" -c 'pass' >"$tmp/o" 2>"$tmp/e"
rc=$?
[ "$rc" -eq 90 ] && { bad "could not move into $dirs"; exit 1; }
if [ "$rc" -ne 0 ] && grep -q "user namespace\|userns" "$tmp/e"; then
	skip "no unprivileged user namespaces here: $(cat "$tmp/e")"
fi
[ "$rc" -eq 0 ] || bad "exec in the delegated cgroup: exit $rc (no --accept-unenforced needed): $(cat "$tmp/e")"
grep -q "no cgroup for this domain\|needs a cgroup" "$tmp/e" && bad "exec fell back to rlimits: $(cat "$tmp/e")"
"$py" - "$tmp/o" "$mode" <<'EOF' || bad "attestation: $(cat "$tmp/o")"
import json, sys
r = json.load(open(sys.argv[1]))
items = {i["item"]: i for i in r["items"]}
assert r["ok"], [i for i in r["items"] if not i["ok"]]
cg = items["cgroup"]["actual"]
assert cg.split(",")[0].split(" ")[0] == sys.argv[2], cg
assert cg.endswith(", delegated to uid 65534"), cg
assert items["cgroup.memory"]["actual"] == "67108864", items["cgroup.memory"]
assert items["cgroup.pids"]["actual"] == "8", items["cgroup.pids"]
assert items["cgroup.cpu_percent"]["actual"] == "100", items["cgroup.cpu_percent"]
# not carried by rlimits: the profile's own values stay
assert items["limit.as"]["actual"] != "67108864", items["limit.as"]
assert items["limit.nproc"]["actual"] != "8", items["limit.nproc"]
EOF

# --- the kernel's own files, read while the domain runs ---
mkfifo "$tmp/hold" || exit 1
ax --memory 64M --pids 8 -- "$py" -c 'import sys; print("ready", flush=True); sys.stdin.read()' \
	<"$tmp/hold" >"$tmp/o" 2>"$tmp/e" &
bg=$!
exec 3>"$tmp/hold"
for i in $(seq 100); do grep -q ready "$tmp/o" && break; sleep 0.1; done
if ! grep -q ready "$tmp/o"; then
	bad "the held domain did not start: $(cat "$tmp/e")"
else
	for d in $dirs; do
		got=
		for sub in "$d"/airlock-*; do
			case ${sub##*/} in *-runner) continue ;; esac
			[ -d "$sub" ] && got=$sub
		done
		if [ -z "$got" ]; then
			bad "no domain cgroup below $d"
			continue
		fi
		[ -n "$(cat "$got/cgroup.procs")" ] || bad "$got holds no process" # (cgroup files have no size)
		owner=$(stat -c %u "$got")
		[ "$owner" = 65534 ] || bad "$got belongs to uid $owner, not the runner's 65534"
		case $mode:$d in
		v2:*)
			[ "$(cat "$got/memory.max")" = 67108864 ] || bad "memory.max: $(cat "$got/memory.max")"
			[ "$(cat "$got/pids.max")" = 8 ] || bad "pids.max: $(cat "$got/pids.max")"
			[ "$(cat "$got/cpu.max")" = "100000 100000" ] || bad "cpu.max: $(cat "$got/cpu.max")" ;;
		*/memory/*)
			v=$(cat "$got/memory.limit_in_bytes")
			[ "$v" = 67108864 ] || bad "memory.limit_in_bytes: $v" ;;
		*/pids/*)
			v=$(cat "$got/pids.max")
			[ "$v" = 8 ] || bad "pids.max: $v" ;;
		*/freezer/*) ;;
		*)
			v=$(cat "$got/cpu.cfs_quota_us")
			[ "$v" = 100000 ] || bad "cpu.cfs_quota_us: $v" ;;
		esac
	done
fi
exec 3>&-
wait "$bg"
bg=""

# --- memory: the cgroup kills an allocation over the limit ---
alloc='print("reached", flush=True); b = bytearray(256 << 20); print("allocated", flush=True)'
ax --memory 64M -- "$py" -c "$alloc" >"$tmp/o" 2>"$tmp/e"
rc=$?
grep -q reached "$tmp/o" || bad "memory: the program did not run: $(cat "$tmp/e")"
grep -q allocated "$tmp/o" && bad "memory: 256 MiB allocated under a 64M limit"
grep -q MemoryError "$tmp/e" && bad "memory: refused by the allocator (RLIMIT_AS), not the cgroup"
[ "$rc" -eq 137 ] || bad "memory: exit $rc, expected 137 (killed by the cgroup's OOM killer): $(cat "$tmp/e")"
ax --memory 1G -- "$py" -c "$alloc" >"$tmp/o" 2>"$tmp/e"
grep -q allocated "$tmp/o" || bad "memory: 256 MiB refused under a 1G limit: $(cat "$tmp/e")"

# --- pids: forks stop at the limit ---
forks='import os, time
n = 0
try:
    while n < 64:
        if os.fork() == 0:
            time.sleep(2); os._exit(0)
        n += 1
except OSError as e:
    print("refused", e.errno)
print("forked", n)'
ax --pids 8 -- "$py" -c "$forks" >"$tmp/o" 2>"$tmp/e"
n=$(sed -n 's/^forked //p' "$tmp/o")
grep -q "^refused" "$tmp/o" && [ -n "$n" ] && [ "$n" -lt 8 ] ||
	bad "pids: $n processes forked under a limit of 8: $(cat "$tmp/o" "$tmp/e")"

# --- airlock removed the domains' cgroups (a v2 runner leaves its leaf) ---
for d in $dirs; do
	for sub in "$d"/airlock-*; do
		case ${sub##*/} in *-runner) continue ;; esac
		[ -d "$sub" ] && bad "domain cgroup $sub left behind"
	done
done
[ "$fail" -eq 0 ] && echo "ok: $mode cgroup delegated to uid 65534 carries memory, pids and CPU limits"
exit $fail
