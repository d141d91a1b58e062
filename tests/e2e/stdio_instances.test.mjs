// Several MCP clients launching `airlock run --stdio` with one configuration
// (as desktop clients do, one server process per client): each gets its own
// instance, with its own control socket and audit log under
// STATE_DIR/stdio/PID/, all sharing the manifest; `airlock status` lists them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { stdioCommand, airlock, PROMPT, REF_TEXT } from './lib.mjs';

const info = { name: 'airlock-e2e', version: '1.0.0' };

test('two stdio clients on one configuration run side by side, and status lists both', async () => {
  const { command, args, dir, conf } = stdioCommand();
  const clients = [];
  try {
    for (let i = 0; i < 2; i++) {
      const c = new Client(info);
      await c.connect(new StdioClientTransport({ command, args, stderr: 'pipe' }));
      clients.push(c);
    }
    const results = await Promise.all(clients.map((c) => c.callTool({ name: 'generate', arguments: { prompt: PROMPT, max_tokens: 8, temperature: 0 } })));
    for (const r of results) {
      assert.equal(r.isError, false, JSON.stringify(r));
      assert.ok(REF_TEXT.startsWith(r.content[0].text), r.content[0].text);
    }
    const st = await airlock(['status', '--json', '--config', conf]);
    assert.equal(st.code, 0, st.stderr);
    const doc = JSON.parse(st.stdout);
    assert.equal(doc.stdio_instances.length, 2, st.stdout);
    for (const inst of doc.stdio_instances) {
      assert.deepEqual(inst.domains.map((d) => d.state), ['running', 'running']);
      assert.ok(fs.existsSync(path.join(dir, 'state', 'stdio', inst.instance, 'audit.log')));
    }
    assert.notEqual(doc.stdio_instances[0].instance, doc.stdio_instances[1].instance);
  } finally {
    for (const c of clients) await c.close();
  }
  // Each instance's own audit log verifies, sealed at its clean stop.
  const instances = fs.readdirSync(path.join(dir, 'state', 'stdio'));
  assert.equal(instances.length, 2);
  for (const id of instances) {
    const log = path.join(dir, 'state', 'stdio', id, 'audit.log');
    let v;
    for (let i = 0; i < 50; i++) { // the instance seals its log as it stops
      v = await airlock(['audit', 'verify', log]);
      if (v.code === 0 && /sealed/.test(v.stdout)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(v.code, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /sealed/);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
