#!/usr/bin/env python3
"""What the protocol's scheduling class costs generation, per policy.

bench/sched/ai_efficiency.py BUILD_DIR [--policies default,realtime] [--repeat N] [--seconds S]

For each policy (the protocol domain's [domain.proto] sched class; the AI
domain stays default) an `airlock run` with a scratch configuration serves
two clients that keep 200-token greedy generations running back to back and
one that sends a tools/list every 2 ms, for S seconds. Measured: generations
completed (tok/s), and the AI worker's own CPU time from /proc, so that
tokens per AI CPU-second separates "the AI domain got less CPU" (a host's
other load moves that) from "each token cost more CPU" (what preemption by
the protocol's threads would do: cache refills, migrations). The runs go
round the policies N times in a rotating order; each figure is also given
against the first policy's run of the same round.
"""
import argparse, http.client, json, os, shutil, signal, socket, statistics, subprocess, tempfile, threading, time

META = {'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientCapabilities': {}}
HDR = {'Content-Type': 'application/json', 'Accept': 'application/json, text/event-stream',
       'MCP-Protocol-Version': '2026-07-28'}
GEN = json.dumps({'jsonrpc': '2.0', 'id': 2, 'method': 'tools/call', 'params': {
    'name': 'generate', 'arguments': {'prompt': 'Once upon a time', 'max_tokens': 200, 'temperature': 0},
    '_meta': META}})
LIST = json.dumps({'jsonrpc': '2.0', 'id': 1, 'method': 'tools/list', 'params': {'_meta': META}})


def children(pid):
    out = []
    for t in os.listdir(f'/proc/{pid}/task'):
        try:
            out += [int(x) for x in open(f'/proc/{pid}/task/{t}/children').read().split()]
        except OSError:
            pass
    return out


def ai_worker(sup):
    for init in children(sup):
        for w in children(init):
            if open(f'/proc/{w}/comm').read().strip() == 'airlock-ai':
                return w
    return None


def cpu_seconds(pid):
    f = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')


def one(build, sched, seconds):
    d = tempfile.mkdtemp(prefix='airlock-eff-')
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    with open(f'{d}/airlock.conf', 'w') as f:
        f.write(f'[airlock]\nstate_dir = {d}/state\n[proto]\nlisten = 127.0.0.1:{port}\nconcurrency = 8\n'
                f'[ai]\nmax_tokens = 256\n[domain.proto]\nsched = {sched}\n[domain.ai]\nsched = default\n')
    p = subprocess.Popen([os.path.join(build, 'src/cli/airlock'), 'run', '--config', f'{d}/airlock.conf'],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in p.stderr:
            if 'ready on' in line:
                break
        else:
            raise RuntimeError('airlock run did not become ready')
        time.sleep(1.5)  # the supervisor's first tick: per-thread classes
        stop = time.time() + seconds + 2
        done = [0]

        def gen():
            c = http.client.HTTPConnection('127.0.0.1', port)
            while time.time() < stop:
                c.request('POST', '/mcp', GEN, dict(HDR, **{'Mcp-Method': 'tools/call', 'Mcp-Name': 'generate'}))
                c.getresponse().read()
                done[0] += 1

        def probe():
            c = http.client.HTTPConnection('127.0.0.1', port)
            while time.time() < stop:
                c.request('POST', '/mcp', LIST, dict(HDR, **{'Mcp-Method': 'tools/list'}))
                c.getresponse().read()
                time.sleep(0.002)

        th = [threading.Thread(target=gen) for _ in range(2)] + [threading.Thread(target=probe)]
        for t in th:
            t.start()
        time.sleep(1)
        ai = ai_worker(p.pid)
        c0, n0, t0 = cpu_seconds(ai), done[0], time.time()
        time.sleep(seconds)
        c1, n1, t1 = cpu_seconds(ai), done[0], time.time()
        for t in th:
            t.join()
        toks = (n1 - n0) * 200
        return {'tok_s': toks / (t1 - t0), 'ai_cpu_s': c1 - c0, 'tok_per_cpu_s': toks / max(c1 - c0, 1e-9),
                'loadavg': os.getloadavg()[0]}
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('build')
    ap.add_argument('--policies', default='default,realtime')
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--seconds', type=float, default=7)
    a = ap.parse_args()
    pols = a.policies.split(',')
    res = {p: [] for p in pols}
    for r in range(a.repeat):
        k = r % len(pols)
        for p in pols[k:] + pols[:k]:
            x = one(a.build, p, a.seconds)
            res[p].append(x)
            print(f'# round {r} {p:>9}: load {x["loadavg"]:.1f} tok/s {x["tok_s"]:.0f} AI CPU {x["ai_cpu_s"]:.2f} s '
                  f'tokens per AI CPU-second {x["tok_per_cpu_s"]:.0f}', flush=True)
    base = pols[0]
    print(f'\n| proto class | tok/s | x {base} | AI CPU s | tokens per AI CPU-second | x {base} |')
    print('|---|---|---|---|---|---|')
    for p in pols:
        tr = [x['tok_s'] / b['tok_s'] for x, b in zip(res[p], res[base])]
        er = [x['tok_per_cpu_s'] / b['tok_per_cpu_s'] for x, b in zip(res[p], res[base])]
        med = statistics.median
        print(f'| {p} | {med(x["tok_s"] for x in res[p]):.0f} | {med(tr):.2f} ({min(tr):.2f}-{max(tr):.2f}) | '
              f'{med(x["ai_cpu_s"] for x in res[p]):.2f} | {med(x["tok_per_cpu_s"] for x in res[p]):.0f} | '
              f'{med(er):.2f} ({min(er):.2f}-{max(er):.2f}) |')


if __name__ == '__main__':
    main()
