// The prompt limit comes from the model, counted in tokens by the AI domain:
// the official SDK clients against a real `airlock run` (stories260K, a
// 512-token context) read the limit in the generate schema and in
// model_info, get a tool error naming both figures for a prompt that does
// not fit, and a result with the dropped tokens counted when they ask for
// left truncation.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client as Client1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as Http1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as Client2, StreamableHTTPClientTransport as Http2 } from '@modelcontextprotocol/client';
import { startAirlock, sleep, MODERN } from './lib.mjs';

const info = { name: 'airlock-e2e-prompt', version: '1.0.0' };
// 600 digits: a leading space, then one token per digit in stories260K's
// vocabulary (no digit pairs in it): 601 prompt tokens, 90 over the limit.
const DIGITS = '0123456789'.repeat(60);
// 598 characters of an ordinary story: 167 tokens, well within the limit
// (a prompt was once refused by its length in bytes).
const STORY = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. '
  .repeat(7).slice(0, 598);

let server;
before(async () => { server = await startAirlock(); });
after(async () => {
  const { code, signal } = await server.stop();
  assert.equal(signal, null, `airlock run died by ${signal}: ${server.stderr()}`);
  assert.equal(code, 0, server.stderr());
});

const variants = [
  ['sdk1 2025-11-25', async () => { const c = new Client1(info); await c.connect(new Http1(new URL(server.url))); return c; }],
  ['sdk2 2026-07-28', async () => {
    const c = new Client2(info, { versionNegotiation: { mode: { pin: MODERN } } });
    await c.connect(new Http2(new URL(server.url)));
    return c;
  }],
];

for (const [name, connect] of variants) {
  describe(name, () => {
    let c;
    before(async () => { c = await connect(); });
    after(async () => { await c?.close(); });

    test('the generate schema states the limit in tokens, and the truncate argument', async () => {
      // The AI domain announces its model when it attaches; the list states it from then on.
      let gen;
      for (let i = 0; i < 20; i++) {
        gen = (await c.listTools()).tools.find((t) => t.name === 'generate');
        if (gen._meta?.['airlock/limits']) break;
        await sleep(100);
      }
      assert.deepEqual(gen._meta['airlock/limits'], { context_length: 512, max_prompt_tokens: 511 });
      const props = gen.inputSchema.properties;
      assert.match(props.prompt.description, /at most 511 prompt tokens \(its context is 512 tokens\)/);
      assert.equal(props.prompt.maxLength, 4096); // a character cap, kept for the channel
      assert.deepEqual(props.truncate.enum, ['none', 'left']);
      assert.equal(props.truncate.default, 'none');
    });

    test('model_info reports the context and the prompt limit', async () => {
      const r = await c.callTool({ name: 'model_info', arguments: {} });
      assert.equal(r.isError, false, JSON.stringify(r));
      assert.equal(r.structuredContent.context_length, 512);
      assert.equal(r.structuredContent.max_prompt_tokens, 511);
    });

    test('a 598-character story fits: the limit is in tokens, not bytes', async () => {
      const r = await c.callTool({ name: 'generate', arguments: { prompt: STORY, max_tokens: 4, temperature: 0 } });
      assert.equal(r.isError, false, JSON.stringify(r));
      const u = r._meta['airlock/usage'];
      assert.equal(u.prompt_tokens_dropped, 0);
      assert.ok(u.prompt_tokens > 100 && u.prompt_tokens < 511, JSON.stringify(u));
      assert.equal(u.generated_tokens, 4);
    });

    test('a prompt over the limit is a tool error naming both figures', async () => {
      const r = await c.callTool({ name: 'generate', arguments: { prompt: DIGITS, max_tokens: 8 } });
      assert.equal(r.isError, true, JSON.stringify(r));
      assert.equal(r.content[0].text, 'the prompt is 601 tokens; this model takes at most 511 prompt tokens; '
        + 'set truncate to "left" to keep its newest tokens');
      const none = await c.callTool({ name: 'generate', arguments: { prompt: DIGITS, truncate: 'none' } });
      assert.equal(none.isError, true);
      assert.match(none.content[0].text, /^the prompt is 601 tokens/);
    });

    test('with truncate left the oldest tokens go and the result counts them', async () => {
      const r = await c.callTool({ name: 'generate', arguments: { prompt: DIGITS, truncate: 'left', max_tokens: 8, temperature: 0 } });
      assert.equal(r.isError, false, JSON.stringify(r));
      // 511 prompt tokens fill the context but for BOS: room for exactly one more.
      assert.deepEqual(r._meta['airlock/usage'], { prompt_tokens: 511, prompt_tokens_dropped: 90, generated_tokens: 1 });
    });

    test('bad truncate values are tool errors, and the server keeps serving', async () => {
      for (const v of ['right', 'LEFT', '', 1, true, null, ['left']]) {
        const r = await c.callTool({ name: 'generate', arguments: { prompt: 'x', truncate: v } });
        assert.equal(r.isError, true, JSON.stringify(v));
        assert.match(r.content[0].text, /arguments\.truncate: must be (one of \["none","left"\]|of type string)/);
      }
      const r = await c.callTool({ name: 'generate', arguments: { prompt: 'Once upon a time', max_tokens: 3 } });
      assert.equal(r.isError, false, JSON.stringify(r));
    });
  });
}
