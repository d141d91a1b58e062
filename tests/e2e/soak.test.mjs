// Ordinary traffic raises no incident: a real `airlock run` (shipped
// configuration) under mixed SDK traffic for AL_SOAK_SECONDS (60 here; `make
// soak` runs 600): generate in bursts at 1 to 64 clients with idle periods
// between them, tools/list all along, sessions opened and deleted, every
// client holding its GET stream (soak.mjs). Then: every call was answered,
// no domain restarted, the level never moved, the audit log holds no
// incident and verifies.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startAirlock, airlock } from './lib.mjs';
import { soak } from './soak.mjs';

const SECONDS = Number(process.env.AL_SOAK_SECONDS ?? 60);
const SEED = Number(process.env.AL_SOAK_SEED ?? 1);
// What ordinary traffic must never cause.
const FORBIDDEN = ['incident', 'restart', 'respawn', 'crash-loop', 'lockdown', 'level-change', 'seccomp-violation',
  'integrity-violation', 'report', 'attest-mismatch'];

// Stopped here too: a test that runs out of time is abandoned, not unwound,
// and nothing it started may outlive the run.
let srv, stopped = false;
after(async () => {
  if (srv && !stopped) await srv.stop().catch(() => {});
  if (srv) fs.rmSync(srv.dir, { recursive: true, force: true });
});

test(`${SECONDS} s of ordinary traffic: every call answered, no incident, no restart`, { timeout: (SECONDS + 120) * 1000 }, async () => {
  srv = await startAirlock();
  const before = await srv.status();
  const say = (s) => console.log(`# soak: ${s}`);
  const r = await soak(srv.url, { seconds: SECONDS, seed: SEED, say });
  say(`calls: ${JSON.stringify(r.calls)}; tool errors: ${JSON.stringify(r.toolErrors)}`);
  say(`sessions opened ${r.churn.opened.ok}, deleted ${r.churn.deleted.ok}; GET streams lost ${r.streamsLost}`);
  const now = await srv.status();
  const log = path.join(srv.state, 'audit.log');
  const records = () => fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const shown = (rs) => rs.map((x) => `${x.event} ${JSON.stringify(x.fields)}`);

  // First what the guard did: no incident, no restart, no level change.
  assert.deepEqual(shown(records().filter((x) => FORBIDDEN.includes(x.event) || (x.event === 'exit' && !x.fields.expected))), []);

  // Every call got an answer; overload is answered 503, nothing else fails at the HTTP level.
  assert.equal(r.unanswered, 0, JSON.stringify(r.calls));
  for (const key of Object.keys(r.calls)) {
    if (key.startsWith('http ')) assert.equal(key, 'http 503', JSON.stringify(r.calls));
    assert.notEqual(key, 'rpc error', JSON.stringify(r.calls));
  }
  // No call saw the AI domain go away.
  for (const text of Object.keys(r.toolErrors)) assert.doesNotMatch(text, /unavailable|restarted|not connected/, text);
  // Each burst generated, the listers listed, sessions came and went, no GET stream was dropped.
  for (const b of r.bursts) assert.ok(b.outcomes.ok > 0, `a burst of ${b.clients} clients: ${JSON.stringify(b.outcomes)}`);
  assert.ok(r.list.outcomes.ok > 0);
  assert.ok(r.churn.opened.ok > 0 && r.churn.deleted.ok === r.churn.opened.ok, JSON.stringify(r.churn));
  assert.equal(r.streamsLost, 0);

  // The same two domains all along, at the same level.
  assert.equal(now.level, before.level);
  for (const d of now.domains) {
    const was = before.domains.find((x) => x.name === d.name);
    assert.equal(d.state, 'running', d.name);
    assert.equal(d.restarts, 0, d.name);
    assert.equal(d.pid, was.pid, d.name);
  }

  const ex = await srv.stop({ keep: true });
  stopped = true;
  assert.equal(ex.code, 0, srv.stderr());
  const v = await airlock(['audit', 'verify', log]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  // The whole log, the stop included: every exit an expected one.
  assert.deepEqual(shown(records().filter((x) => FORBIDDEN.includes(x.event) || (x.event === 'exit' && !x.fields.expected))), []);
  assert.doesNotMatch(srv.stderr(), /incident/);
});
