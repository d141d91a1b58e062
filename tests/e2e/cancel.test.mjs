// Cancellation reaches the AI domain. The AI domain is slowed to a sliver of
// one CPU (its cgroup CPU bandwidth) so that a long generation is still
// running when the cancellation arrives, whatever the machine's speed; the
// proof is in the stream itself: the generation ends early, with fewer tokens
// than asked, which only the AI domain's own "done, cancelled" can cause.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Client } from '@modelcontextprotocol/client';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startAirlock, rawSession, raw, rpc, JSON_HEADERS, PROMPT, REF_TEXT } from './lib.mjs';

const LONG = 500; // tokens asked: prompt and all fit in stories260K's 512 positions

let srv;
before(async () => { srv = await startAirlock({ extra: `[ai]\nmax_tokens = ${LONG}\n[domain.ai]\ncpu = 1%\n` }); });
after(async () => {
  const { code, signal } = await srv.stop();
  assert.equal(signal, null, srv.stderr());
  assert.equal(code, 0, srv.stderr());
});

const consistent = (msg) => REF_TEXT.startsWith(msg) || msg.startsWith(REF_TEXT);

// POSTs a generate call with a progress token and returns its SSE events as
// they come (onEvent), resolving with all of them when the stream ends.
function streamCall(port, sid, id, onEvent) {
  return new Promise((resolve, reject) => {
    const body = rpc(id, 'tools/call', { name: 'generate', arguments: { prompt: PROMPT, max_tokens: LONG, temperature: 0 }, _meta: { progressToken: `p${id}` } });
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/mcp', agent: false,
      headers: { ...JSON_HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } }, (res) => {
      let buf = '';
      const events = [];
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (!data) continue;
          const ev = JSON.parse(data);
          events.push(ev);
          onEvent(ev);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode, events }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('notifications/cancelled stops the generation in the AI domain', async () => {
  const sid = await rawSession(srv.port);
  let cancelled = false;
  const { status, events } = await streamCall(srv.port, sid, 11, (ev) => {
    if (ev.method === 'notifications/progress' && !cancelled) {
      cancelled = true;
      raw(srv.port, { headers: { ...JSON_HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 11, reason: 'test' } }) })
        .then((r) => assert.equal(r.status, 202));
    }
  });
  assert.equal(status, 200);
  assert.ok(cancelled, 'no progress arrived');
  const progress = events.filter((e) => e.method === 'notifications/progress');
  // The stream ended, and early: the AI domain stopped generating.
  if (process.env.AL_E2E_DEBUG) console.log("tokens before the cancel took effect:", progress.length);
  assert.ok(progress.length >= 1 && progress.length < LONG, `${progress.length} tokens of ${LONG}`);
  for (const p of progress) assert.ok(consistent(p.params.message), p.params.message);
  // A cancelled request gets no response (MCP cancellation).
  assert.equal(events.some((e) => e.id === 11), false, JSON.stringify(events.at(-1)));
});

test('an SDK client aborting a long generation: the next call works and is exact', async () => {
  const c = new Client({ name: 'cancel', version: '1' });
  await c.connect(new StreamableHTTPClientTransport(new URL(srv.url)));
  const ac = new AbortController();
  let first;
  const started = new Promise((res) => { first = res; });
  const p = c.callTool({ name: 'generate', arguments: { prompt: PROMPT, max_tokens: LONG, temperature: 0 } },
    { signal: ac.signal, onprogress: first });
  await Promise.race([started, p]);
  ac.abort('test');
  await assert.rejects(p);
  const progress = [];
  const r = await c.callTool({ name: 'generate', arguments: { prompt: PROMPT, max_tokens: 6, temperature: 0 } },
    { onprogress: (x) => progress.push(x) });
  assert.equal(r.isError, false, r.content[0].text);
  assert.equal(progress.length, 6);
  assert.equal(progress[5].message, r.content[0].text);
  assert.ok(REF_TEXT.startsWith(r.content[0].text));
  await c.close();
  const st = await srv.status();
  for (const d of st.domains) { assert.equal(d.state, 'running'); assert.equal(d.restarts, 0); }
});
