#!/usr/bin/env python3
"""Scheduling policies compared with `airlock bench`'s protocol under generation.

bench/sched/bench_sched.py BUILD_DIR [--policies a,b,...] [--repeat N] [--level L]
                                     [--define NAME:PROTO:AI[:SECTION.KEY=VALUE]...]...
                                     [--json FILE] [--keep DIR]

For each policy (a pair of [domain.proto] / [domain.ai] sched classes, and
for some a key more), `airlock bench --only load --level L --set ...` is run;
the runs go round the policies N times in a rotating order, so a drifting
host load touches every policy alike. Each run measures its supervisor next
to the same unsandboxed stack under the same clients, interleaved, so every
figure below is also given against that peer (x: airlock / peer), which is
what stays comparable between runs on a shared machine. The table shows the
median over the runs, and the spread (min-max) of the ratios.

A policy's throughput cost is its tok/s against the peer's, next to the
default policy's: what the protocol's priority takes from generation is the
difference of the two.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile

POLICIES = {
    # name: (proto, ai, extra --set)
    'default': ('default', 'default', []),
    'realtime': ('realtime', 'default', []),
    'realtime+batch': ('realtime', 'batch', []),
    'latency': ('latency', 'default', []),
    'latency+batch': ('latency', 'batch', []),
    'default+batch': ('default', 'batch', []),
    'realtime+idle': ('realtime', 'idle', []),
}
LOADS = [0, 1, 2, 4]


def run(build, level, name, out):
    proto, ai, extra = POLICIES[name]
    cmd = [os.path.join(build, 'src/cli/airlock'), 'bench', '--only', 'load', '--level', level, '--quiet',
           '--out', out, '--set', f'domain.proto.sched={proto}', '--set', f'domain.ai.sched={ai}']
    for e in extra:
        cmd += ['--set', e]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)


def cells(r, level):
    """{(load, stat): (airlock, peer)} and {load: (tok/s airlock, tok/s peer)} of one run."""
    sec = next(s for s in r['sections'] if s['id'] == 'load')
    lat, tps = {}, {}
    for row in sec['rows']:
        if 'error' in row:
            raise RuntimeError(row['error'])
        load = int(row['id'].split('.')[1])
        st = row['stat']
        cost = row['cost'][level]
        peer = cost.get('paired_baseline', row['values']['baseline'])[st]
        mine = row['values'][level][st]
        if row['unit'] == 'tok/s':
            tps[load] = (mine, peer)
        else:
            lat[(load, st)] = (mine, peer)
    return lat, tps


def med(xs):
    return statistics.median(xs) if xs else float('nan')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('build')
    ap.add_argument('--policies', default='default,realtime,realtime+batch,latency+batch')
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--level', default='standard')
    ap.add_argument('--json')
    ap.add_argument('--keep', help='keep each run\'s JSON here')
    ap.add_argument('--define', action='append', default=[],
                    help='a policy of its own: NAME:PROTO:AI[:SECTION.KEY=VALUE]... (e.g. an AI worker built '
                         'another way: yield:default:default:domain.ai.command=/path/airlock-ai)')
    a = ap.parse_args()
    for d in a.define:
        f = d.split(':')
        if len(f) < 3:
            sys.exit(f'--define {d}: NAME:PROTO:AI[:SECTION.KEY=VALUE]...')
        POLICIES[f[0]] = (f[1], f[2], f[3:])
    pols = a.policies.split(',')
    for p in pols:
        if p not in POLICIES:
            sys.exit(f'unknown policy {p}; known: {", ".join(POLICIES)}')
    keep = a.keep or tempfile.mkdtemp(prefix='airlock-sched-')
    os.makedirs(keep, exist_ok=True)
    runs = {p: [] for p in pols}
    for r in range(a.repeat):
        k = r % len(pols)
        for p in pols[k:] + pols[:k]:
            out = os.path.join(keep, f'{p}-{r}.json')
            res = run(a.build, a.level, p, out)
            runs[p].append(res)
            lat, tps = cells(res, a.level)
            la = res['machine']['loadavg'][0]
            print(f'# run {r} {p:>15}: load {la:.1f}; p99 at 0/1/2/4 gen ' +
                  ' '.join(f'{lat[(l, "p99")][0]:.0f}' for l in LOADS) + ' us (peer ' +
                  ' '.join(f'{lat[(l, "p99")][1]:.0f}' for l in LOADS) + '); tok/s at 2 gen '
                  f'{tps[2][0]:.0f} (peer {tps[2][1]:.0f})', flush=True)
    rows = []
    print(f'\nlevel {a.level}; {a.repeat} runs per policy; medians over the runs (x: against the unsandboxed '
          'peer of the same run, min-max)\n')
    print('| policy (proto / ai) | gen | p50 µs | p99 µs | p99.9 µs | p99 x peer | p99.9 x peer | tok/s | tok/s x peer |')
    print('|---|---|---|---|---|---|---|---|---|')
    for p in pols:
        per = [cells(x, a.level) for x in runs[p]]
        for l in LOADS:
            def v(st, i):
                return [c[0][(l, st)][i] for c in per]
            ratio99 = [x / y for x, y in zip(v('p99', 0), v('p99', 1))]
            ratio999 = [x / y for x, y in zip(v('p999', 0), v('p999', 1))]
            t = [c[1][l][0] for c in per] if l else []
            tr = [c[1][l][0] / c[1][l][1] for c in per if c[1][l][1] > 0] if l else []
            row = {'policy': p, 'proto': POLICIES[p][0], 'ai': POLICIES[p][1], 'load': l,
                   'p50': med(v('median', 0)), 'p99': med(v('p99', 0)), 'p999': med(v('p999', 0)),
                   'p99_ratio': med(ratio99), 'p99_ratio_range': [min(ratio99), max(ratio99)],
                   'p999_ratio': med(ratio999), 'tps': med(t), 'tps_ratio': med(tr),
                   'tps_ratio_range': [min(tr), max(tr)] if tr else None,
                   'loadavg': [x['machine']['loadavg'][0] for x in runs[p]]}
            rows.append(row)
            tps_s = f'{row["tps"]:.0f}' if l else '-'
            tr_s = f'{row["tps_ratio"]:.2f} ({min(tr):.2f}-{max(tr):.2f})' if tr else '-'
            print(f'| {p} ({POLICIES[p][0]} / {POLICIES[p][1]}) | {l} | {row["p50"]:.0f} | {row["p99"]:.0f} | '
                  f'{row["p999"]:.0f} | {row["p99_ratio"]:.2f} ({min(ratio99):.2f}-{max(ratio99):.2f}) | '
                  f'{row["p999_ratio"]:.2f} | {tps_s} | {tr_s} |')
    print(f'\nrun results kept in {keep}')
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'level': a.level, 'repeat': a.repeat, 'rows': rows}, f, indent=1)


if __name__ == '__main__':
    main()
