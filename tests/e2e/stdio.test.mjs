// The stdio transport with raw lines: stdout carries only JSON-RPC, one
// message per line, whatever the input; oversized lines are refused once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PROTO } from './lib.mjs';

function runStdio(input, args = []) {
  return new Promise((resolve) => {
    const p = spawn(PROTO, ['--stdio', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code, signal) => resolve({ code, signal, out, err }));
    p.stdin.end(input);
  });
}

test('hostile lines get JSON-RPC errors on stdout and nothing else', async () => {
  const lines = [
    'not json',
    '{"jsonrpc":"2.0","id":1,"method":"tools/list"}', // before initialize
    '{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}',
    '{"jsonrpc":"2.0","method":"notifications/initialized"}',
    '{"jsonrpc":"2.0","id":null,"method":"ping"}',
    '{"jsonrpc":"1.0","id":3,"method":"ping"}',
    '{"jsonrpc":"2.0","id":4,"method":"ping","params":[1]}',
    '{"jsonrpc":"2.0","id":5,"method":"ping","id":6}',
    `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"pad":"${'y'.repeat(5000)}"}}`,
    '{"jsonrpc":"2.0","id":8,"method":"ping"}',
  ];
  const r = await runStdio(lines.join('\n') + '\n', ['--body-limit', '4K']);
  assert.equal(r.code, 0, r.err);
  const msgs = r.out.trim().split('\n').map((l) => JSON.parse(l));
  const byId = (id) => msgs.find((m) => m.id === id);
  assert.equal(msgs[0].error.code, -32700);
  assert.equal(byId(1).error.code, -32600); // not initialized
  assert.equal(byId(2).result.protocolVersion, '2025-03-26');
  assert.equal(msgs[3].error.code, -32600); assert.equal(msgs[3].id, null); // null id
  assert.equal(byId(3).error.code, -32600); // jsonrpc 1.0
  assert.equal(byId(4).error.code, -32600); // params not an object
  assert.equal(msgs[6].error.code, -32700); // duplicate key
  assert.equal(msgs.length, 9, JSON.stringify(msgs));
  assert.ok(msgs.some((m) => m.error?.message === 'message too large'));
  assert.deepEqual(byId(8).result, {});
});

test('unknown protocol version in initialize is answered with the latest', async () => {
  const r = await runStdio('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-01-01","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}\n');
  assert.equal(JSON.parse(r.out).result.protocolVersion, '2025-11-25');
});
