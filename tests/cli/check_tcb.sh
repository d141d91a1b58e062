#!/bin/sh
# The `airlock` executable is the trusted supervisor's process image: it must
# map no code for HTTP, JSON-RPC/MCP, the protocol and AI workers, the model
# loaders or libcurl. Those live in airlock-proto, airlock-ai, airlock-ask and
# airlock-bench. Checks the linked libraries (NEEDED) and the symbols (nm).
#
# usage: check_tcb.sh AIRLOCK_EXECUTABLE
set -eu
exe=${1:?usage: check_tcb.sh AIRLOCK_EXECUTABLE}
for tool in readelf nm; do
	command -v "$tool" >/dev/null 2>&1 || { echo "check_tcb: no $tool, skipped"; exit 77; }
done
[ -f "$exe" ] || { echo "check_tcb: $exe: no such file" >&2; exit 1; }

fail=0

needed=$(readelf -d "$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$needed" ] || { echo "check_tcb: $exe: no NEEDED entries (not a dynamic executable?)" >&2; exit 1; }
bad_libs=$(printf '%s\n' "$needed" | grep -E '^lib(microhttpd|curl)' || true)
if [ -n "$bad_libs" ]; then
	echo "check_tcb: $exe links libraries it must not:" >&2
	printf '  %s\n' $bad_libs >&2
	fail=1
fi

# The static symbol table (defined and undefined, local and global) and the
# dynamic one; an unstripped build is needed for the first.
syms=$( { nm "$exe" 2>/dev/null || true; nm -D "$exe" 2>/dev/null || true; } | awk '{ print $NF }' | sort -u)
[ -n "$syms" ] || { echo "check_tcb: $exe: no symbols (stripped?)" >&2; exit 1; }
# MCP and JSON-RPC (src/mcp), the protocol worker (src/workers/proto), the
# egress proxy's CONNECT and DNS readers (src/workers/egress), the AI
# engine and its model loaders (src/workers/ai: GGUF, llama2.c), the
# benchmarks (bench/lib), libmicrohttpd and libcurl.
pattern='^(al_mcp_|al_jsonrpc_|al_proto_|al_ai_|al_gguf_|al_bench_|al_connect_|al_dns_|MHD_|curl_)'
bad_syms=$(printf '%s\n' "$syms" | grep -E "$pattern" || true)
if [ -n "$bad_syms" ]; then
	n=$(printf '%s\n' "$bad_syms" | wc -l)
	echo "check_tcb: $exe holds $n symbols it must not, e.g.:" >&2
	printf '%s\n' "$bad_syms" | head -n 20 | sed 's/^/  /' >&2
	fail=1
fi

[ "$fail" -eq 0 ] && echo "check_tcb: $exe: none of libmicrohttpd, libcurl, MCP, JSON-RPC, protocol, AI or bench code"
exit "$fail"
