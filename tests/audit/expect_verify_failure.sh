#!/bin/sh
# Runs `airlock audit verify ...` and passes only when it reports a failed
# verification: exit status 1 (the documented "does not verify") and a
# "FAILED" line naming the expected reason. A usage error (2), a crash or
# any other failure does not pass.
#   expect_verify_failure.sh REASON AIRLOCK audit verify ARGS...
reason=$1
shift
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne 1 ]; then
	echo "expected exit status 1 (verification failed), got $rc" >&2
	exit 1
fi
case $out in
*": FAILED"*"$reason"*) exit 0 ;;
esac
echo "expected a FAILED line naming '$reason'" >&2
exit 1
