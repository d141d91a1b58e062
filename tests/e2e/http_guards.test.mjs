// Every HTTP guard of the protocol domain, driven with raw requests against
// the real system (`airlock run`, guards set in its configuration), then proof
// that it still serves a real SDK client real text after the abuse.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startAirlock, startBareProto, raw, rpc, JSON_HEADERS, modernMeta, MODERN, rawSession, tcpUntilClosed, tcpOpen, PROMPT, REF_TEXT, REF_TOKENS } from './lib.mjs';

let srv;
before(async () => { srv = await startAirlock({ proto: { body_limit: '64K' } }); });
after(async () => {
  const { code, signal } = await srv.stop();
  // A domain killed by its seccomp filter would have been restarted: none was.
  assert.equal(signal, null, `server died by ${signal}: ${srv.stderr()}`);
  assert.equal(code, 0);
});

// The JSON-RPC messages of a response: its JSON body, or its SSE events.
const messages = (r) => (r.json ? [r.json] : r.body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6))));
const post = (body, headers = {}) => raw(srv.port, { headers: { ...JSON_HEADERS, ...headers }, body });

const INIT = rpc(1, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } });
const refused = (r, o) => { assert.equal(r.status, 403, o); assert.equal(r.json.error.code, -32000, o); assert.match(r.json.error.message, /origin/, o); };

test('Origin: a listed origin passes; unlisted ones, loopback on another port included, get 403', async () => {
  // The configuration lists http://127.0.0.1:PORT and http://localhost:PORT.
  for (const o of [`http://localhost:${srv.port}`, `http://127.0.0.1:${srv.port}`]) {
    const r = await post(INIT, { origin: o });
    assert.equal(r.status, 200, o);
  }
  for (const o of ['http://evil.example', 'null', 'http://localhost.evil.example', 'http://127.0.0.1.nip.io:80',
    'http://localhost:1', `http://localhost:${srv.port + 1}`, 'http://127.0.0.1', 'http://localhost', 'http://[::1]',
    `https://localhost:${srv.port}`, `http://localhost:${srv.port}/`, `http://x@localhost:${srv.port}`]) {
    refused(await post(INIT, { origin: o }), o);
  }
  // No Origin: a client that is not a browser.
  assert.equal((await post(INIT)).status, 200);
});

test('Origin: an empty list refuses every browser origin and accepts requests without one', async () => {
  const s = await startAirlock({ proto: { allowed_origins: '' } });
  try {
    const p = (headers) => raw(s.port, { headers: { ...JSON_HEADERS, ...headers }, body: INIT });
    for (const o of [`http://127.0.0.1:${s.port}`, `http://localhost:${s.port}`, 'http://localhost:1', 'http://evil.example']) {
      refused(await p({ origin: o }), o);
    }
    assert.equal((await p({})).status, 200);
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('foreign Host is refused with 403 (DNS rebinding)', async () => {
  const r = await post(rpc(1, 'initialize', {}), { host: 'attacker.example' });
  assert.equal(r.status, 403);
  assert.match(r.json.error.message, /host/);
});

test('[proto] allowed_hosts: the listed names pass (any port, or the one given), others get 403; they are not origins', async () => {
  // Full lists (16 each, the most the configuration takes): every entry reaches the protocol domain.
  const hex = [...'0123456789abcdef'];
  const hosts = ['airlock.example', 'lb.example:8443', ...hex.slice(2).map((c) => `h${c}`)];
  const origins = hex.map((c) => `http://${c}`);
  const s = await startAirlock({ proto: { allowed_hosts: hosts.join(','), allowed_origins: origins.join(',') } });
  try {
    const p = (headers) => raw(s.port, { headers: { ...JSON_HEADERS, ...headers }, body: INIT });
    for (const h of [`airlock.example:${s.port}`, 'airlock.example', 'AIRLOCK.Example:80', 'lb.example:8443', 'hf', `127.0.0.1:${s.port}`, `localhost:${s.port}`]) {
      const r = await p({ host: h });
      assert.equal(r.status, 200, h);
      assert.equal(messages(r)[0].result.serverInfo.name, 'airlock', h);
    }
    for (const h of ['other.example', `other.example:${s.port}`, 'airlock.example.other.example', 'xairlock.example',
      'lb.example', 'lb.example:8444', 'lb.example:84430', 'airlock.examplex:1']) {
      const r = await p({ host: h });
      assert.equal(r.status, 403, h);
      assert.match(r.json.error.message, /host not allowed/, h);
    }
    // A listed host does not make its origin a browser origin.
    refused(await p({ host: 'airlock.example', origin: 'http://airlock.example' }), 'origin of a listed host');
    assert.equal((await p({ host: 'airlock.example', origin: 'http://f' })).status, 200, 'the 16th origin');
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('body over the limit: 413 by Content-Length and by chunked upload', async () => {
  const big = rpc(1, 'tools/list', { pad: 'x'.repeat(70 * 1024) });
  const r = await post(big);
  assert.equal(r.status, 413);
  const c = await post(big, { 'transfer-encoding': 'chunked' });
  assert.equal(c.status, 413);
});

test('wrong Content-Type is 415', async () => {
  const r = await post(rpc(1, 'ping'), { 'content-type': 'text/plain' });
  assert.equal(r.status, 415);
});

test('Accept without both JSON and SSE is 406 on POST, without SSE on GET', async () => {
  assert.equal((await post(rpc(1, 'ping'), { accept: 'application/json' })).status, 406);
  assert.equal((await post(rpc(1, 'ping'), { accept: 'text/html' })).status, 406);
  const sid = await rawSession(srv.port);
  const g = await raw(srv.port, { method: 'GET', headers: { accept: 'application/json', 'mcp-session-id': sid } });
  assert.equal(g.status, 406);
});

test('other paths 404, other methods 405', async () => {
  assert.equal((await raw(srv.port, { path: '/', headers: JSON_HEADERS, body: '{}' })).status, 404);
  assert.equal((await raw(srv.port, { method: 'PUT', headers: JSON_HEADERS, body: '{}' })).status, 405);
});

test('JSON-RPC errors: parse error, batch, bad id, unknown method', async () => {
  let r = await post('{"jsonrpc":"2.0",');
  assert.equal(r.status, 400); assert.equal(r.json.error.code, -32700);
  r = await post(`[${rpc(1, 'ping')}]`);
  assert.equal(r.status, 400); assert.equal(r.json.error.code, -32600);
  r = await post('{"jsonrpc":"2.0","id":1.5,"method":"ping"}');
  assert.equal(r.json.error.code, -32600); assert.equal(r.json.id, null);
  r = await post('[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]');
  assert.equal(r.json.error.code, -32600); assert.match(r.json.error.message, /nested/);
  r = await post(rpc(7, 'tools/nope', { _meta: modernMeta() }), { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/nope' });
  assert.equal(r.json.error.code, -32601); assert.equal(r.json.id, 7);
});

test('sessions: required, unknown is 404, DELETE ends one, GET stream opens', async () => {
  let r = await post(rpc(1, 'tools/list'));
  assert.equal(r.status, 400);
  r = await post(rpc(1, 'tools/list'), { 'mcp-session-id': '0'.repeat(32) });
  assert.equal(r.status, 404);
  const sid = await rawSession(srv.port);
  r = await post(rpc(2, 'tools/list'), { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
  assert.equal(r.status, 200); assert.equal(r.json.result.tools.length, 2);
  r = await post(rpc(2, 'tools/list'), { 'mcp-session-id': sid, 'mcp-protocol-version': '1999-01-01' });
  assert.equal(r.status, 400);
  // The GET stream: headers arrive, then the server holds it open.
  const s = await tcpOpen(srv.port, `GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${sid}\r\n\r\n`);
  const head = await new Promise((res) => { let d = ''; s.on('data', (x) => { d += x; if (d.includes('stream open')) res(d); }); });
  assert.match(head, /^HTTP\/1\.1 200/); assert.match(head, /text\/event-stream/i);
  // The end of the stream is the last chunk (the connection itself may stay open for reuse).
  const ended = new Promise((res) => { let d = ''; s.on('data', (x) => { d += x; if (/(^|\r\n)0\r\n\r\n$/.test(d)) res(true); }); s.on('close', () => res(false)); });
  r = await raw(srv.port, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
  assert.equal(r.status, 200);
  assert.equal(await ended, true); // deleting the session ends its stream
  s.destroy();
  r = await post(rpc(3, 'tools/list'), { 'mcp-session-id': sid });
  assert.equal(r.status, 404);
  r = await raw(srv.port, { method: 'GET', headers: { accept: 'text/event-stream' } });
  assert.equal(r.status, 405); // the stateless revision has no GET stream
});

test('2026-07-28 headers must match the body', async () => {
  const body = rpc(5, 'tools/call', { name: 'generate', arguments: { prompt: 'x' }, _meta: modernMeta() });
  const good = { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'generate' };
  let r = await post(body, good);
  assert.equal(r.status, 200);
  const res = messages(r).find((m) => m.id === 5).result;
  assert.equal(res.resultType, 'complete'); assert.equal(res.isError, false);
  for (const [k, v] of [['mcp-protocol-version', '2025-11-25'], ['mcp-method', 'tools/list'], ['mcp-name', 'model_info']]) {
    r = await post(body, { ...good, [k]: v });
    assert.equal(r.status, 400, k); assert.equal(r.json.error.code, -32020, k);
  }
  const { 'mcp-method': _, ...noMethod } = good;
  r = await post(body, noMethod);
  assert.equal(r.json.error.code, -32020);
  r = await post(rpc(6, 'server/discover', { _meta: modernMeta({ 'io.modelcontextprotocol/protocolVersion': '2099-01-01' }) }),
    { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'server/discover' });
  assert.equal(r.status, 400); assert.equal(r.json.error.code, -32022);
  assert.ok(r.json.error.data.supported.includes(MODERN));
  r = await post(rpc(6, 'server/discover', { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN } }),
    { 'mcp-protocol-version': MODERN, 'mcp-method': 'server/discover' });
  assert.equal(r.status, 400); assert.equal(r.json.error.code, -32602); // clientCapabilities missing
});

test('progress token and cancellation of unknown requests are accepted', async () => {
  const body = rpc(8, 'tools/call', { name: 'generate', arguments: { prompt: 'x', max_tokens: 3 }, _meta: modernMeta({ progressToken: 'p1' }) });
  const r = await post(body, { 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'generate' });
  // With a progress token the answer is an SSE stream: three progress events, then the result.
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /text\/event-stream/);
  const events = messages(r);
  assert.equal(events.filter((e) => e.method === 'notifications/progress').length, 3);
  const res = events.find((e) => e.id === 8).result;
  assert.equal(res.isError, false);
  assert.equal(res.content[0].text, events.filter((e) => e.method === 'notifications/progress')[2].params.message);
  const n = await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 8, _meta: modernMeta() } }));
  assert.equal(n.status, 202);
});

test('slow client (slowloris) is disconnected by the idle timeout', async () => {
  // The configuration does not expose the idle timeout (30 s in the domain):
  // the transport's own option, on the bare protocol worker.
  const bare = await startBareProto(['--idle-timeout', '2']);
  try {
    const got = await tcpUntilClosed(bare.port, 'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty');
    assert.equal(got.includes('200 OK'), false);
  } finally {
    const { code, signal } = await bare.stop();
    assert.equal(signal, null); assert.equal(code, 0);
  }
});

test('bearer token: 401 without or with a wrong token, 200 with it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-e2e-'));
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, 's3cret-token-0123456789\n', { mode: 0o600 });
  let s;
  try {
    // Mode 0600 in a 0700 directory, as a secret should be: the supervisor
    // opens it, the domain gets the open file.
    s = await startAirlock({ proto: { token_file: tokenFile } });
    const init = rpc(1, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } });
    let r = await raw(s.port, { headers: JSON_HEADERS, body: init });
    assert.equal(r.status, 401); assert.match(r.headers['www-authenticate'], /Bearer/);
    r = await raw(s.port, { headers: { ...JSON_HEADERS, authorization: 'Bearer s3cret-token-012345678' }, body: init });
    assert.equal(r.status, 401);
    r = await raw(s.port, { headers: { ...JSON_HEADERS, authorization: 'Bearer s3cret-token-0123456789' }, body: init });
    assert.equal(r.status, 200);
    const c = new Client({ name: 'auth', version: '1' });
    await c.connect(new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: { authorization: 'Bearer s3cret-token-0123456789' } } }));
    assert.equal((await c.listTools()).tools.length, 2);
    await c.close();
  } finally {
    fs.rmSync(dir, { recursive: true });
    if (s) assert.equal((await s.stop()).code, 0);
  }
});

test('concurrency limit: a request slot is taken by a complete body; overload is 503 with Retry-After', async () => {
  const s = await startAirlock({ proto: { concurrency: 1 } });
  try {
    // Headers sent, body still owed: this holds a connection, never the single slot.
    const holder = await tcpOpen(s.port, 'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 40\r\n\r\n{"jsonrpc"');
    await new Promise((res) => setTimeout(res, 100));
    let r = await raw(s.port, { headers: JSON_HEADERS, body: rpc(1, 'tools/list') });
    assert.equal(r.status, 400); // an ordinary session error: the slot was free
    // Many complete generations at once: one holds the slot, the others are told to retry.
    const gen = (i) => raw(s.port, {
      headers: { ...JSON_HEADERS, 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'generate' },
      body: rpc(i, 'tools/call', { name: 'generate', arguments: { prompt: PROMPT, max_tokens: 256, temperature: 0 }, _meta: modernMeta() }),
    });
    const all = await Promise.all(Array.from({ length: 12 }, (_, i) => gen(i + 10)));
    const busy = all.filter((x) => x.status === 503);
    assert.ok(busy.length >= 1, `statuses: ${all.map((x) => x.status)}`);
    assert.ok(all.some((x) => x.status === 200));
    for (const x of busy) {
      assert.equal(x.headers['retry-after'], '1');
      assert.equal(x.json.error.code, -32000);
    }
    holder.destroy();
    // The slot is given back when the server has finished the last answer,
    // which may come a moment after the client has read it: a short wait,
    // never more than a second.
    for (let i = 0; i < 20; i++) {
      r = await raw(s.port, { headers: JSON_HEADERS, body: rpc(1, 'tools/list') });
      if (r.status !== 503) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(r.status, 400);
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('after all the abuse a real client still works', async () => {
  const c = new Client({ name: 'final', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(srv.url)));
  const { tools } = await c.listTools();
  assert.equal(tools.length, 2);
  const r = await c.callTool({ name: 'generate', arguments: { prompt: PROMPT, max_tokens: REF_TOKENS, temperature: 0 } });
  assert.equal(r.isError, false);
  assert.equal(r.content[0].text, REF_TEXT);
  await c.close();
  const st = await srv.status();
  for (const d of st.domains) { assert.equal(d.state, 'running'); assert.equal(d.restarts, 0); }
});
