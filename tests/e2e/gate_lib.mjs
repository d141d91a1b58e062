// Shared by the gate's end-to-end tests with real npm servers
// (gate_npm.test.mjs, gate_install.test.mjs): who runs `airlock gate` (this
// user, and uid 65534 when we are root), scratch trees that user owns, and
// the official SDK's stdio client launching `airlock gate` as an MCP client does.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { AIRLOCK, airlock } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SERVERS = path.resolve(here, '../gate/servers');
export const MODS = path.join(SERVERS, 'node_modules/@modelcontextprotocol');
export const NOBODY = 65534;
export const NODE = fs.realpathSync(process.execPath);
// the runtime profile holds /usr; a node installed elsewhere is named in the policy
const nodeRo = NODE.startsWith('/usr/') ? '' : `ro = ${path.dirname(path.dirname(NODE))}\n`;
// node before 20.15 (22.2) refuses the --disable-wasm-trap-handler the gate puts in
// NODE_OPTIONS: such a policy passes its own (empty) NODE_OPTIONS instead, and then
// WebAssembly (node's fetch) needs more address space than an ordinary user's RLIMIT_AS
const [major, minor] = process.versions.node.split('.').map(Number);
export const NODE_WASM_FLAG = major > 22 || (major === 22 && minor >= 2) || (major === 20 && minor >= 15);
if (!NODE_WASM_FLAG) console.log(`# gate: node ${process.version} has no --disable-wasm-trap-handler: policies pass NODE_OPTIONS=""`);
export const NODE_RO = nodeRo + (NODE_WASM_FLAG ? '' : 'env = NODE_OPTIONS\n');
export const NODE_ENV = NODE_WASM_FLAG ? {} : { NODE_OPTIONS: '' };

// Who runs `airlock gate`: this user, and uid 65534 too when we are root
// (and it can run the build and read what it needs).
export function runners(tag, needs = []) {
  if (process.getuid() !== 0) return [{ who: `uid ${process.getuid()}`, uid: null }];
  const list = [{ who: 'root', uid: null }];
  const probe = (args) => {
    try {
      execFileSync('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...args], { stdio: 'ignore' });
      return true;
    } catch { return false; }
  };
  if (!probe([AIRLOCK, '--version'])) {
    console.log(`# ${tag}: as uid ${NOBODY}: skipped: it cannot run ${AIRLOCK} (setpriv missing or the build directory is not readable)`);
  } else if (needs.some((f) => !probe(['test', '-r', f]))) {
    console.log(`# ${tag}: as uid ${NOBODY}: skipped: it cannot read ${needs.join(', ')}`);
  } else {
    list.push({ who: `uid ${NOBODY}`, uid: NOBODY });
  }
  return list;
}

export const text = (r) => r.content.filter((c) => c.type === 'text').map((c) => c.text).join('');

// One scratch tree per runner, owned by it: policies, state, the server's files.
export function scratchFor(uid) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-gate-npm-'));
  fs.mkdirSync(path.join(dir, 'files'));
  fs.mkdirSync(path.join(dir, 'state'));
  // a file of ours beside the server's directory, never named in a policy
  fs.writeFileSync(path.join(dir, 'secret.txt'), 'not for the server\n');
  // as root the tool domain's uid 0 is uid 65534 outside: its files are that user's
  const owner = uid ?? (process.getuid() === 0 ? NOBODY : null);
  // which must reach the policy's paths in here to bind them
  fs.chmodSync(dir, 0o755);
  fs.chmodSync(path.join(dir, 'state'), 0o700);
  if (owner !== null) fs.chownSync(path.join(dir, 'files'), owner, owner);
  if (uid !== null) {
    for (const f of ['.', 'state', 'secret.txt']) fs.chownSync(path.join(dir, f), uid, uid);
    fs.chmodSync(path.join(dir, 'secret.txt'), 0o600);
  }
  return dir;
}

// `airlock ARGS` (as r's user) through the SDK's stdio client; tools listed.
export async function gateClient(r, scratch, args, { env = {}, capabilities = {} } = {}) {
  const cmd = [AIRLOCK, ...args];
  const transport = new StdioClientTransport({
    command: r.uid === null ? cmd[0] : 'setpriv',
    args: r.uid === null ? cmd.slice(1) : [`--reuid=${r.uid}`, `--regid=${r.uid}`, '--clear-groups', ...cmd],
    env: { PATH: process.env.PATH, HOME: scratch, AIRLOCK_TEST_NOT_PASSED: 'leak-me', ...NODE_ENV, ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = new Client({ name: 'gate-npm-test', version: '1.0' }, { capabilities });
  try {
    await client.connect(transport);
  } catch (e) {
    throw new Error(`${args.join(' ')}: ${e.message}\n${stderr}`);
  }
  // as every MCP client does: the gate checks calls against the tools it saw listed
  const tools = (await client.listTools()).tools;
  return { client, tools, stderr: () => stderr };
}

// A policy file in scratch, the user's own.
export function writePolicy(r, scratch, name, text) {
  const file = path.join(scratch, `${name}.ini`);
  fs.writeFileSync(file, text);
  if (r.uid !== null) fs.chownSync(file, r.uid, r.uid);
  return file;
}

export const audit = (scratch, name) => fs.readFileSync(path.join(scratch, 'state', name, 'audit.log'), 'utf8')
  .trim().split('\n').map((l) => JSON.parse(l));

export async function auditOk(scratch, name, tools) {
  const records = audit(scratch, name);
  const forwarded = new Set(records.filter((x) => x.event === 'gate.forwarded').map((x) => x.fields.tool));
  for (const t of tools) assert.ok(forwarded.has(t), `${t} not audited as forwarded: ${[...forwarded]}`);
  assert.ok(records.some((x) => x.event === 'gate.pin_new'));
  const v = await airlock(['audit', 'verify', path.join(scratch, 'state', name, 'audit.log')]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
}

