// `airlock gate` as an MCP client launches it: the official SDK's stdio client
// talks to a hostile third-party server (tests/gate/hostile_server.py) through
// the gate. Every attempt is shown to have been reached, then contained, and
// audited; the gate keeps serving, or quarantines a server whose tools changed.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
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
      // read_ssh: the ~/.ssh of the user running the test, outside the tool domain
      const args = what === 'read_ssh' ? { what, path: path.join(os.homedir(), '.ssh') } : { what };
      assert.match(text(await c.client.callTool({ name: 'attempt', arguments: args })), why);
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

// The policy's per-tool rules, through the SDK client: a burst over a tool's
// rate, a tool that never answers in its time, a cancellation, path prefixes
// and a pattern. Each refusal is the client's clear error, reached the gate
// (its audit record names the tool, the rule, the argument, the arguments'
// hash), and never reached the server (its own log of what it received).
describe('per-tool rules: rate, timeout, cancellation, arguments', () => {
  const RULES = `
[tools.echo]
rate = 3/min
[tools.slow]
timeout = 1
[tools.read]
arg.path.prefix = /srv/data
arg.paths[].prefix = /srv/data
arg.paths[].prefix = /tmp/scratch
[tools.search]
arg.query.pattern = [a-z ]+
arg.query.max_length = 20
`;
  // what tools/call hashes: the arguments as canonical JSON (sorted keys, compact)
  const hash = (args) => crypto.createHash('sha256').update(JSON.stringify(args)).digest('hex');
  const received = async () => JSON.parse(text(await c.client.callTool({ name: 'received', arguments: {} })));
  const calls = (log, tool) => log.filter((m) => m.method === 'tools/call' && m.tool === tool);
  let c;
  before(async () => { c = await connect('limits', {}, RULES); await c.client.listTools(); });
  after(async () => { await c?.client.close(); });

  test('a burst over the rate: the calls past it are refused at the gate, never forwarded', async () => {
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map((i) =>
      c.client.callTool({ name: 'echo', arguments: { text: `burst ${i}` } })));
    // written in order, checked in order: the bucket holds 3 (burst = rate)
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
    for (const r of results.slice(3)) {
      assert.match(r.reason.message, /tool 'echo': over its rate limit of 3 calls a minute \(burst 3\) at the gate/);
      assert.equal(r.reason.code, -32000);
    }
    const texts = calls(await received(), 'echo').map((m) => m.arguments.text);
    assert.deepEqual(texts, ['burst 0', 'burst 1', 'burst 2']);
  });

  test('a tool silent past its timeout: the client is answered, the server told to cancel', async () => {
    await assert.rejects(c.client.callTool({ name: 'slow', arguments: { tag: 'timeout' } }), (e) => {
      assert.equal(e.code, -32001);
      assert.match(e.message, /tool 'slow': no answer within 1000 ms \(the gate's timeout for it\); the request was cancelled/);
      return true;
    });
    const log = await received();
    const call = calls(log, 'slow').find((m) => m.arguments.tag === 'timeout');
    assert.ok(call, 'the call reached the server');
    const cancel = log.find((m) => m.method === 'notifications/cancelled' && m.requestId === call.id);
    assert.ok(cancel, `no cancellation of ${call.id} reached the server`);
    assert.match(cancel.reason, /the gate's timeout of 1000 ms/);
  });

  test("the client's cancellation reaches the server; one of no request does not", async () => {
    const ac = new AbortController();
    const pending = c.client.callTool({ name: 'slow', arguments: { tag: 'cancel' } }, undefined, { signal: ac.signal });
    // the call is on its way before the cancellation: the same pipe, in order
    setTimeout(() => ac.abort('the user gave up'), 100);
    await assert.rejects(pending);
    await c.client.notification({ method: 'notifications/cancelled', params: { requestId: 424242, reason: 'none such' } });
    const log = await received();
    const call = calls(log, 'slow').find((m) => m.arguments.tag === 'cancel');
    assert.ok(call);
    assert.ok(log.some((m) => m.method === 'notifications/cancelled' && m.requestId === call.id));
    assert.ok(!log.some((m) => m.requestId === 424242), 'a cancellation of no request reached the server');
    // the server answered the cancelled call anyway; the gate kept serving
    assert.equal(text(await c.client.callTool({ name: 'search', arguments: { query: 'still here' } })), 'would search still here');
  });

  test('path arguments: under the prefixes pass, anything else is refused naming the argument and the rule', async () => {
    assert.match(text(await c.client.callTool({ name: 'read', arguments: { path: '/srv/data/notes.txt' } })), /notes\.txt/);
    assert.match(text(await c.client.callTool({ name: 'read', arguments: { paths: ['/srv/data/a', '/tmp/scratch//b'] } })),
      /scratch/);
    for (const [args, why] of [
      [{ path: '/srv/data/../../etc/passwd' }, /argument 'path': a '\.\.' component is not allowed \(the gate's prefix rule\)/],
      [{ path: '/etc/passwd' }, /argument 'path': not under an allowed path \(\/srv\/data\) \(the gate's prefix rule\)/],
      [{ path: '/srv/database' }, /argument 'path': not under an allowed path/],
      [{ path: 'notes.txt' }, /argument 'path': not an absolute path/],
      [{ paths: ['/srv/data/a', path.join(os.homedir(), '.ssh', 'id_ed25519')] }, /argument 'paths\[1\]': not under an allowed path \(\/srv\/data, \/tmp\/scratch\)/],
    ]) {
      await assert.rejects(c.client.callTool({ name: 'read', arguments: args }), (e) => {
        assert.equal(e.code, -32602);
        assert.match(e.message, /tool 'read': /);
        assert.match(e.message, why);
        return true;
      });
    }
    const seen = calls(await received(), 'read').map((m) => JSON.stringify(m.arguments));
    assert.deepEqual(seen, [JSON.stringify({ path: '/srv/data/notes.txt' }),
      JSON.stringify({ paths: ['/srv/data/a', '/tmp/scratch//b'] })]);
  });

  test('a pattern and a length: matched against the whole value', async () => {
    assert.equal(text(await c.client.callTool({ name: 'search', arguments: { query: 'hello world' } })), 'would search hello world');
    await assert.rejects(c.client.callTool({ name: 'search', arguments: { query: "x'; DROP TABLE notes" } }),
      /argument 'query': does not match the pattern \[a-z \]\+ \(the gate's pattern rule\)/);
    await assert.rejects(c.client.callTool({ name: 'search', arguments: { query: 'a'.repeat(21) } }),
      /argument 'query': longer than 20 characters \(the gate's max_length rule\)/);
    const seen = calls(await received(), 'search').map((m) => m.arguments.query);
    assert.ok(!seen.some((q) => q.includes('DROP') || q.length > 20), seen.join(' | '));
  });

  test('every refusal, timeout, cancellation and late answer is in the audit log', async () => {
    const stderr = c.stderr();
    await c.client.close();
    c = null;
    assert.match(stderr, /gate: limits: slow did not answer within its timeout 1000 ms: cancelled/);
    const records = audit('limits');
    const has = (event, fields) => records.some((r) => r.event === event &&
      Object.entries(fields).every(([k, v]) => r.fields[k] === v));
    const rate = records.filter((r) => r.event === 'gate.refused' && r.fields.reason === 'rate limit');
    assert.equal(rate.length, 2);
    for (const r of rate) assert.deepEqual([r.fields.tool, r.fields.rule], ['echo', 'rate 3/min burst 3']);
    assert.deepEqual(rate.map((r) => r.fields.hash).sort(), [hash({ text: 'burst 3' }), hash({ text: 'burst 4' })].sort());
    assert.ok(has('gate.timeout', { tool: 'slow', reason: 'timeout', rule: 'timeout 1000 ms' }));
    assert.equal(records.filter((r) => r.event === 'gate.dropped' && r.fields.reason === 'late response' &&
      r.fields.tool === 'slow').length, 2, 'both late answers of slow');
    assert.ok(has('gate.cancelled', { tool: 'slow', from: 'client' }));
    assert.ok(has('gate.dropped', { reason: 'unknown request id', from: 'client' }));
    for (const [tool, args, argument, rule] of [
      ['read', { path: '/srv/data/../../etc/passwd' }, 'path', 'prefix'],
      ['read', { path: '/etc/passwd' }, 'path', 'prefix'],
      ['read', { path: 'notes.txt' }, 'path', 'prefix'],
      ['read', { paths: ['/srv/data/a', path.join(os.homedir(), '.ssh', 'id_ed25519')] }, 'paths[1]', 'prefix'],
      ['search', { query: "x'; DROP TABLE notes" }, 'query', 'pattern'],
      ['search', { query: 'a'.repeat(21) }, 'query', 'max_length'],
    ]) {
      assert.ok(has('gate.refused', { reason: 'argument rule', tool, argument, rule, hash: hash(args) }),
        `no record of ${tool} ${JSON.stringify(args)} refused by ${rule}`);
    }
    const v = await airlock(['audit', 'verify', path.join(scratch, 'limits', 'audit.log')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });
});
