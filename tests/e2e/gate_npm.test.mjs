// Real third-party MCP servers from the npm registry behind `airlock gate`,
// driven by the official SDK's stdio client as an MCP client launches them:
// @modelcontextprotocol/server-filesystem, server-memory and server-everything
// (pinned in tests/gate/servers/package-lock.json), under node in the runtime
// profile. Their tools work inside the policy's paths; everything outside is
// refused, by the server, by the sandbox under it, or by the gate (a JSON-RPC
// error). Run as root and, where possible, as an unprivileged user (uid
// 65534, no cgroup: the limits fall back to rlimits).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { SERVERS, MODS, NODE, NODE_RO, NODE_WASM_FLAG, runners, text, scratchFor, gateClient, writePolicy, audit, auditOk }
  from './gate_lib.mjs';

const installed = ['server-filesystem', 'server-memory', 'server-everything']
  .every((s) => fs.existsSync(path.join(MODS, s, 'dist/index.js')));
if (!installed) console.log('# gate_npm: skipped: tests/gate/servers has no node_modules (tests/e2e/run installs it with npm ci)');

// `airlock gate --policy ... -- node SERVER ARGS`
function connect(r, scratch, name, server, serverArgs, { policy = '', env = {}, capabilities = {} } = {}) {
  const file = writePolicy(r, scratch, name, `[gate]\nname = ${name}\n[tool]\nro = ${SERVERS}\n${NODE_RO}unenforced = accept\n${policy}`);
  return gateClient(r, scratch, ['gate', '--policy', file, '--state-dir', path.join(scratch, 'state'), '--',
    NODE, path.join(MODS, server, 'dist/index.js'), ...serverArgs], { env, capabilities });
}

for (const r of installed ? runners('gate_npm', [path.join(MODS, 'server-memory/dist/index.js')]) : []) {
  describe(`npm MCP servers behind the gate, as ${r.who}`, () => {
    let scratch;
    before(() => { scratch = scratchFor(r.uid); });
    after(() => fs.rmSync(scratch, { recursive: true, force: true }));

    test('server-filesystem: its tools work in the policy\'s directory; outside it they are refused', async () => {
      const files = path.join(scratch, 'files');
      const c = await connect(r, scratch, 'filesystem', 'server-filesystem', [files], {
        policy: `rw = ${files}\n[tools]\nallow = read_text_file, write_file, list_directory, list_allowed_directories, edit_file\n`,
      });
      try {
        const names = c.tools.map((t) => t.name);
        assert.ok(names.includes('move_file') && names.includes('read_text_file'), names.join(' '));
        assert.match(text(await c.client.callTool({ name: 'list_allowed_directories', arguments: {} })),
          new RegExp(files));
        // inside: written through the server, read back by us
        const note = path.join(files, 'note.txt');
        const w = await c.client.callTool({ name: 'write_file', arguments: { path: note, content: 'hello from the gate\n' } });
        assert.ok(!w.isError, text(w));
        assert.equal(fs.readFileSync(note, 'utf8'), 'hello from the gate\n');
        const e = await c.client.callTool({ name: 'edit_file', arguments: { path: note, edits: [{ oldText: 'hello', newText: 'bye' }] } });
        assert.ok(!e.isError, text(e));
        assert.equal(text(await c.client.callTool({ name: 'read_text_file', arguments: { path: note } })), 'bye from the gate\n');
        assert.match(text(await c.client.callTool({ name: 'list_directory', arguments: { path: files } })), /\[FILE\] note\.txt/);
        // outside the server's allowed directory: the server refuses
        for (const p of ['/etc/passwd', path.join(scratch, 'secret.txt')]) {
          const o = await c.client.callTool({ name: 'read_text_file', arguments: { path: p } });
          assert.ok(o.isError);
          assert.match(text(o), /Access denied - path outside allowed directories/);
        }
        // the gate: a tool the policy leaves out, arguments against the pinned schema
        await assert.rejects(c.client.callTool({ name: 'move_file', arguments: { source: note, destination: '/tmp/x' } }),
          (err) => err.code === -32602 && /tool 'move_file' is not allowed by the gate's policy/.test(err.message));
        await assert.rejects(c.client.callTool({ name: 'read_text_file', arguments: { path: 42 } }),
          (err) => err.code === -32602 && /invalid arguments: arguments\.path/.test(err.message));
      } finally {
        await c.client.close();
      }
      await auditOk(scratch, 'filesystem', ['write_file', 'edit_file', 'read_text_file', 'list_directory']);
      const refused = audit(scratch, 'filesystem').filter((x) => x.event === 'gate.refused').map((x) => x.fields.reason);
      assert.ok(refused.includes('tool not allowed') && refused.includes('arguments invalid'), refused.join(', '));
    });

    test('server-filesystem told to allow /: the sandbox under it holds only the policy\'s paths', async () => {
      const files = path.join(scratch, 'files');
      const c = await connect(r, scratch, 'filesystem-root', 'server-filesystem', ['/'], { policy: `rw = ${files}\n` });
      try {
        const read = async (p) => c.client.callTool({ name: 'read_text_file', arguments: { path: p } });
        // the server tries; the file is not in its world
        for (const p of ['/etc/shadow', path.join(scratch, 'secret.txt'), path.join(os.homedir(), '.ssh', 'id_ed25519'), path.join(os.homedir(), '.bashrc')]) {
          const o = await read(p);
          assert.ok(o.isError, `${p}: ${text(o)}`);
          assert.match(text(o), /ENOENT|EACCES|no such file/i, `${p}: ${text(o)}`);
        }
        const root = text(await c.client.callTool({ name: 'list_directory', arguments: { path: '/' } }));
        assert.match(root, /\[DIR\] usr/);
        // the profile's system directories, /tmp, and the top of the policy's own paths
        const tops = new Set([SERVERS, files].map((p) => p.split('/')[1]));
        for (const [, name] of root.matchAll(/\[DIR\] (\S+)/g)) {
          assert.ok(['usr', 'etc', 'dev', 'proc', 'tmp'].includes(name) || tops.has(name), `/${name} in the sandbox: ${root}`);
        }
        const w = await c.client.callTool({ name: 'write_file', arguments: { path: '/usr/airlock-gate-probe', content: 'x' } });
        assert.ok(w.isError && /EROFS|EACCES|read-only/i.test(text(w)), text(w));
        assert.ok(!fs.existsSync('/usr/airlock-gate-probe'));
        // the policy's directory is there, read-write
        const ok = await c.client.callTool({ name: 'write_file', arguments: { path: path.join(files, 'root.txt'), content: 'in' } });
        assert.ok(!ok.isError, text(ok));
        assert.equal(fs.readFileSync(path.join(files, 'root.txt'), 'utf8'), 'in');
      } finally {
        await c.client.close();
      }
    });

    test('server-memory: its knowledge graph lives in the policy\'s directory and outlives the session', async () => {
      const store = path.join(scratch, 'files', 'memory.jsonl');
      const opts = { policy: `rw = ${path.join(scratch, 'files')}\nenv = MEMORY_FILE_PATH\n`, env: { MEMORY_FILE_PATH: store } };
      let c = await connect(r, scratch, 'memory', 'server-memory', [], opts);
      try {
        const made = await c.client.callTool({ name: 'create_entities', arguments: {
          entities: [{ name: 'airlock', entityType: 'project', observations: ['isolates MCP servers'] }] } });
        assert.ok(!made.isError, text(made));
        const obs = await c.client.callTool({ name: 'add_observations', arguments: {
          observations: [{ entityName: 'airlock', contents: ['gates npm servers'] }] } });
        assert.ok(!obs.isError, text(obs));
      } finally {
        await c.client.close();
      }
      assert.match(fs.readFileSync(store, 'utf8'), /gates npm servers/);
      // a new session, the same pinned tools: the graph is still there
      c = await connect(r, scratch, 'memory', 'server-memory', [], opts);
      try {
        const found = text(await c.client.callTool({ name: 'search_nodes', arguments: { query: 'airlock' } }));
        assert.match(found, /isolates MCP servers/);
        assert.match(found, /gates npm servers/);
      } finally {
        await c.client.close();
      }
      await auditOk(scratch, 'memory', ['create_entities', 'add_observations', 'search_nodes']);
      assert.ok(!audit(scratch, 'memory').some((x) => x.event === 'gate.quarantined'));
    });

    test('server-memory: a store outside the policy\'s paths cannot be written', async () => {
      const outside = path.join(scratch, 'state', 'memory.jsonl');
      const c = await connect(r, scratch, 'memory-outside', 'server-memory', [],
        { policy: 'env = MEMORY_FILE_PATH\n', env: { MEMORY_FILE_PATH: outside } });
      try {
        const made = await c.client.callTool({ name: 'create_entities', arguments: {
          entities: [{ name: 'x', entityType: 'y', observations: [] }] } });
        assert.ok(made.isError, text(made));
        assert.match(text(made), /ENOENT|EACCES|EROFS/);
      } finally {
        await c.client.close();
      }
      assert.ok(!fs.existsSync(outside));
    });

    test('server-everything: tools, progress and structured content pass; environment, network and sampling are the policy\'s', async () => {
      const secret = path.join(scratch, 'token');
      fs.writeFileSync(secret, 'ghp_0123456789abcdefghijklmnopqrstuvwxyz\n', { mode: 0o600 });
      if (r.uid !== null) fs.chownSync(secret, r.uid, r.uid);
      const c = await connect(r, scratch, 'everything', 'server-everything', ['stdio'], {
        policy: `env = TZ\nsecret.GITHUB_TOKEN = ${secret}\n`,
        env: { TZ: 'UTC' },
        capabilities: { sampling: {} },
      });
      let sampled = 0;
      c.client.setRequestHandler(CreateMessageRequestSchema, async () => {
        sampled++;
        return { model: 'none', role: 'assistant', content: { type: 'text', text: 'should not be asked' } };
      });
      try {
        const names = c.tools.map((t) => t.name);
        for (const t of ['echo', 'get-sum', 'get-env', 'trigger-sampling-request']) assert.ok(names.includes(t), names.join(' '));
        assert.equal(text(await c.client.callTool({ name: 'echo', arguments: { message: 'through the gate' } })),
          'Echo: through the gate');
        assert.match(text(await c.client.callTool({ name: 'get-sum', arguments: { a: 2, b: 40 } })), /42/);
        const sc = await c.client.callTool({ name: 'get-structured-content', arguments: { location: 'New York' } });
        assert.equal(typeof sc.structuredContent.temperature, 'number');
        const steps = [];
        const long = await c.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
          undefined, { onprogress: (p) => steps.push(p.progress) });
        assert.match(text(long), /completed/i);
        // the server sends its last step's progress beside the result, which may overtake it (so without the gate too)
        assert.deepEqual(steps.slice(0, 2), [1, 2]);
        // the environment: the fixed base, the named variable and the secret, nothing else
        const env = JSON.parse(text(await c.client.callTool({ name: 'get-env', arguments: {} })));
        assert.equal(env.HOME, '/tmp');
        assert.equal(env.TZ, 'UTC');
        assert.equal(env.AIRLOCK_TEST_NOT_PASSED, undefined);
        // the server holds its secret; the gate redacts it on the way out
        assert.match(env.GITHUB_TOKEN, /^\*+$/);
        // no network: a fetch fails inside the server; a data: URL needs none. Without a
        // cgroup (RLIMIT_AS holds the memory) an old node cannot instantiate fetch's WebAssembly
        const noCgroup = r.uid !== null || process.getuid() !== 0;
        if (NODE_WASM_FLAG || !noCgroup) {
          const net = await c.client.callTool({ name: 'gzip-file-as-resource', arguments: { name: 'x.gz', data: 'https://registry.npmjs.org/', outputType: 'resource' } });
          assert.ok(net.isError, text(net));
        } else {
          console.log(`# gate_npm: fetch in server-everything as ${r.who} skipped: node ${process.version} cannot run WebAssembly under RLIMIT_AS`);
        }
        const local = await c.client.callTool({ name: 'gzip-file-as-resource', arguments: { name: 'x.gz', data: 'data:text/plain,hello', outputType: 'resource' } });
        assert.ok(!local.isError, text(local));
        // sampling is not in the policy: the gate answers the server, the client is never asked
        const s = await c.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: 'hi', maxTokens: 5 } });
        assert.match(text(s), /denied by the gate's policy/);
        assert.equal(sampled, 0);
      } finally {
        await c.client.close();
      }
      await auditOk(scratch, 'everything', ['echo', 'get-sum', 'get-env', 'gzip-file-as-resource']);
      const events = audit(scratch, 'everything').map((x) => `${x.event}:${x.fields.reason ?? x.fields.syscall ?? ''}`);
      if (NODE_WASM_FLAG || (r.uid === null && process.getuid() === 0)) assert.ok(events.includes('gate.seccomp:socket'), events.join(' '));
      assert.ok(events.includes('gate.redacted:'), events.join(' '));
      assert.ok(events.includes('gate.refused:server request denied'), events.join(' '));
    });
  });
}
