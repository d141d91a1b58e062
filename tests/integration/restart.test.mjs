// kill -9 of each domain while requests are in flight: the requests end in
// errors (never hang), serving resumes on a fresh channel, status counts the
// restarts, and the audit log still verifies with every exit and restart in
// it. An AI domain's death restarts it alone: the protocol domain keeps its
// connections and takes the new channel. A protocol domain's death restarts
// both. The AI domain runs on a
// small share of one CPU (5 %, its cgroup CPU bandwidth), so that long generations are
// surely still running when the kill comes, whatever the machine's speed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startAirlock, airlock, waitExit, within, until, workerOf, generateStream, auditRecords, REF_TEXT } from './lib.mjs';

const LONG = 500;
let srv;
before(async () => {
  srv = await startAirlock({ proto: { concurrency: 16 }, extra: `[ai]\nmax_tokens = ${LONG}\n[domain.ai]\ncpu = 5%\n` });
});
after(async () => { await srv?.stop(); });

// The channel a domain's program holds (AI: fd 3, protocol: fd 4), as an inode.
const channelOf = (name, pid) => fs.statSync(`/proc/${workerOf(pid)}/fd/${name === 'ai' ? 3 : 4}`).ino;

const kills = [];
// Which process dies: the domain's pid as status reports it (its pid
// namespace's init: the whole domain goes) or the program inside it.
for (const [victim, which] of [['ai', 'domain'], ['proto', 'domain'], ['ai', 'program'], ['proto', 'program']]) {
  test(`kill -9 of the ${victim} domain's ${which} with requests in flight`, async () => {
    const before = await srv.status();
    const dom = Object.fromEntries(before.domains.map((d) => [d.name, d]));
    for (const d of before.domains) assert.equal(d.state, 'running');
    const chan = channelOf('ai', dom.ai.pid);
    assert.equal(channelOf('proto', dom.proto.pid), chan, 'the two domains do not share one channel');

    // Three long generations, all started in the protocol domain (their
    // response heads came) and one of them producing text, before the kill.
    // The AI domain serves one at a time: the other two wait in its queue.
    const started = [];
    let producing;
    const firstText = new Promise((res) => { producing = res; });
    const calls = [1, 2, 3].map((i) => {
      let head;
      started.push(new Promise((res) => { head = res; }));
      return generateStream(srv.port, 100 * kills.length + i, { max_tokens: LONG },
        (ev) => { if (ev.method === 'notifications/progress') producing(); }, head)
        .then((r) => ({ ok: true, ...r }), (e) => ({ ok: false, error: e.message }));
    });
    await within(Promise.all([...started, firstText]), 30000, 'generations in flight');

    const pid = which === 'domain' ? dom[victim].pid : workerOf(dom[victim].pid);
    process.kill(pid, 'SIGKILL');
    kills.push(victim);

    // Every request in flight ends, in an error.
    const outcomes = await within(Promise.all(calls), 30000, 'in-flight requests after the kill');
    for (const o of outcomes) {
      if (victim === 'ai') {
        // The protocol domain survived long enough to say what happened.
        assert.equal(o.ok, true, o.error);
        const res = o.events.find((e) => e.result)?.result;
        assert.equal(res?.isError, true, JSON.stringify(o.events.at(-1)));
        assert.match(res.content[0].text, /AI domain is unavailable/);
      } else if (o.ok) {
        // The connection's owner died: no complete result can have come.
        assert.equal(o.events.some((e) => e.result && !e.result.isError), false);
      } else {
        assert.match(o.error, /aborted|socket hang up|ECONNRESET/);
      }
    }

    // The dead domain restarted (the protocol domain too when it was the one),
    // on a fresh channel; status counts the restart.
    const after = await until(async () => {
      const st = await srv.status();
      const renewed = (d) => d.pid !== dom[d.name].pid;
      return st.domains.every((d) => d.state === 'running') &&
        (victim === 'ai' ? renewed(st.domains[0]) && !renewed(st.domains[1]) : st.domains.every(renewed)) ? st : null;
    }, 30000, victim === 'ai' ? 'the AI domain running again, the protocol domain still there' : 'both domains running again');
    const now = Object.fromEntries(after.domains.map((d) => [d.name, d]));
    assert.equal(now[victim].restarts, dom[victim].restarts + 1);
    const other = victim === 'ai' ? 'proto' : 'ai';
    assert.equal(now[other].restarts, dom[other].restarts);
    const fresh = channelOf('ai', now.ai.pid);
    assert.notEqual(fresh, chan, 'the channel was reused');
    assert.equal(channelOf('proto', now.proto.pid), fresh);

    // Serving resumes: exact text again.
    const r = await within(generateStream(srv.port, 999, { max_tokens: 7 }), 30000, 'a request after the restart');
    const res = r.events.find((e) => e.id === 999).result;
    assert.equal(res.isError, false, res.content[0].text);
    assert.ok(res.content[0].text.length > 0 && REF_TEXT.startsWith(res.content[0].text), res.content[0].text);
    assert.equal(r.events.filter((e) => e.method === 'notifications/progress').length, 7);
  });
}

test('the audit log holds every exit and restart and still verifies', async () => {
  assert.equal(kills.length, 4, 'the kill tests did not all run');
  srv.child.kill('SIGTERM');
  const ex = await waitExit(srv.child, 30000);
  assert.equal(ex.timedOut, false);
  assert.equal(ex.code, 0, srv.stderr());
  const v = await airlock(['audit', 'verify', path.join(srv.state, 'audit.log')]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const recs = auditRecords(srv.state);
  const crashes = recs.filter((r) => r.event === 'exit' && r.fields.expected === false);
  assert.deepEqual(crashes.map((r) => r.fields.domain), kills);
  // Killed by SIGKILL: the init itself by the signal, the program inside seen by its init as 128+9.
  for (const c of crashes) assert.ok(c.fields.signal === 9 || c.fields.exit_code === 137, JSON.stringify(c.fields));
  const restarts = recs.filter((r) => r.event === 'restart');
  assert.equal(restarts.length, 4);
  for (const r of restarts) assert.equal(r.fields.result, 'ok');
  assert.deepEqual(restarts.map((r) => r.fields.domains), kills.map((k) => (k === 'ai' ? 'ai' : 'both')));
  // Two at the start, one per AI death, two per protocol domain death.
  assert.equal(recs.filter((r) => r.event === 'spawn').length, 2 + kills.reduce((n, k) => n + (k === 'ai' ? 1 : 2), 0));
  assert.equal(recs.some((r) => r.event === 'crash-loop'), false);
});
