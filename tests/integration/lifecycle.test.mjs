// The supervisor's life: run -> ask -> status -> stop, and a SIGTERM that
// leaves nothing behind (processes, cgroups, control socket, mounts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startAirlock, airlock, waitExit, descendants, startTime, cgroupsOf, auditRecords, PROMPT, REF_TEXT } from './lib.mjs';

test('run, ask, status, stop; the audit log verifies', async () => {
  const srv = await startAirlock();
  try {
    const ask = await airlock(['ask', '--url', srv.url, '--max-tokens', '20', PROMPT]);
    assert.equal(ask.code, 0, ask.stderr);
    assert.ok(ask.stdout.startsWith(PROMPT), ask.stdout);
    const story = ask.stdout.slice(PROMPT.length).replace(/\n$/, '');
    assert.ok(story.length > 0 && REF_TEXT.startsWith(story), JSON.stringify(story));

    const st = await srv.status();
    assert.equal(st.ok, true);
    assert.deepEqual(st.domains.map((d) => d.name), ['ai', 'proto']);
    for (const d of st.domains) {
      assert.equal(d.state, 'running', d.name);
      assert.equal(d.restarts, 0, d.name);
      assert.ok(d.pid > 1 && startTime(d.pid) !== null, `${d.name} pid ${d.pid} is not running`);
      assert.equal(d.attested.ok, true, d.name);
      // Read back from the kernel: every item as specified, among them these.
      for (const [n, v] of [['status.NoNewPrivs', '1'], ['status.Seccomp', '2'], ['status.CapEff', '0000000000000000'], ['ns.net', 'own']]) {
        const item = d.attested.items.find((i) => i.item === n);
        assert.deepEqual([item?.actual, item?.ok], [v, true], `${d.name} ${n}`);
      }
      assert.ok(d.attested.items.every((i) => i.ok), d.name);
    }
    const table = await airlock(['status', '--config', srv.conf]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^domain ai +running/m);
    assert.match(table.stdout, /^domain proto +running/m);

    const stop = await airlock(['stop', '--config', srv.conf]);
    assert.equal(stop.code, 0, stop.stderr);
    const ex = await waitExit(srv.child, 30000);
    assert.equal(ex.timedOut, false, 'airlock run did not stop');
    assert.equal(ex.code, 0, srv.stderr());

    const v = await airlock(['audit', 'verify', path.join(srv.state, 'audit.log')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /: ok, \d+ records, sealed/);
    const events = auditRecords(srv.state).map((r) => r.event);
    for (const e of ['start', 'protections-required', 'manifest-created', 'spawn', 'ready', 'stop-requested', 'stop'])
      assert.ok(events.includes(e), `no ${e} in ${events}`);
    assert.equal(events.filter((e) => e === 'spawn').length, 2);
    assert.equal(events.includes('restart'), false);
  } finally {
    await srv.stop();
  }
});

test('SIGTERM to the supervisor leaves nothing behind', async () => {
  const mountsBefore = new Set(fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n'));
  const srv = await startAirlock();
  const sup = srv.child.pid;
  try {
    const st = await srv.status();
    const procs = descendants(sup);
    // Both domains and what runs inside them are the supervisor's descendants.
    for (const d of st.domains) assert.ok(procs.some((p) => p.pid === d.pid), `${d.name} is not below the supervisor`);
    assert.ok(procs.length >= 4, JSON.stringify(procs));
    const cgroups = cgroupsOf(sup);
    assert.ok(cgroups.length >= 2, `no domain cgroups found: ${cgroups}`); // the check below can fail
    const sock = path.join(srv.state, 'control.sock');
    assert.ok(fs.statSync(sock).isSocket());

    srv.child.kill('SIGTERM');
    const ex = await waitExit(srv.child, 30000);
    assert.equal(ex.timedOut, false, 'airlock run did not end after SIGTERM');
    assert.equal(ex.code, 0, srv.stderr());

    const left = procs.filter((p) => startTime(p.pid) === p.start);
    assert.deepEqual(left, [], 'processes left behind');
    for (const e of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      let cmd = '';
      try { cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8'); } catch { continue; }
      assert.equal(cmd.includes(srv.conf), false, `process ${e} still runs with this configuration: ${cmd}`);
    }
    assert.deepEqual(cgroupsOf(sup), [], 'cgroups left behind');
    assert.equal(fs.existsSync(sock), false, 'control socket left behind');
    const newMounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
      .filter((l) => !mountsBefore.has(l) && (l.includes('airlock') || l.includes(srv.dir)));
    assert.deepEqual(newMounts, [], 'mounts left behind');

    const v = await airlock(['audit', 'verify', path.join(srv.state, 'audit.log')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const recs = auditRecords(srv.state);
    assert.ok(recs.some((r) => r.event === 'stop-requested' && r.fields.by === 'SIGTERM'));
    assert.equal(recs.filter((r) => r.event === 'exit' && r.fields.expected === true).length, 2);
  } finally {
    await srv.stop();
  }
});
