// The official TypeScript SDK clients (1.x and 2.x, both protocol generations)
// against the real airlock-proto over Streamable HTTP and stdio.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client as Client1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as Http1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { StdioClientTransport as Stdio1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Client as Client2, StreamableHTTPClientTransport as Http2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as Stdio2 } from '@modelcontextprotocol/client/stdio';
import { startServer, PROTO, MODERN } from './lib.mjs';

const info = { name: 'airlock-e2e', version: '1.0.0' };

// Each variant: a name and a factory returning a connected client.
function variants(getUrl) {
  return [
    ['sdk1 http 2025-11-25', async () => { const c = new Client1(info); await c.connect(new Http1(new URL(getUrl()))); return c; }, '2025-11-25'],
    ['sdk1 stdio 2025-11-25', async () => { const c = new Client1(info); await c.connect(new Stdio1({ command: PROTO, args: ['--stdio'], stderr: 'pipe' })); return c; }, '2025-11-25'],
    ['sdk2 http legacy', async () => { const c = new Client2(info); await c.connect(new Http2(new URL(getUrl()))); return c; }, '2025-11-25'],
    ['sdk2 http 2026-07-28', async () => { const c = new Client2(info, { versionNegotiation: { mode: { pin: MODERN } } }); await c.connect(new Http2(new URL(getUrl()))); return c; }, MODERN],
    ['sdk2 http auto', async () => { const c = new Client2(info, { versionNegotiation: { mode: 'auto' } }); await c.connect(new Http2(new URL(getUrl()))); return c; }, MODERN],
    ['sdk2 stdio 2026-07-28', async () => { const c = new Client2(info, { versionNegotiation: { mode: { pin: MODERN } } }); await c.connect(new Stdio2({ command: PROTO, args: ['--stdio'], stderr: 'pipe' })); return c; }, MODERN],
    ['sdk2 stdio legacy', async () => { const c = new Client2(info); await c.connect(new Stdio2({ command: PROTO, args: ['--stdio'], stderr: 'pipe' })); return c; }, '2025-11-25'],
  ];
}

let server;
before(async () => { server = await startServer(); });
after(async () => {
  const { code, signal } = await server.stop();
  // A seccomp kill would show up here as SIGSYS.
  assert.equal(signal, null, `server died by ${signal}: ${server.stderr()}`);
  assert.equal(code, 0);
});

for (const [name, connect, version] of variants(() => server.url)) {
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

    test('generate without an AI domain is a tool error, not invented text', async () => {
      let progress = 0;
      const r = await c.callTool({ name: 'generate', arguments: { prompt: 'Once upon a time', max_tokens: 8, temperature: 0 } },
        ...(name.startsWith('sdk1') ? [undefined] : []), { onprogress: () => { progress++; } });
      assert.equal(r.isError, true);
      assert.match(r.content[0].text, /AI domain not connected/);
      assert.equal(progress, 0);
    });

    test('model_info without an AI domain is a tool error', async () => {
      const r = await c.callTool({ name: 'model_info', arguments: {} });
      assert.equal(r.isError, true);
      assert.match(r.content[0].text, /not connected/);
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

    test('a cancelled request leaves the connection usable', async () => {
      const ac = new AbortController();
      const p = c.callTool({ name: 'generate', arguments: { prompt: 'cancel me' } },
        ...(name.startsWith('sdk1') ? [undefined] : []), { signal: ac.signal });
      ac.abort('test');
      await p.then(() => {}, () => {});
      const { tools } = await c.listTools();
      assert.equal(tools.length, 2);
    });

    test('generate at temperature 0 returns the reference story text', { skip: 'needs the AI domain behind the channel (the protocol domain has only the not-connected backend on this branch)' }, () => {});
  });
}

test('32 concurrent clients of both generations', async () => {
  const clients = await Promise.all(Array.from({ length: 32 }, async (_, i) => {
    const c = i % 2 ? new Client1(info) : new Client2(info, { versionNegotiation: { mode: { pin: MODERN } } });
    await c.connect(i % 2 ? new Http1(new URL(server.url)) : new Http2(new URL(server.url)));
    return c;
  }));
  const results = await Promise.all(clients.map(async (c) => {
    const { tools } = await c.listTools();
    const r = await c.callTool({ name: 'generate', arguments: { prompt: 'hello' } });
    return [tools.length, r.isError];
  }));
  for (const [n, isErr] of results) { assert.equal(n, 2); assert.equal(isErr, true); }
  await Promise.all(clients.map((c) => c.close()));
});
