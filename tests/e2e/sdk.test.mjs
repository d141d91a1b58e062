// The official TypeScript SDK clients (1.x and 2.x, both protocol generations)
// against the real system, `airlock run` (supervisor, sandboxed protocol
// domain, sandboxed AI domain running stories260K), over Streamable HTTP and
// over stdio (`airlock run --stdio` launched by the client as a command).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Client as Client1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as Http1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport as Stdio1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Client as Client2, StreamableHTTPClientTransport as Http2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as Stdio2 } from '@modelcontextprotocol/client/stdio';
import { startAirlock, stdioCommand, MODERN, PROMPT, REF_TEXT, REF_TOKENS } from './lib.mjs';

const info = { name: 'airlock-e2e', version: '1.0.0' };
const scratch = [];
function stdio(Transport) {
  const { command, args, dir } = stdioCommand();
  scratch.push(dir);
  return new Transport({ command, args, stderr: 'inherit' });
}

// Each variant: a name, a factory returning a connected client, the revision expected.
function variants(getUrl) {
  return [
    ['sdk1 http 2025-11-25', async () => { const c = new Client1(info); await c.connect(new Http1(new URL(getUrl()))); return c; }, '2025-11-25'],
    ['sdk1 stdio 2025-11-25', async () => { const c = new Client1(info); await c.connect(stdio(Stdio1)); return c; }, '2025-11-25'],
    ['sdk2 http legacy', async () => { const c = new Client2(info); await c.connect(new Http2(new URL(getUrl()))); return c; }, '2025-11-25'],
    ['sdk2 http 2026-07-28', async () => { const c = new Client2(info, { versionNegotiation: { mode: { pin: MODERN } } }); await c.connect(new Http2(new URL(getUrl()))); return c; }, MODERN],
    ['sdk2 http auto', async () => { const c = new Client2(info, { versionNegotiation: { mode: 'auto' } }); await c.connect(new Http2(new URL(getUrl()))); return c; }, MODERN],
    ['sdk2 stdio 2026-07-28', async () => { const c = new Client2(info, { versionNegotiation: { mode: { pin: MODERN } } }); await c.connect(stdio(Stdio2)); return c; }, MODERN],
    ['sdk2 stdio legacy', async () => { const c = new Client2(info); await c.connect(stdio(Stdio2)); return c; }, '2025-11-25'],
  ];
}

// tools/call generate with a progress token; returns the text and every progress notification.
async function generate(c, sdk1, args, opts = {}) {
  const progress = [];
  const r = await c.callTool({ name: 'generate', arguments: args }, ...(sdk1 ? [undefined] : []),
    { onprogress: (p) => progress.push(p), ...opts });
  return { r, text: r.content?.[0]?.text, progress };
}

// Progress carries the text so far: one notification per token, each
// extending the previous, the last one the whole text.
// Over stdio the SDKs run notification handlers a microtask late and forget
// the request's progress handler on its response, so notifications read in
// the same chunk as the response are lost on the client's side (stdio.test.mjs
// checks the raw lines): there, the ones that arrive must still be right.
function assertProgress(progress, text, tokens, lossy = false) {
  if (lossy) assert.ok(progress.length <= tokens);
  else assert.equal(progress.length, tokens);
  let prev = '';
  progress.forEach((p, i) => {
    if (!lossy) assert.equal(p.progress, i + 1);
    assert.ok(p.progress >= 1 && p.progress <= tokens);
    assert.ok(p.message.length > prev.length && p.message.startsWith(prev), `progress ${i + 1} does not extend the text`);
    prev = p.message;
  });
  if (!lossy || progress.length) assert.equal(prev, lossy ? text.slice(0, prev.length) : text);
}

let server;
// 32 clients at once: 64 requests served at once, and room in the protocol
// domain's task limit for a thread per connection.
before(async () => { server = await startAirlock({ proto: { concurrency: 64 }, extra: '[domain.proto]\npids = 128\n' }); });
after(async () => {
  const { code, signal } = await server.stop();
  // A seccomp kill of a domain would make the supervisor's stop unclean.
  assert.equal(signal, null, `airlock run died by ${signal}: ${server.stderr()}`);
  assert.equal(code, 0, server.stderr());
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
});

for (const [name, connect, version] of variants(() => server.url)) {
  const sdk1 = name.startsWith('sdk1');
  describe(name, () => {
    let c;
    before(async () => { c = await connect(); });
    after(async () => { await c?.close(); });

    test('handshake or discovery negotiated the expected revision', () => {
      const v = c.getNegotiatedProtocolVersion ? c.getNegotiatedProtocolVersion() : undefined;
      if (v !== undefined) assert.equal(v, version);
      assert.equal(c.getServerVersion().name, 'airlock');
      assert.ok(c.getServerCapabilities().tools);
    });

    test('tools/list publishes complete input schemas', async () => {
      const { tools } = await c.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), ['generate', 'model_info']);
      const gen = tools.find((t) => t.name === 'generate');
      assert.deepEqual(gen.inputSchema.required, ['prompt']);
      assert.equal(gen.inputSchema.additionalProperties, false);
      assert.equal(gen.inputSchema.properties.temperature.maximum, 2);
      assert.equal(gen.inputSchema.properties.top_p.maximum, 1);
      assert.equal(gen.inputSchema.properties.max_tokens.type, 'integer');
      assert.equal(gen.inputSchema.properties.seed.type, 'integer');
      assert.ok(gen.inputSchema.properties.prompt.maxLength > 0);
    });

    test('ping (a 2025 method only)', async () => {
      if (version === MODERN) await assert.rejects(c.ping(), /not supported by the negotiated protocol version/);
      else await c.ping();
    });

    test('generate at temperature 0 returns the reference story text', async () => {
      const { r, text, progress } = await generate(c, sdk1, { prompt: PROMPT, max_tokens: REF_TOKENS, temperature: 0 });
      assert.equal(r.isError, false, text);
      assert.equal(Buffer.compare(Buffer.from(text), Buffer.from(REF_TEXT)), 0,
        `text differs from llama2.c's:\n${JSON.stringify(text)}\n${JSON.stringify(REF_TEXT)}`);
      assertProgress(progress, text, REF_TOKENS, name.includes('stdio'));
    });

    test('fewer tokens asked: exactly that many, a prefix of the reference', async () => {
      const { r, text, progress } = await generate(c, sdk1, { prompt: PROMPT, max_tokens: 9, temperature: 0 });
      assert.equal(r.isError, false, text);
      assertProgress(progress, text, 9, name.includes('stdio'));
      assert.ok(REF_TEXT.startsWith(text) && text.length < REF_TEXT.length, JSON.stringify(text));
    });

    test('model_info describes stories260K, as the AI domain announced it', async () => {
      const r = await c.callTool({ name: 'model_info', arguments: {} });
      assert.equal(r.isError, false, JSON.stringify(r));
      const m = r.structuredContent ?? JSON.parse(r.content[0].text);
      // stories260K: dim 64, 5 layers, vocabulary 512, context 512, llama2.c fp32.
      assert.deepEqual({ dim: m.dim, n_layers: m.n_layers, vocab_size: m.vocab_size, context_length: m.context_length },
        { dim: 64, n_layers: 5, vocab_size: 512, context_length: 512 });
      assert.match(m.name, /^stories260K \(llama2\.c .*fp32\)$/);
    });

    test('unknown tool is a JSON-RPC invalid-params error', async () => {
      await assert.rejects(c.callTool({ name: 'no_such_tool', arguments: {} }), (e) => e.code === -32602);
    });

    test('wrong argument types are tool errors naming the field', async () => {
      const cases = [
        [{ prompt: 42 }, /arguments\.prompt: must be of type string/],
        [{}, /arguments\.prompt: required/],
        [{ prompt: 'x', max_tokens: 1.5 }, /arguments\.max_tokens: must be of type integer/],
        [{ prompt: 'x', temperature: 3 }, /arguments\.temperature: must be <= 2/],
        [{ prompt: 'x', top_p: -0.1 }, /arguments\.top_p: must be >= 0/],
        [{ prompt: 'x', seed: 'abc' }, /arguments\.seed: must be of type integer/],
        [{ prompt: 'x', extra: true }, /arguments\.extra: unknown property/],
        [{ prompt: 'x'.repeat(5000) }, /arguments\.prompt: longer than 4096 characters/],
      ];
      for (const [args, re] of cases) {
        const r = await c.callTool({ name: 'generate', arguments: args });
        assert.equal(r.isError, true, JSON.stringify(args));
        assert.match(r.content[0].text, re);
      }
    });

    test('a cancelled generation leaves the connection usable and the text exact', async () => {
      const ac = new AbortController();
      let first;
      const started = new Promise((res) => { first = res; });
      const p = generate(c, sdk1, { prompt: PROMPT, max_tokens: 256, temperature: 0 }, { signal: ac.signal, onprogress: first });
      await Promise.race([started, p]);
      ac.abort('test');
      await p.then(() => {}, () => {});
      const { r, text } = await generate(c, sdk1, { prompt: PROMPT, max_tokens: REF_TOKENS, temperature: 0 });
      assert.equal(r.isError, false, text);
      assert.equal(text, REF_TEXT);
    });
  });
}

test('32 concurrent clients of both generations all get the reference text', async () => {
  const clients = await Promise.all(Array.from({ length: 32 }, async (_, i) => {
    const c = i % 2 ? new Client1(info) : new Client2(info, { versionNegotiation: { mode: { pin: MODERN } } });
    await c.connect(i % 2 ? new Http1(new URL(server.url)) : new Http2(new URL(server.url)));
    return c;
  }));
  const results = await Promise.all(clients.map(async (c, i) => {
    const { tools } = await c.listTools();
    const g = await generate(c, i % 2 === 1, { prompt: PROMPT, max_tokens: REF_TOKENS, temperature: 0 });
    return [tools.length, g];
  }));
  for (const [n, { r, text, progress }] of results) {
    assert.equal(n, 2);
    assert.equal(r.isError, false, text);
    assert.equal(text, REF_TEXT);
    assertProgress(progress, text, REF_TOKENS);
  }
  await Promise.all(clients.map((c) => c.close()));
});

test('after all of it a final call still works', async () => {
  const c = new Client2(info);
  await c.connect(new Http2(new URL(server.url)));
  const { r, text } = await generate(c, false, { prompt: PROMPT, max_tokens: REF_TOKENS, temperature: 0 });
  assert.equal(r.isError, false, text);
  assert.equal(text, REF_TEXT);
  await c.close();
  const st = await server.status();
  for (const d of st.domains) { assert.equal(d.state, 'running'); assert.equal(d.restarts, 0); }
});
