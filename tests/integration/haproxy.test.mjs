// Three `airlock run` instances behind haproxy with the shipped
// etc/haproxy/airlock.cfg (ports substituted, and one thread so that every
// request's log line is written: see haproxyConfig), driven by the
// official SDK client over the stateless 2026-07-28 revision, while whole
// instances (the supervisor and both its domains) are killed with SIGKILL
// and started again. Every request must succeed: haproxy's retries carry
// the requests a dying instance had, its health checks take the instance
// out and bring it back. Prints the failed requests and each instance's
// share of the load, phase by phase.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { freePort, sleep, until, startTime, cgroupsOf } from './lib.mjs';
import { loadClientSdk, sdkMissing } from './sdk.mjs';
import { Instance, which, haproxyConfig, serverNames, startHaproxy, statelessLoad, shares, parseRequestLine } from './fleet.mjs';

const sdk = await loadClientSdk();
const skip = !which('haproxy') ? 'haproxy is not installed (Debian package haproxy)' : !sdk ? sdkMissing : false;
if (skip) console.log(`skipped: ${skip}`);

const CLIENTS = 8;
const PHASE_MS = 2500;

test('three instances behind haproxy: whole instances SIGKILLed under load, no request fails', { skip, timeout: 180000 }, async () => {
  const names = serverNames();
  assert.deepEqual(names, ['a1', 'a2', 'a3']);
  const ports = [];
  while (ports.length < 4) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const front = ports.pop();
  const inst = names.map((n, i) => new Instance(n, ports[i]));
  let hap = null, load = null;
  const phases = [];
  try {
    await Promise.all(inst.map((x) => x.start()));
    hap = await startHaproxy(haproxyConfig(front, ports, { oneThread: true }), front);
    const url = `http://127.0.0.1:${front}/mcp`;
    // Each phase: what happened, and the requests haproxy logged from the
    // event that began it (a kill, a restart seen by haproxy) for PHASE_MS.
    let mark = 0;
    const phase = async (what) => {
      await sleep(PHASE_MS);
      phases.push({ what, from: mark, to: hap.lines.length, ...shares(hap.lines, mark) });
    };
    const upAgain = (name, from) => until(() => hap.lines.slice(from).some((l) => new RegExp(`Server airlock/${name} is UP`).test(l)), 30000, `haproxy sees ${name} up`);

    load = statelessLoad(sdk, url, { clients: CLIENTS });
    await phase('all three up');

    for (const victim of [inst[0], inst[1]]) {
      const procs = await victim.kill(() => { mark = hap.lines.length; });
      assert.ok(procs.length >= 4, `${victim.name}: the instance had ${procs.length} processes`);
      assert.deepEqual(procs.filter((p) => startTime(p.pid) === p.start), [], `${victim.name}: processes survived SIGKILL`);
      await phase(`${victim.name} SIGKILLed`);
      const from = hap.lines.length;
      await victim.start();
      await upAgain(victim.name, from);
      mark = hap.lines.length;
      await phase(`${victim.name} started again`);
    }
    // The one instance that was never restarted goes last, with no restart:
    // the two others carry everything.
    await inst[2].kill(() => { mark = hap.lines.length; });
    await phase(`${inst[2].name} SIGKILLed, not restarted`);
    const st = await load.finish();
    load = null;
    // the last log lines: haproxy writes each after its answer, so wait for them (up to 5 s)
    const posts = () => hap.lines.map(parseRequestLine).filter((r) => r && r.method === 'POST').length;
    for (let i = 0; i < 50 && posts() < st.posts; i++) await sleep(100);
    const total = shares(hap.lines);

    const pct = (by, n) => names.map((s) => `${s} ${(100 * (by[s] ?? 0) / Math.max(1, n)).toFixed(0)}%`).join(', ');
    console.log(`${CLIENTS} clients, ${st.ok + st.failed} requests in ${st.elapsed.toFixed(1)} s: ${st.ok} ok, ${st.failed} failed; ${st.posts} HTTP POSTs answered`);
    for (const p of phases) {
      const n = Object.values(p.by).reduce((a, b) => a + b, 0);
      console.log(`  ${p.what}: ${n} requests (${pct(p.by, n)}), ${p.retried} retried by haproxy`);
    }
    const n = Object.values(total.by).reduce((a, b) => a + b, 0);
    console.log(`share of the load: ${pct(total.by, n)}; ${total.retried} requests retried by haproxy`);

    assert.equal(st.failed, 0, `failed requests: ${JSON.stringify(st.errors)}`);
    assert.ok(st.ok > 50, `only ${st.ok} requests`);
    // haproxy logged every request the clients made, each answered 200.
    const logged = hap.lines.map(parseRequestLine).filter((r) => r && r.method === 'POST');
    assert.ok(logged.length >= st.posts, `haproxy logged ${logged.length} requests, the clients' transports saw ${st.posts} answered`);
    assert.deepEqual(logged.filter((r) => r.status !== 200), [], 'requests haproxy answered with an error');
    // Every instance that was up in a phase took a share of it; a dead one
    // none.
    const live = [
      ['a1', 'a2', 'a3'], ['a2', 'a3'], ['a1', 'a2', 'a3'], ['a1', 'a3'], ['a1', 'a2', 'a3'], ['a1', 'a2'],
    ];
    phases.forEach((p, i) => {
      for (const s of names) {
        if (live[i].includes(s)) assert.ok((p.by[s] ?? 0) > 0, `${p.what}: ${s} took no share: ${JSON.stringify(p.by)}`);
        // at most the requests it finished just before the kill, logged just after
        else assert.ok((p.by[s] ?? 0) <= CLIENTS, `${p.what}: ${s} answered ${p.by[s]} requests while dead`);
      }
    });
    // The health checks took each killed instance out.
    phases.forEach((p, i) => {
      for (const s of names.filter((x) => !live[i].includes(x))) {
        assert.ok(hap.lines.slice(p.from).some((l) => l.includes(`Server airlock/${s} is DOWN`)), `haproxy never marked ${s} down`);
      }
    });
    // The kills were under load: haproxy retried requests the dead instances had.
    assert.ok(total.retried > 0, 'no request was retried: the kills missed the load');
  } finally {
    if (load) await load.finish().catch(() => {});
    if (hap) await hap.stop();
    await Promise.all(inst.map((x) => x.stop()));
    const stale = inst.flatMap((x) => x.removeStaleCgroups());
    for (const x of inst) fs.rmSync(x.cfg.dir, { recursive: true, force: true });
    assert.deepEqual(stale, [], 'cgroups that could not be removed');
    for (const x of inst) for (const pid of x.killed) assert.deepEqual(cgroupsOf(pid), [], `cgroups of ${pid} left behind`);
  }
});
