// The install phase against the npm registry: `airlock gate install` runs npm
// in a domain whose only way out is an egress domain that reaches the
// registry alone, into a content-hashed tree whose SHA-256 is pinned;
// `airlock gate` then runs the package's program from that tree only, with no
// network, and refuses a tree that changed. As root and, where possible, as uid 65534. Skipped (and said
// so) when the registry cannot be reached from here.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { AIRLOCK } from './lib.mjs';
import { NODE_RO, NODE_ENV, runners, text, scratchFor, gateClient, writePolicy, audit } from './gate_lib.mjs';

const PKG = '@modelcontextprotocol/server-filesystem';
const VERSION = '2026.8.31';
const NAME = 'server-filesystem'; // the policy names none: the package's

// The registry, as npm would ask it (this process's CA settings, 10 s).
function registryReachable() {
  return new Promise((resolve) => {
    const req = https.get(`https://registry.npmjs.org/${PKG.replace('/', '%2f')}/${VERSION}`, { timeout: 10000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? '' : `the registry answered ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', (e) => resolve(e.message));
  });
}
const unreachable = await registryReachable();
if (unreachable) console.log(`# gate_install: skipped: registry.npmjs.org cannot be reached from here (${unreachable})`);

// `airlock ARGS` as r's user, stdin closed; bounded.
function run(r, scratch, args, ms = 240000) {
  const cmd = r.uid === null ? [AIRLOCK, ...args] : ['setpriv', `--reuid=${r.uid}`, `--regid=${r.uid}`, '--clear-groups', AIRLOCK, ...args];
  return new Promise((resolve) => {
    const child = execFile(cmd[0], cmd.slice(1), { timeout: ms, killSignal: 'SIGKILL', env: { PATH: process.env.PATH, HOME: scratch, ...NODE_ENV,
      ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}) } },
    (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }));
    child.stdin.end();
  });
}

for (const r of unreachable ? [] : runners('gate_install')) {
  describe(`airlock gate install, as ${r.who}`, () => {
    let scratch, files, policy, dirs, tree, hash;
    before(() => {
      scratch = scratchFor(r.uid);
      files = path.join(scratch, 'files');
      policy = writePolicy(r, scratch, 'filesystem', `[install]\nnpm = ${PKG}@${VERSION}\n[tool]\nrw = ${files}\n${NODE_RO}unenforced = accept\n`);
      dirs = ['--state-dir', path.join(scratch, 'state'), '--cache-dir', path.join(scratch, 'cache')];
    });
    after(() => fs.rmSync(scratch, { recursive: true, force: true }));

    test('npm installs the package from the registry into a content-hashed tree, and its hash is pinned', async () => {
      const i = await run(r, scratch, ['gate', 'install', '--policy', policy, ...dirs]);
      assert.equal(i.code, 0, i.stdout + i.stderr);
      assert.match(i.stderr, /no scripts; its network: the registry alone, through an egress domain/);
      const m = i.stdout.match(/installed in (\S+\/npm\/([0-9a-f]{64}))\n/);
      assert.ok(m, i.stdout);
      [, tree, hash] = m;
      assert.equal(fs.readFileSync(path.join(scratch, 'state', NAME, 'tree'), 'utf8'), `${hash} npm ${PKG}@${VERSION}\n`);
      const manifest = fs.readFileSync(path.join(scratch, 'state', NAME, 'tree.manifest'), 'utf8');
      assert.match(manifest, new RegExp(`^f [0-9a-f]{64} node_modules/${PKG}/package.json$`, 'm'));
      assert.match(manifest, /^l [0-9a-f]{64} node_modules\/\.bin\/mcp-server-filesystem$/m);
      assert.equal(JSON.parse(fs.readFileSync(path.join(tree, 'node_modules', PKG, 'package.json'))).version, VERSION);
      // as root the tree is root's: the domains' user (65534) cannot change it
      if (process.getuid() === 0 && r.uid === null) assert.equal(fs.statSync(path.join(tree, 'node_modules', PKG, 'package.json')).uid, 0);
      assert.deepEqual(fs.readdirSync(path.dirname(tree)), [hash]); // nothing staged left behind
      const events = audit(scratch, NAME).filter((x) => x.event === 'gate.installed');
      assert.equal(events.length, 1);
      assert.equal(events[0].fields.tree, hash);
      // npm's every connection went through the egress domain, to the registry alone, audited
      const conns = audit(scratch, NAME).filter((x) => x.event === 'egress.connection');
      assert.ok(conns.length > 0, 'no egress.connection record');
      for (const c of conns) {
        assert.deepEqual([c.fields.host, c.fields.port, c.fields.verdict], ['registry.npmjs.org', 443, 'allowed'], JSON.stringify(c.fields));
      }
      assert.ok(conns.some((c) => c.fields.bytes_in > 100000), 'no tarball came through');
    });

    test('the run needs no command: the installed program, checked against the pin, ARGS its own', async () => {
      // as README.md's client configuration: airlock gate --policy FILE -- DIR
      const c = await gateClient(r, scratch, ['gate', '--policy', policy, ...dirs, '--', files]);
      try {
        assert.match(text(await c.client.callTool({ name: 'list_allowed_directories', arguments: {} })), new RegExp(files));
        const w = await c.client.callTool({ name: 'write_file', arguments: { path: path.join(files, 'tree.txt'), content: hash } });
        assert.ok(!w.isError, text(w));
        const o = await c.client.callTool({ name: 'read_text_file', arguments: { path: '/etc/passwd' } });
        assert.match(text(o), /Access denied - path outside allowed directories/);
      } finally {
        await c.client.close();
      }
      assert.equal(fs.readFileSync(path.join(files, 'tree.txt'), 'utf8'), hash);
    });

    test('a tree changed after its install is refused, naming the file; restored, it runs again', async () => {
      const file = path.join(tree, 'node_modules', PKG, 'dist/index.js');
      const was = fs.readFileSync(file);
      fs.appendFileSync(file, '\n// changed after the install\n');
      try {
        const x = await run(r, scratch, ['gate', '--policy', policy, ...dirs], 30000);
        assert.equal(x.code, 1, x.stderr);
        assert.match(x.stderr, new RegExp(`changed since it was installed \\(now x [0-9a-f]{64} node_modules/${PKG}/dist/index.js\\): refused`));
        assert.doesNotMatch(x.stderr, /airlock: tool:/); // nothing ran
        assert.ok(audit(scratch, NAME).some((e) => e.event === 'gate.tree_changed' && e.fields.pinned === hash));
      } finally {
        fs.writeFileSync(file, was);
      }
      const ok = await gateClient(r, scratch, ['gate', '--policy', policy, ...dirs, '--', files]);
      await ok.client.close();
    });

    test('a policy asking for another version than the one installed is refused', async () => {
      const other = writePolicy(r, scratch, 'other', fs.readFileSync(policy, 'utf8').replace(VERSION, '2026.8.30'));
      const x = await run(r, scratch, ['gate', '--policy', other, ...dirs], 30000);
      assert.equal(x.code, 1, x.stderr);
      assert.match(x.stderr, /the installed package is not @modelcontextprotocol\/server-filesystem@2026\.8\.30 \(run `airlock gate install/);
    });

    test('installing again gives the same tree under the same name', { skip: r.uid !== null && 'once is enough (as root)' }, async () => {
      const i = await run(r, scratch, ['gate', 'install', '--policy', policy, ...dirs]);
      assert.equal(i.code, 0, i.stdout + i.stderr);
      assert.match(i.stdout, new RegExp(`sha256 ${hash}`));
      assert.deepEqual(fs.readdirSync(path.dirname(tree)), [hash]);
    });
  });
}
