// The protocol domain's own executable replaced on disk while running: an
// integrity incident, and a lockdown in which the protocol domain stays
// stopped too. Nobody serves the port then, so it refuses connections at
// once instead of holding them in its backlog until the clients give up; once
// the file is restored, `airlock unlock` brings both domains back, on the same
// port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAirlock, airlock, raw, rpc, until, within, JSON_HEADERS, MODERN, modernMeta, PROTO } from './lib.mjs';

const list = (port) => raw(port, {
  headers: { ...JSON_HEADERS, 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' },
  body: rpc(1, 'tools/list', { _meta: modernMeta() }),
});

test('locked down with the protocol domain stopped, the port refuses at once; unlocked, it serves again', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-lockdown-'));
  const exe = path.join(dir, 'airlock-proto');
  fs.copyFileSync(PROTO, exe);
  fs.chmodSync(exe, 0o755);
  const srv = await startAirlock({ extra: `[domain.proto]\ncommand = ${exe}\n` });
  try {
    assert.equal((await list(srv.port)).status, 200);
    // Another file in its place (a rename, as an installer does).
    const orig = fs.readFileSync(exe);
    fs.writeFileSync(`${exe}.new`, Buffer.concat([orig, Buffer.from('x')]), { mode: 0o755 });
    fs.renameSync(`${exe}.new`, exe);
    await until(async () => {
      const st = await srv.status();
      return st.domains.every((d) => d.state.startsWith('locked down'));
    }, 60000, 'both domains locked down');

    // Refused, not left waiting: an error at once, never a hang.
    const e = await within(list(srv.port).then(() => null, (x) => x), 5000, 'a request while locked down');
    assert.ok(e, 'a request was answered while nothing serves');
    assert.equal(e.code, 'ECONNREFUSED', String(e));

    fs.writeFileSync(`${exe}.new`, orig, { mode: 0o755 });
    fs.renameSync(`${exe}.new`, exe);
    const u = await airlock(['unlock', '--config', srv.conf]);
    assert.equal(u.code, 0, u.stdout + u.stderr);
    await until(async () => (await srv.status()).domains.every((d) => d.state === 'running'), 30000, 'both domains running');
    const r = await until(() => list(srv.port).catch(() => null), 10000, 'the port serving again');
    assert.equal(r.status, 200);
  } finally {
    await srv.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
