// The event-driven protocol domain under load and abuse: many SDK clients each
// holding a GET stream are all answered; overload is an HTTP answer (503,
// Retry-After, a JSON-RPC error), never a silent close; slow bodies time out
// without holding up anyone else; the session table evicts idle sessions;
// `airlock ask` deletes its session.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startAirlock, startBareProto, airlock, raw, rpc, rawSession, JSON_HEADERS, MODERN, modernMeta, sleep, tcpOpen } from './lib.mjs';
import { sdkLoad } from './load.mjs';

const STATELESS = { ...JSON_HEADERS, 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/list' };
const statelessList = (port, id = 1) => raw(port, { headers: STATELESS, body: rpc(id, 'tools/list', { _meta: modernMeta() }) });

describe('many SDK clients, each holding a GET stream', () => {
  let srv;
  // The supervisor derives the connection limit from the domain's pids here;
  // a high value lets the domain's own limit (fitted to its descriptors) apply.
  before(async () => { srv = await startAirlock({ extra: '[domain.proto]\npids = 4112\n' }); });
  after(async () => { if (srv) assert.equal((await srv.stop()).code, 0); });

  for (const [clients, calls] of [[64, 20], [300, 5]]) {
    test(`${clients} clients: every call answered, no connection closed without a response`, async () => {
      const st = await sdkLoad(srv.url, { clients, calls, seconds: 60 });
      assert.equal(st.connected, clients, JSON.stringify(st));
      assert.equal(st.noResponse, 0, JSON.stringify(st));
      assert.deepEqual(st.http, {}, JSON.stringify(st));
      assert.equal(st.ok, clients * calls, JSON.stringify(st));
    });
  }
});

test('connections over the limit are answered 503 with Retry-After, then the rest works again', async () => {
  const p = await startBareProto(['--max-connections', '8']);
  const held = [];
  try {
    // Connections that say nothing: each one counts.
    for (let i = 0; i < 8; i++) held.push(await tcpOpen(p.port, ''));
    await sleep(100);
    const r = await statelessList(p.port);
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], '1');
    assert.equal(r.json.error.code, -32000);
    for (const s of held) s.destroy();
    let ok;
    for (let i = 0; i < 50 && ok?.status !== 200; i++) { await sleep(20); ok = await statelessList(p.port); }
    assert.equal(ok.status, 200);
  } finally {
    for (const s of held) s.destroy();
    await p.stop();
  }
});

test('slow bodies time out and never hold up a normal client', async () => {
  const p = await startBareProto(['--max-inflight', '2', '--body-timeout', '2']);
  const slow = [];
  try {
    const closed = [];
    for (let i = 0; i < 4; i++) {
      const s = await tcpOpen(p.port, 'POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 200\r\n\r\n{');
      closed.push(new Promise((res) => s.on('close', () => res(performance.now()))));
      slow.push(s);
    }
    const t0 = performance.now();
    // One byte every 200 ms from each, for at most 6 s.
    const drip = setInterval(() => { for (const s of slow) if (!s.destroyed) s.write(' '); }, 200);
    try {
      for (let i = 0; i < 5; i++) {
        const a = performance.now();
        const r = await statelessList(p.port, i);
        assert.equal(r.status, 200);
        assert.ok(performance.now() - a < 1000);
        await sleep(100);
      }
      const ends = await Promise.race([Promise.all(closed), sleep(6000).then(() => null)]);
      assert.ok(ends, 'the slow bodies were not cut off');
      for (const e of ends) assert.ok(e - t0 < 5000);
    } finally {
      clearInterval(drip);
    }
  } finally {
    for (const s of slow) s.destroy();
    await p.stop();
  }
});

test('a full session table evicts the least recently used idle session', async () => {
  const p = await startBareProto(['--max-sessions', '8']);
  try {
    const ids = [];
    for (let i = 0; i < 8; i++) ids.push(await rawSession(p.port));
    const sid = await rawSession(p.port); // the table is full: the oldest idle one goes
    assert.ok(sid);
    const list = (id) => raw(p.port, { headers: { ...JSON_HEADERS, 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' }, body: rpc(2, 'tools/list') });
    assert.equal((await list(ids[0])).status, 404);
    assert.equal((await list(ids[1])).status, 200);
    assert.equal((await list(sid)).status, 200);
    // Stateless requests take no entry: many of them evict nobody.
    for (let i = 0; i < 50; i++) assert.equal((await statelessList(p.port, i)).status, 200);
    assert.equal((await list(ids[1])).status, 200);
  } finally {
    await p.stop();
  }
});

test('logging/setLevel is answered', async () => {
  const p = await startBareProto();
  try {
    const sid = await rawSession(p.port);
    const r = await raw(p.port, { headers: { ...JSON_HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' }, body: rpc(3, 'logging/setLevel', { level: 'info' }) });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.result, {});
  } finally {
    await p.stop();
  }
});

test('airlock ask deletes its session when done', async () => {
  const p = await startBareProto(['-v']);
  try {
    // No AI domain behind a bare airlock-proto: the tool fails, the session still goes.
    const r = await airlock(['ask', '--url', p.url, '--max-tokens', '4', 'hello']);
    assert.equal(r.code, 1);
    for (let i = 0; i < 50 && !/session was deleted/.test(p.stderr()); i++) await sleep(20);
    assert.match(p.stderr(), /a session was deleted by its client/);
  } finally {
    await p.stop();
  }
});
