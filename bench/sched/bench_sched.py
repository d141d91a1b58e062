#!/usr/bin/env python3
"""Request latency of the protocol domain while the AI domain generates.

bench/sched/bench_sched.py BUILD_DIR [--seconds S] [--rounds R] [--policies a,b]
                                     [--loads 0,1,2] [--json FILE]

For each scheduling policy (the [domain.*] sched keys) an `airlock run` with a
scratch configuration is started; one keep-alive client sends a stateless
tools/list every 2 ms and times each answer, while 0, 1 or 2 other processes
each keep one 200-token greedy `generate` running back to back. Rounds visit
every (policy, load) once, in an order that rotates, so a drifting host load
touches all alike; percentiles are over all samples of a cell, and the
per-round p99s are printed beside them to show the spread.
"""
import argparse, http.client, json, multiprocessing as mp, os, re, shutil, signal, socket
import subprocess, sys, tempfile, time

POLICIES = {
    # name: (proto, ai)
    'default': ('default', 'default'),
    'level': ('level', 'level'),          # standard: proto latency, ai batch
    'latency+idle': ('latency', 'idle'),
}
META = {'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientCapabilities': {}}
HDR = {'Content-Type': 'application/json', 'Accept': 'application/json, text/event-stream',
       'MCP-Protocol-Version': '2026-07-28'}
LIST = json.dumps({'jsonrpc': '2.0', 'id': 1, 'method': 'tools/list', 'params': {'_meta': META}})
GEN = json.dumps({'jsonrpc': '2.0', 'id': 2, 'method': 'tools/call', 'params': {
    'name': 'generate', 'arguments': {'prompt': 'Once upon a time', 'max_tokens': 200, 'temperature': 0},
    '_meta': META}})


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(build, proto, ai):
    d = tempfile.mkdtemp(prefix='airlock-sched-')
    port = free_port()
    conf = os.path.join(d, 'airlock.conf')
    with open(conf, 'w') as f:
        f.write(f'[airlock]\nstate_dir = {d}/state\n[proto]\nlisten = 127.0.0.1:{port}\n'
                f'[domain.ai]\nsched = {ai}\n[domain.proto]\nsched = {proto}\n')
    p = subprocess.Popen([os.path.join(build, 'src/cli/airlock'), 'run', '--config', conf],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = ''
    end = time.time() + 30
    while time.time() < end:
        line = p.stderr.readline()
        if not line:
            break
        err += line
        if re.search(r'ready on http://127\.0\.0\.1:(\d+)/mcp', line):
            os.set_blocking(p.stderr.fileno(), False)
            return p, port, d, conf
    p.kill()
    raise RuntimeError('airlock run not ready:\n' + err)


def stop(p, d):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    shutil.rmtree(d, ignore_errors=True)


def post(c, body, name=None):
    h = dict(HDR, **{'Mcp-Method': 'tools/call' if name else 'tools/list'})
    if name:
        h['Mcp-Name'] = name
    c.request('POST', '/mcp', body, h)
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        raise RuntimeError(f'HTTP {r.status}: {data[:200]!r}')
    return data


def generator(port, stop_at):
    c = http.client.HTTPConnection('127.0.0.1', port)
    while time.time() < stop_at:
        post(c, GEN, 'generate')


def probe(port, seconds, period=0.002):
    c = http.client.HTTPConnection('127.0.0.1', port)
    for _ in range(50):  # warm the connection and the caches
        post(c, LIST)
    lat = []
    t_next = time.perf_counter()
    end = t_next + seconds
    while True:
        t_next += period
        now = time.perf_counter()
        if now >= end:
            break
        if t_next > now:
            time.sleep(t_next - now)
        a = time.perf_counter_ns()
        post(c, LIST)
        lat.append((time.perf_counter_ns() - a) / 1000.0)
    return lat


def pct(s, p):
    return s[min(len(s) - 1, int(len(s) * p))] if s else float('nan')


def procs_of(sup_pid):
    """(pid, comm, policy, nice) of the supervisor's descendants, for the record."""
    out, kids = [], {}
    for e in os.listdir('/proc'):
        if e.isdigit():
            try:
                st = open(f'/proc/{e}/stat').read()
            except OSError:
                continue
            rest = st[st.rindex(')') + 2:].split()
            kids.setdefault(int(rest[1]), []).append((int(e), st[st.index('(') + 1:st.rindex(')')],
                                                      int(rest[38]), int(rest[16])))
    todo = [sup_pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k[0])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('build')
    ap.add_argument('--seconds', type=float, default=8)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--policies', default=','.join(POLICIES))
    ap.add_argument('--loads', default='0,1,2')
    ap.add_argument('--json')
    a = ap.parse_args()
    pols = a.policies.split(',')
    loads = [int(x) for x in a.loads.split(',')]
    cells = [(p, l) for p in pols for l in loads]
    samples = {c: [] for c in cells}
    round_p99 = {c: [] for c in cells}
    names = {0: 'SCHED_OTHER', 3: 'SCHED_BATCH', 5: 'SCHED_IDLE'}
    for r in range(a.rounds):
        k = r % len(pols)
        for pol in pols[k:] + pols[:k]:
            p, port, d, _ = start(a.build, *POLICIES[pol])
            try:
                if r == 0:
                    seen = {(c, names.get(pl, pl), n) for _, c, pl, n in procs_of(p.pid)}
                    print(f'# {pol}: ' + ', '.join(f'{c} {pl} nice {n}' for c, pl, n in sorted(seen)),
                          flush=True)
                for load in (loads[r % len(loads):] + loads[:r % len(loads)]):
                    stop_at = time.time() + a.seconds + 1
                    gens = [mp.Process(target=generator, args=(port, stop_at)) for _ in range(load)]
                    for g in gens:
                        g.start()
                    time.sleep(0.5 if load else 0)
                    lat = probe(port, a.seconds)
                    for g in gens:
                        g.join()
                    samples[(pol, load)] += lat
                    s = sorted(lat)
                    round_p99[(pol, load)].append(pct(s, 0.99))
                    print(f'round {r} {pol:>13} load {load}: n {len(s)} p50 {pct(s, .5):.0f} '
                          f'p99 {pct(s, .99):.0f} p99.9 {pct(s, .999):.0f} µs', flush=True)
            finally:
                stop(p, d)
    res = []
    print('\n| policy (proto / ai) | generations | n | p50 µs | p99 µs | p99.9 µs | p99 per round µs |')
    print('|---|---|---|---|---|---|---|')
    for pol, load in cells:
        s = sorted(samples[(pol, load)])
        row = {'policy': pol, 'proto': POLICIES[pol][0], 'ai': POLICIES[pol][1], 'load': load, 'n': len(s),
               'p50': pct(s, .5), 'p99': pct(s, .99), 'p999': pct(s, .999),
               'p99_rounds': round_p99[(pol, load)]}
        res.append(row)
        print(f'| {pol} ({POLICIES[pol][0]} / {POLICIES[pol][1]}) | {load} | {len(s)} | {row["p50"]:.0f} | '
              f'{row["p99"]:.0f} | {row["p999"]:.0f} | '
              + ' '.join(f'{x:.0f}' for x in round_p99[(pol, load)]) + ' |')
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'cpus': os.cpu_count(), 'loadavg': os.getloadavg(), 'seconds': a.seconds,
                       'rounds': a.rounds, 'rows': res}, f, indent=1)


if __name__ == '__main__':
    main()
