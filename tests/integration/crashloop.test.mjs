// A domain that keeps dying is a crash loop: the supervisor stops
// restarting it, says so in `airlock status` and in the audit log, and still
// stops cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startAirlock, airlock, waitExit, until, auditRecords } from './lib.mjs';

test('six kills of the AI domain in a row: crash loop, visible, restarts stop', async () => {
  const srv = await startAirlock();
  try {
    let last = 0, st;
    for (let kill = 0; ; kill++) {
      // The next incarnation running (or the crash loop declared).
      st = await until(async () => {
        const s = await srv.status();
        const ai = s.domains.find((d) => d.name === 'ai');
        return (ai.state === 'running' && ai.pid !== last) || /crash loop/.test(ai.state) ? s : null;
      }, 30000, `the AI domain after kill ${kill}`);
      const ai = st.domains.find((d) => d.name === 'ai');
      if (/crash loop/.test(ai.state)) {
        assert.equal(kill, 6, 'the crash loop came after the wrong number of kills');
        break;
      }
      assert.equal(ai.restarts, kill);
      assert.ok(kill < 6, 'no crash loop after six kills');
      last = ai.pid;
      process.kill(last, 'SIGKILL');
    }
    const ai = st.domains.find((d) => d.name === 'ai');
    assert.equal(ai.state, 'failed (crash loop)');
    assert.equal(ai.pid, 0);
    assert.equal(st.domains.find((d) => d.name === 'proto').pid, 0);
    const table = await airlock(['status', '--config', srv.conf]);
    assert.match(table.stdout, /^domain ai +failed \(crash loop\)/m);

    srv.child.kill('SIGTERM');
    const ex = await waitExit(srv.child, 30000);
    assert.equal(ex.timedOut, false);
    assert.equal(ex.code, 0, srv.stderr());
    const recs = auditRecords(srv.state);
    const loop = recs.filter((r) => r.event === 'crash-loop');
    assert.equal(loop.length, 1);
    assert.equal(loop[0].fields.domain, 'ai');
    assert.equal(recs.filter((r) => r.event === 'restart').length, 5);
    const v = await airlock(['audit', 'verify', path.join(srv.state, 'audit.log')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  } finally {
    await srv.stop();
  }
});
