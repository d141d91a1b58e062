#!/bin/sh
# `airlock exec` as an MCP client launches it: as an ordinary user, with a
# bare command name. Without a cgroup of its own the runner must still hold
# the profile's memory and pids limits (RLIMIT_AS and RLIMIT_NPROC carry
# them, and the attestation says so), refuse a CPU share it cannot enforce
# unless told to accept that, and run a JIT runtime (node) under the
# runtime profile. Each limit is shown to hold by an attempt that reached it.
#
# usage: check_exec_user.sh AIRLOCK_EXECUTABLE
set -u
exe=${1:?usage: check_exec_user.sh AIRLOCK_EXECUTABLE}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
skip() { echo "skipped: $*"; }

# the system's python3 (the tool profile holds /usr; a per-user shim is not in it)
py=$(readlink -f /usr/bin/python3 2>/dev/null || true)
[ -x "$py" ] || { echo "check_exec_user: no /usr/bin/python3, skipped"; exit 77; }

# --- a JIT runtime: tool kills it (W^X), runtime runs it (as root or not) ---
node=$(command -v node || true)
case $node in /usr/*) ;; *) node= ;; esac
if [ -z "$node" ]; then
	skip "node: no node under /usr (the profiles hold /usr only)"
else
	node=$(readlink -f "$node")
	"$exe" exec --profile tool -- "$node" -e 'console.log("reached")' >"$tmp/o" 2>"$tmp/e"
	rc=$?
	[ "$rc" -eq 159 ] || bad "node under tool: exit $rc, expected 159 (SIGSYS); $(cat "$tmp/e")"
	grep -q "outside the profile's allowlist" "$tmp/e" || bad "node under tool: no explanation: $(cat "$tmp/e")"
	"$exe" exec --profile runtime -- "$node" -e 'console.log("ran", 6 * 7)' >"$tmp/o" 2>"$tmp/e"
	rc=$?
	[ "$rc" -eq 0 ] && grep -q "ran 42" "$tmp/o" || bad "node under runtime: exit $rc: $(cat "$tmp/e")"
fi

# --- an ordinary user ---
user() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	skip "unprivileged runner: needs root to become uid 65534 (and setpriv)"
	exit $fail
fi
if ! user "$exe" --version >/dev/null 2>&1; then
	skip "unprivileged runner: uid 65534 cannot run $exe (the build's directory is not readable)"
	exit $fail
fi
user "$exe" exec --profile tool -- "$py" -c 'print("reached")' >"$tmp/o" 2>"$tmp/e"
rc=$?
if grep -q "user namespace\|userns" "$tmp/e"; then
	skip "unprivileged runner: no unprivileged user namespaces here: $(cat "$tmp/e")"
	exit $fail
fi
if [ "$rc" -eq 0 ]; then
	# a delegated cgroup: the cgroup carries the limits, nothing to fall back on
	skip "unprivileged runner: uid 65534 has a writable cgroup here"
	exit $fail
fi
# the tool profile limits CPU to 100 % of a CPU: refused without a cgroup
[ "$rc" -eq 1 ] || bad "CPU share without a cgroup: exit $rc, expected 1"
grep -q "needs a cgroup" "$tmp/e" || bad "CPU share without a cgroup: no reason given: $(cat "$tmp/e")"
grep -q -- "--accept-unenforced" "$tmp/e" || bad "CPU share without a cgroup: no way out named: $(cat "$tmp/e")"
grep -q reached "$tmp/o" && bad "CPU share without a cgroup: the program ran"

# --- the systemd scope step (src/sandbox/delegate.c) ---
# Without a delegated cgroup, airlock would ask a systemd user manager for a
# scope with Delegate=yes. uid 65534 has none (nor has a host whose PID 1 is
# not systemd): the probe reports it absent, in the same one line. Where a
# manager does run for uid 65534, exec would move into a scope: not checked.
scope=AIRLOCK_CGROUP_SCOPE
if [ -d /run/systemd/system ] && [ -S /run/user/65534/systemd/private ]; then
	skip "systemd probe: a user manager runs for uid 65534 here"
	manager=1
else
	manager=0
	grep -q "no systemd user manager" "$tmp/e" || bad "systemd probe: absence not said: $(cat "$tmp/e")"
fi
# the loop guard: the run that systemd-run started (the variable says so)
# never asks again, whatever it finds, and says where it is
env $scope=inside setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$exe" exec --profile tool -- "$py" -c 'print("reached")' >"$tmp/o" 2>"$tmp/e"
rc=$?
[ "$rc" -eq 1 ] || bad "guard: exit $rc, expected 1 (the CPU share refused as before)"
grep -q "in a systemd scope with Delegate=yes ($scope=inside)" "$tmp/e" ||
	bad "guard: $scope=inside not taken as the second run: $(cat "$tmp/e")"
grep -q "no systemd user manager" "$tmp/e" && bad "guard: probed again in the second run: $(cat "$tmp/e")"
# and off: never asked
env $scope=off setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$exe" exec --profile tool -- "$py" -c 'print("reached")' >"$tmp/o" 2>"$tmp/e"
grep -q "$scope=off: no systemd scope asked for" "$tmp/e" || bad "$scope=off not said: $(cat "$tmp/e")"

ux() { user "$exe" exec --profile tool --accept-unenforced "$@"; }

# memory: 64M holds an allocation of 256 MiB back; 1G lets it through
alloc='import sys; print("reached", flush=True); b = bytearray(256 << 20); print("allocated")'
ux --memory 64M -- "$py" -c "$alloc" >"$tmp/o" 2>"$tmp/e"
rc=$?
grep -q reached "$tmp/o" || bad "memory: the program did not run: $(cat "$tmp/e")"
grep -q allocated "$tmp/o" && bad "memory: 256 MiB allocated under a 64M limit"
grep -q MemoryError "$tmp/e" || bad "memory: not refused by the allocator (exit $rc): $(cat "$tmp/e")"
ux --memory 1G -- "$py" -c "$alloc" >"$tmp/o" 2>"$tmp/e" || true
grep -q allocated "$tmp/o" || bad "memory: 256 MiB refused under a 1G limit: $(cat "$tmp/e")"

# pids: processes are refused beyond the limit (fork until it fails)
forks='import os, time
print("reached", flush=True)
n = 0
try:
    while n < 64:
        if os.fork() == 0:
            time.sleep(5); os._exit(0)
        n += 1
except OSError as e:
    print("refused", e.errno)
print("forked", n)'
ux --pids 8 -- "$py" -c "$forks" >"$tmp/o" 2>"$tmp/e"
grep -q reached "$tmp/o" || bad "pids: the program did not run: $(cat "$tmp/e")"
n=$(sed -n 's/^forked //p' "$tmp/o")
grep -q "^refused" "$tmp/o" && [ -n "$n" ] && [ "$n" -lt 8 ] ||
	bad "pids: $n processes forked under a limit of 8: $(cat "$tmp/o" "$tmp/e")"

# the attestation names the mechanism carrying each limit
ux --memory 64M --pids 8 --json -- "$py" -c 'pass' >"$tmp/o" 2>"$tmp/e"
"$py" - "$tmp/o" "$manager" <<'EOF' || bad "attestation: $(cat "$tmp/o")"
import json, sys
items = {i["item"]: i for i in json.load(open(sys.argv[1]))["items"]}
assert items["cgroup.memory"]["actual"] == "67108864 (RLIMIT_AS)", items["cgroup.memory"]
assert items["cgroup.pids"]["actual"] == "8 (RLIMIT_NPROC)", items["cgroup.pids"]
assert items["limit.as"]["actual"] == "67108864", items["limit.as"]
assert items["limit.nproc"]["actual"] == "8", items["limit.nproc"]
assert items["cgroup.cpu_percent"]["actual"] == "not enforced (accepted)", items["cgroup.cpu_percent"]
cg = items["cgroup"]["actual"]
assert cg.startswith("unavailable to this runner ("), cg
assert sys.argv[2] == "1" or "no systemd user manager" in cg, cg
EOF
[ "$fail" -eq 0 ] && echo "ok: node under runtime; without a cgroup memory and pids held by rlimits, CPU share refused unless accepted, systemd's absence said, the scope guard kept"
exit $fail
