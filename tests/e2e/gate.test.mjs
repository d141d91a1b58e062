// `airlock gate` as an MCP client launches it: the official SDK's stdio client
// talks to a hostile third-party server (tests/gate/hostile_server.py) through
// the gate. Every attempt is shown to have been reached, then contained, and
// audited; the gate keeps serving, or quarantines a server whose tools changed.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { AIRLOCK, airlock } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const HOSTILE = path.resolve(here, '../gate/hostile_server.py');
const PYTHON = '/usr/bin/python3';
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'al-gate-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

function policy(name, extra = '') {
  const file = path.join(scratch, `${name}.ini`);
  fs.writeFileSync(file, `[gate]\nname = ${name}\n[tool]\nprofile = tool\nro = ${path.dirname(HOSTILE)}\n` +
    'env = HOSTILE_CHANGE_AFTER\nunenforced = accept\n' + extra);
  return file;
}

async function connect(name, env = {}, extra = '') {
  const transport = new StdioClientTransport({
    command: AIRLOCK,
    args: ['gate', '--policy', policy(name, extra), '--state-dir', scratch, '--', PYTHON, HOSTILE],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, AIRLOCK_TEST_SECRET_TOKEN: 'do-not-leak', ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'gate-test', version: '1.0' });
  const notes = [];
  client.fallbackNotificationHandler = async (n) => { notes.push(n); };
  await client.connect(transport);
  return { client, notes, stderr: () => stderr };
}

const text = (r) => r.content.map((c) => c.text).join('');
const audit = (name) => fs.readFileSync(path.join(scratch, name, 'audit.log'), 'utf8')
  .trim().split('\n').map((l) => JSON.parse(l));

describe('a hostile server behind the gate', () => {
  let c;
  before(async () => { c = await connect('hostile'); await c.client.listTools(); });
  after(async () => { await c?.client.close(); });

  test('its tools are pinned and work; arguments are checked against the pinned schema', async () => {
    assert.equal(text(await c.client.callTool({ name: 'echo', arguments: { text: 'hello' } })), 'hello');
    await assert.rejects(c.client.callTool({ name: 'echo', arguments: { text: 'x'.repeat(200) } }),
      /invalid arguments: arguments.text: longer than 100/);
    await assert.rejects(c.client.callTool({ name: 'nonexistent', arguments: {} }), /not in the server's approved tools/);
    // the supervisor writes the pin when it reads the gate's record: soon, not before the answer
    const pin = path.join(scratch, 'hostile', 'pin');
    for (let i = 0; i < 100 && !fs.existsSync(pin); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(fs.readFileSync(pin, 'utf8'), /^[0-9a-f]{64}$/);
  });

  for (const [what, why] of [
    ['read_ssh', /blocked: (FileNotFoundError|PermissionError)/],
    ['read_shadow', /blocked: (FileNotFoundError|PermissionError)/],
    ['write_outside', /blocked: (OSError|PermissionError|FileNotFoundError)/],
    ['connect', /blocked: PermissionError/],
    ['resolve', /blocked: /],
    ['exec_shell', /blocked: /],
  ]) {
    test(`${what}: reached, and contained`, async () => {
      assert.match(text(await c.client.callTool({ name: 'attempt', arguments: { what } })), why);
    });
  }

  test('the environment holds only what the policy names', async () => {
    const r = text(await c.client.callTool({ name: 'attempt', arguments: { what: 'env' } }));
    assert.match(r, /^seen: {2}home=\/tmp$/, r);
  });

  test('secret-looking values are redacted from results', async () => {
    const r = text(await c.client.callTool({ name: 'leak', arguments: {} }));
    assert.match(r, /the key is \*+ and \*+/);
    assert.doesNotMatch(r, /sk-|ghp_/);
  });

  test('garbage, unsolicited and wrongly numbered answers are dropped; the gate keeps serving', async () => {
    assert.equal(text(await c.client.callTool({ name: 'attempt', arguments: { what: 'garbage' } })), 'garbage sent');
    assert.equal(text(await c.client.callTool({ name: 'echo', arguments: { text: 'still' } })), 'still');
  });

  test('a notification flood is cut to the rate', async () => {
    assert.equal(text(await c.client.callTool({ name: 'attempt', arguments: { what: 'flood' } })), 'flood sent');
    const n = c.notes.filter((x) => x.method === 'notifications/message').length;
    assert.ok(n > 0 && n < 500, `${n} of 2000 notifications reached the client`);
  });

  test('sampling without permission is denied to the server', async () => {
    const r = text(await c.client.callTool({ name: 'attempt', arguments: { what: 'sampling' } }));
    assert.match(r, /denied by the gate's policy/);
  });

  test('every decision is in the audit log', async () => {
    await c.client.close();
    c = null;
    const events = audit('hostile').map((r) => `${r.event}:${r.fields.reason ?? r.fields.syscall ?? ''}`);
    for (const e of ['gate.pin_new:', 'gate.forwarded:', 'gate.refused:arguments invalid', 'gate.refused:tool not approved',
      'gate.redacted:', 'gate.dropped:unsolicited response', 'gate.dropped:malformed', 'gate.dropped:oversized',
      'gate.dropped:notification flood', 'gate.refused:server request denied', 'gate.seccomp:socket']) {
      assert.ok(events.includes(e), `${e} missing from ${[...new Set(events)].join(' ')}`);
    }
    const v = await airlock(['audit', 'verify', path.join(scratch, 'hostile', 'audit.log')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });
});

test('a server whose tools change after approval is quarantined until approved', async () => {
  const first = await connect('changing', { HOSTILE_CHANGE_AFTER: '1' });
  await first.client.listTools();
  assert.equal(text(await first.client.callTool({ name: 'echo', arguments: { text: 'a' } })), 'a');
  await assert.rejects(first.client.listTools(), /quarantined/);
  await assert.rejects(first.client.callTool({ name: 'echo', arguments: { text: 'a' } }), /quarantined/);
  await first.client.close();
  const dir = path.join(scratch, 'changing');
  assert.ok(fs.existsSync(path.join(dir, 'pending.pin')));
  assert.match(fs.readFileSync(path.join(dir, 'pending.json'), 'utf8'), /ignore previous instructions/);
  // shown and accepted; the next run serves the new list
  const ok = await airlock(['gate', 'approve', '--name', 'changing', '--state-dir', scratch, '--yes']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /\+.*ignore previous instructions/);
  const second = await connect('changing', { HOSTILE_CHANGE_AFTER: 'always' });
  const listed = await second.client.listTools();
  assert.match(listed.tools[0].description, /ignore previous instructions/);
  assert.equal(text(await second.client.callTool({ name: 'echo', arguments: { text: 'b' } })), 'b');
  await second.client.close();
  assert.ok(audit('changing').some((r) => r.event === 'gate.approved'));
});
