#!/bin/sh
# airlock bench --model: the AI sections run on the model given (a GGUF
# file here, whose vocabulary is its own), their method names it, and the
# in-process engine generated on it; a wrong combination of the options is
# refused with its reason before anything is measured.
# A sanitizer build cannot run the static workers in a domain (SANITIZED
# = 1): there a row may carry the reason instead of figures.
# usage: check_bench_model.sh AIRLOCK GGUF CHECKPOINT TOKENIZER SANITIZED
set -u
airlock=$1 gguf=$2 ckpt=$3 tok=$4 sanitized=$5
tmp=$(mktemp -d /tmp/al_bench_model.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0

refused() { # expected-text, then the arguments
	want=$1
	shift
	out=$("$airlock" bench "$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ] || ! printf '%s\n' "$out" | grep -qF -- "$want"; then
		echo "FAIL: airlock bench $*: exit $rc, expected a refusal saying '$want'; got: $out"
		fail=1
	else
		echo "ok: airlock bench $* refused: $(printf '%s\n' "$out" | head -n 1)"
	fi
}

refused "--tokenizer needs --model" --tokenizer "$tok"
refused "a llama2.c checkpoint needs --tokenizer" --model "$ckpt"
refused "No such file or directory" --model "$tmp/absent.gguf"

if ! "$airlock" bench --quick --json --quiet --only ai,ai_sandbox --level standard --model "$gguf" \
	--out "$tmp/r.json" >"$tmp/stdout.json"; then
	echo "FAIL: airlock bench --model $gguf did not run"
	exit 1
fi
python3 - "$tmp/r.json" "$(basename "$gguf")" "$sanitized" <<'PY' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))
name = sys.argv[2]
secs = {s["id"]: s for s in r["sections"]}
assert set(secs) == {"ai", "ai_sandbox"}, f"sections {sorted(secs)}"
for s in secs.values():
    assert name in s["method"], f"{s['id']}: the method does not name {name}: {s['method']}"
row = next(x for x in secs["ai"]["rows"] if x["id"] == "ai.tokens_per_s")
if "values" not in row:
    assert sys.argv[3] == "1", f"not measured outside a sanitizer build: {row.get('error')}"
    print(f"skipped: the run's figures (sanitizer build: {row['error']}); both sections name {name}")
    sys.exit(0)
base = row["values"]["baseline"]["median"]
assert base > 0, f"in-process engine on {name}: {base} tok/s"
print(f"ok: both AI sections on {name}; the in-process engine generated at {base:.0f} tok/s")
PY
exit $fail
