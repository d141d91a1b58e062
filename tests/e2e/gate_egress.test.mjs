// `airlock gate` with and without an [egress] allowlist, and in learn mode:
// the official SDK's stdio client drives the hostile server
// (tests/gate/hostile_server.py) through the gate, and the server tries to
// reach two TCP servers of this test on 127.0.0.1 (the "allowed host" and
// another one): through the HTTPS_PROXY it is given, and directly, by
// address or by name, as a program that ignores proxy variables would. Loopback only: nothing here
// depends on the internet.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { AIRLOCK, airlock } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const HOSTILE = path.resolve(here, '../gate/hostile_server.py');
const PYTHON = '/usr/bin/python3';
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'al-gate-egress-'));

// A TCP server on 127.0.0.1 that answers "pong <what it got>" and counts
// the connections that reached it.
function pongServer() {
  return new Promise((resolve) => {
    const s = net.createServer((c) => {
      s.hits += 1;
      c.once('data', (d) => c.end(`pong ${d.toString().trim()}`));
      c.on('error', () => {});
    });
    s.hits = 0;
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

let allowed, other, A, O;
before(async () => {
  allowed = await pongServer();
  other = await pongServer();
  A = allowed.address().port;
  O = other.address().port;
});
after(() => {
  allowed?.close();
  other?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

function policy(name, extra) {
  const file = path.join(scratch, `${name}.ini`);
  fs.writeFileSync(file, `[gate]\nname = ${name}\n[tool]\nprofile = tool\nro = ${path.dirname(HOSTILE)}\n` +
    `unenforced = accept\n${extra}`);
  return file;
}

async function connect(name, extra, args = []) {
  const file = policy(name, extra);
  const transport = new StdioClientTransport({
    command: AIRLOCK,
    args: ['gate', ...args, '--policy', file, '--state-dir', scratch, '--', PYTHON, HOSTILE],
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'gate-egress-test', version: '1.0' });
  await client.connect(transport);
  await client.listTools();
  return { client, file, stderr: () => stderr };
}

const text = (r) => r.content.map((c) => c.text).join('');
const attempt = async (c, what, host, port) => text(await c.client.callTool({ name: 'attempt', arguments: { what, host, port } }));
const audit = (name) => fs.readFileSync(path.join(scratch, name, 'audit.log'), 'utf8')
  .trim().split('\n').map((l) => JSON.parse(l));
const egressRecords = (name) => audit(name).filter((r) => r.event === 'egress.connection').map((r) => r.fields);

describe('with an [egress] allowlist', () => {
  let c;
  before(async () => { c = await connect('egress', `[egress]\nallow = 127.0.0.1:${A}, localhost:${A}\n`); });
  after(async () => { await c?.client.close(); });

  test('an allowed host:port is reached through the proxy (CONNECT) and directly', async () => {
    const before = allowed.hits;
    assert.equal(await attempt(c, 'egress_proxy', '127.0.0.1', A), 'not blocked: proxy 200, got pong ping');
    assert.equal(await attempt(c, 'egress_direct', '127.0.0.1', A), 'not blocked: got pong ping');
    // a name: resolved by the egress domain, never in the tool domain, whose
    // own lookup gets an address that stands for the name
    assert.equal(await attempt(c, 'egress_proxy', 'localhost', A), 'not blocked: proxy 200, got pong ping');
    assert.equal(await attempt(c, 'egress_direct', 'localhost', A), 'not blocked: got pong ping');
    assert.equal(allowed.hits - before, 4);
  });

  test('any other host:port is refused, and the other server sees nothing', async () => {
    assert.equal(await attempt(c, 'egress_proxy', '127.0.0.1', O), 'not blocked: proxy said HTTP/1.1 403 Forbidden');
    assert.equal(await attempt(c, 'egress_proxy', 'example.com', A), 'not blocked: proxy said HTTP/1.1 403 Forbidden');
    // the allowed port at another address: reaches the egress domain, which resets it
    assert.match(await attempt(c, 'egress_direct', '127.0.0.2', A), /blocked: ConnectionResetError|not blocked: closed/);
    // a port no rule names: Landlock refuses the connect (nothing listens there either)
    assert.match(await attempt(c, 'egress_direct', '127.0.0.1', O), /blocked: (PermissionError|ConnectionRefusedError)/);
    // a name no rule names does not resolve
    assert.match(await attempt(c, 'resolve'), /^blocked: gaierror/);
    assert.match(await attempt(c, 'egress_direct', 'example.com', A), /^blocked: gaierror/);
    assert.equal(other.hits, 0);
  });

  test('every connection is audited: host, port, verdict, bytes', async () => {
    await c.client.close();
    c = null;
    const recs = egressRecords('egress');
    const ok = recs.filter((r) => r.verdict === 'allowed' && r.port === A);
    assert.equal(ok.length, 4, JSON.stringify(recs));
    for (const r of ok) {
      assert.equal(r.reason, '');
      assert.equal(r.address, '127.0.0.1');
      assert.equal(r.bytes_out, 'ping\n'.length);
      assert.equal(r.bytes_in, 'pong ping'.length);
    }
    assert.deepEqual(ok.map((r) => `${r.host} ${r.via}`).sort(),
      ['127.0.0.1 direct', '127.0.0.1 proxy', 'localhost direct', 'localhost proxy']);
    const refused = recs.filter((r) => r.verdict === 'refused').map((r) => `${r.host}:${r.port} ${r.via} ${r.reason}`).sort();
    assert.deepEqual(refused, [`127.0.0.1:${O} proxy not in the allowlist`, `127.0.0.2:${A} direct not in the allowlist`,
      `example.com:${A} proxy not in the allowlist`, 'example.com:53 dns not in the allowlist',
      'registry.npmjs.org:53 dns not in the allowlist'].sort());
    const v = await airlock(['audit', 'verify', path.join(scratch, 'egress', 'audit.log')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  });
});

test('without [egress], no network at all', async () => {
  const before = allowed.hits;
  const c = await connect('noegress', '');
  try {
    assert.equal(await attempt(c, 'egress_proxy', '127.0.0.1', A), 'not blocked: no proxy');
    assert.match(await attempt(c, 'egress_direct', '127.0.0.1', A), /^blocked: PermissionError/);
    assert.match(await attempt(c, 'resolve'), /^blocked: /);
  } finally {
    await c.client.close();
  }
  assert.equal(allowed.hits, before);
  const events = audit('noegress');
  assert.ok(events.some((r) => r.event === 'gate.seccomp' && r.fields.syscall === 'socket'));
  assert.ok(!events.some((r) => r.event.startsWith('egress.')));
});

test('learn mode prints the policy keys the session was refused, and applies nothing', async () => {
  const extra = `[tools]\nallow = echo, attempt\n[egress]\nallow = 127.0.0.1:${A}\n`;
  const c = await connect('learning', extra, ['--learn']);
  try {
    assert.equal(await attempt(c, 'egress_proxy', '127.0.0.1', O), 'not blocked: proxy said HTTP/1.1 403 Forbidden');
    assert.match(await attempt(c, 'exec_shell'), /^blocked: /);
    assert.match(await attempt(c, 'sampling'), /denied by the gate's policy/);
    await assert.rejects(c.client.callTool({ name: 'leak', arguments: {} }), /not allowed by the gate's policy/);
  } finally {
    await c.client.close();
  }
  const policyBefore = fs.readFileSync(c.file, 'utf8');
  // the proposal comes when the session ends
  for (let i = 0; i < 50 && !/\+allow = 127/.test(c.stderr()); i++) await new Promise((r) => setTimeout(r, 100));
  const out = c.stderr();
  assert.match(out, /airlock gate: learn: learning: \d+ denials/);
  for (const line of ['+[tools]', '+allow = leak', '+[tool]', '+exec = true', '+[server_requests]', '+sampling = pass',
    '+[egress]', `+allow = 127.0.0.1:${O}`]) {
    assert.ok(out.includes(`\n${line}\n`), `${line} missing from:\n${out}`);
  }
  assert.match(out, new RegExp(`^--- ${c.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  // never applied; saved; and the policy it proposes is one airlock reads
  assert.equal(fs.readFileSync(c.file, 'utf8'), policyBefore);
  const diff = fs.readFileSync(path.join(scratch, 'learning', 'learned.diff'), 'utf8');
  const added = diff.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++')).map((l) => l.slice(1));
  const proposed = path.join(scratch, 'proposed.ini');
  fs.writeFileSync(proposed, `${policyBefore}${added.join('\n')}\n`);
  const check = await airlock(['gate', 'approve', '--policy', proposed, '--state-dir', path.join(scratch, 'check')]);
  assert.equal(check.code, 0, check.stderr);
});
