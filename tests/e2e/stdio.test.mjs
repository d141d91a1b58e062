// `airlock run --stdio` with raw lines: stdout carries only JSON-RPC, one
// message per line, whatever the input; oversized lines are refused once;
// progress reaches the client line by line; the end of input ends the whole
// system cleanly (exit 0, nothing restarted).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { stdioCommand, waitExit, PROMPT, REF_TEXT } from './lib.mjs';

const scratch = [];
after(() => { for (const d of scratch) fs.rmSync(d, { recursive: true, force: true }); });

// Starts `airlock run --stdio`; `until(msgs)` decides when stdin is closed
// (default: at once, after the input).
function runStdio(input, proto = {}, until = null) {
  const { command, args, dir } = stdioCommand(proto);
  scratch.push(dir);
  return new Promise((resolve) => {
    const p = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    const msgs = () => out.split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l));
    p.stdout.on('data', (d) => {
      out += d;
      if (until && until(msgs())) { until = null; p.stdin.end(); }
    });
    p.stderr.on('data', (d) => { err += d; });
    waitExit(p, 60000).then(({ code, signal, timedOut }) => resolve({ code, signal, timedOut, out, err }));
    if (until) p.stdin.write(input); else p.stdin.end(input);
  });
}

const INIT = '{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}';
const INITIALIZED = '{"jsonrpc":"2.0","method":"notifications/initialized"}';

test('hostile lines get JSON-RPC errors on stdout and nothing else', async () => {
  const lines = [
    'not json',
    '{"jsonrpc":"2.0","id":1,"method":"tools/list"}', // before initialize
    INIT,
    INITIALIZED,
    '{"jsonrpc":"2.0","id":null,"method":"ping"}',
    '{"jsonrpc":"1.0","id":3,"method":"ping"}',
    '{"jsonrpc":"2.0","id":4,"method":"ping","params":[1]}',
    '{"jsonrpc":"2.0","id":5,"method":"ping","id":6}',
    `{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{"pad":"${'y'.repeat(5000)}"}}`,
    '{"jsonrpc":"2.0","id":8,"method":"ping"}',
  ];
  const r = await runStdio(lines.join('\n') + '\n', { body_limit: '4K' });
  assert.equal(r.timedOut, false, r.err);
  assert.equal(r.signal, null, r.err);
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
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).result.protocolVersion, '2025-11-25');
});

test('one progress line per token, carrying the text so far, then the reference text', async () => {
  const call = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call',
    params: { name: 'generate', arguments: { prompt: PROMPT, max_tokens: 40, temperature: 0 }, _meta: { progressToken: 'tok' } } });
  const r = await runStdio([INIT, INITIALIZED, call].join('\n') + '\n', {}, (msgs) => msgs.some((m) => m.id === 9));
  assert.equal(r.code, 0, r.err);
  const msgs = r.out.trim().split('\n').map((l) => JSON.parse(l));
  const result = msgs.find((m) => m.id === 9).result;
  assert.equal(result.isError, false);
  const text = result.content[0].text;
  assert.ok(REF_TEXT.startsWith(text) && text.length > 0, JSON.stringify(text));
  const prog = msgs.filter((m) => m.method === 'notifications/progress');
  assert.equal(prog.length, 40);
  prog.forEach((m, i) => {
    assert.equal(m.params.progressToken, 'tok');
    assert.equal(m.params.progress, i + 1);
    assert.ok(text.startsWith(m.params.message));
  });
  assert.equal(prog[39].params.message, text);
  // Every progress line comes before the response.
  assert.ok(msgs.indexOf(prog[39]) < msgs.findIndex((m) => m.id === 9));
});
