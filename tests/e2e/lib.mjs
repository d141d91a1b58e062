// Starts the real system for the end-to-end tests: `airlock run` (supervisor,
// sandboxed AI domain and protocol domain) with a temporary configuration of
// its own (state directory, free port), and talks raw HTTP to it.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const build = process.env.AL_BUILD_DIR;
if (!build) throw new Error('AL_BUILD_DIR is not set (run tests/e2e/run BUILD_DIR)');
export const AIRLOCK = path.resolve(build, 'src/cli/airlock');
export const PROTO = path.resolve(build, 'src/workers/proto/airlock-proto');
const here = path.dirname(new URL(import.meta.url).pathname);
export const PROMPT = 'Once upon a time';
// llama2.c's run.c on stories260K, temperature 0, 256 steps, this prompt: the
// prompt, the continuation, a newline. The continuation alone is what the
// server returns; the 256 steps hold BOS and the prompt's four tokens, so the
// continuation is REF_TOKENS generated tokens.
const refFile = fs.readFileSync(path.join(here, '../workers/ai/greedy_once_upon_a_time.txt'), 'utf8');
if (!refFile.startsWith(PROMPT) || !refFile.endsWith('\n')) throw new Error('unexpected reference file');
export const REF_TEXT = refFile.slice(PROMPT.length, -1);
export const REF_TOKENS = 252;

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// A port nobody listens on right now (bind to 0, read it back, release it).
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// A scratch directory with airlock.conf: its own state directory (manifest,
// audit log, control socket) and [proto] listen on the port given, with its
// own two loopback origins allowed unless proto sets allowed_origins.
export function makeConfig({ port = 0, proto = {}, extra = '' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-e2e-'));
  const conf = path.join(dir, 'airlock.conf');
  const lines = ['[airlock]', `state_dir = ${path.join(dir, 'state')}`, '[proto]'];
  if (port) {
    lines.push(`listen = 127.0.0.1:${port}`);
    if (!('allowed_origins' in proto)) lines.push(`allowed_origins = http://127.0.0.1:${port}, http://localhost:${port}`);
  }
  for (const [k, v] of Object.entries(proto)) lines.push(`${k} = ${v}`);
  fs.writeFileSync(conf, lines.join('\n') + '\n' + extra);
  return { dir, conf, state: path.join(dir, 'state') };
}

// Waits for a child's exit, at most ms; kills it with SIGKILL after that.
export function waitExit(child, ms = 15000) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode, timedOut: false });
    let timedOut = false;
    const t = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, ms);
    child.once('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal, timedOut }); });
  });
}

// `airlock ARGS...`: resolves with code, stdout and stderr (bounded: killed after ms).
export function airlock(args, ms = 30000) {
  return new Promise((resolve) => {
    execFile(AIRLOCK, args, { timeout: ms, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

// Starts `airlock run` over HTTP on a free port and resolves once it is ready.
export async function startAirlock({ proto = {}, extra = '' } = {}) {
  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) { // the free port may be taken meanwhile
    const port = await freePort();
    const cfg = makeConfig({ port, proto, extra });
    try {
      return await runUntilReady(cfg, port);
    } catch (e) {
      lastErr = e;
      fs.rmSync(cfg.dir, { recursive: true, force: true });
      if (!/listen/.test(e.message)) break;
    }
  }
  throw lastErr;
}

function runUntilReady(cfg, port) {
  return new Promise((resolve, reject) => {
    const child = spawn(AIRLOCK, ['run', '--config', cfg.conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.on('data', (d) => { err += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`airlock run not ready: ${err}`)); }, 30000);
    const onData = (d) => {
      err += d;
      const m = /ready on (http:\/\/127\.0\.0\.1:(\d+)\/mcp)/.exec(err);
      if (!m) return;
      clearTimeout(timer);
      child.stderr.off('data', onData);
      child.stderr.on('data', (x) => { err += x; });
      child.off('exit', onEarlyExit);
      const srv = {
        url: m[1], port: Number(m[2]), child, ...cfg,
        stderr: () => err,
        status: async () => {
          const r = await airlock(['status', '--json', '--config', cfg.conf]);
          if (r.code !== 0) throw new Error(`airlock status: ${r.code} ${r.stderr}`);
          return JSON.parse(r.stdout);
        },
        // SIGTERM to the supervisor; resolves with its exit once it is gone.
        stop: async ({ keep = false } = {}) => {
          const r = (child.exitCode !== null || child.signalCode !== null)
            ? { code: child.exitCode, signal: child.signalCode }
            : await (child.kill('SIGTERM'), waitExit(child));
          if (!keep) fs.rmSync(cfg.dir, { recursive: true, force: true });
          return r;
        },
      };
      resolve(srv);
    };
    const onEarlyExit = (code, sig) => { clearTimeout(timer); reject(new Error(`airlock run exited early (${code ?? sig}): ${err}`)); };
    child.stderr.on('data', onData);
    child.once('exit', onEarlyExit);
  });
}

// What an MCP client needs to launch `airlock run --stdio` as a command, with
// a configuration of its own (proto keys as given).
export function stdioCommand(proto = {}) {
  const cfg = makeConfig({ proto });
  return { command: AIRLOCK, args: ['run', '--stdio', '--config', cfg.conf], dir: cfg.dir, conf: cfg.conf };
}

export { sleep };

export const JSON_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};

// One raw HTTP request with exactly the headers given (node:http lets us set Host).
export function raw(port, { method = 'POST', headers = {}, body, path: p = '/mcp' } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, headers, agent: false }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      // A connection cut before the end of the response is an error, never a hang.
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
      res.on('end', () => {
        let json;
        try { json = JSON.parse(data); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: data, json });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export const rpc = (id, method, params) => JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });

export const MODERN = '2026-07-28';
export function modernMeta(extra = {}) {
  return { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {}, ...extra };
}

// A stateful session opened by hand: returns its id.
export async function rawSession(port, extraHeaders = {}) {
  const r = await raw(port, {
    headers: { ...JSON_HEADERS, ...extraHeaders },
    body: rpc(1, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } }),
  });
  if (r.status !== 200) throw new Error(`initialize: ${r.status} ${r.body}`);
  const sid = r.headers['mcp-session-id'];
  await raw(port, { headers: { ...JSON_HEADERS, ...extraHeaders, 'mcp-session-id': sid }, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  return sid;
}

// Opens a TCP connection and writes bytes; resolves when the server closes it.
export function tcpUntilClosed(port, bytes) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(bytes));
    let got = '';
    s.on('data', (d) => { got += d; });
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

export function tcpOpen(port, bytes) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => { s.write(bytes); resolve(s); });
    s.on('error', reject);
  });
}

// Bare airlock-proto (no supervisor, no AI domain), for the one transport
// option the configuration does not expose (the idle timeout).
export function startBareProto(args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(PROTO, ['--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const onData = (d) => {
      err += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:(\d+)\/mcp)/.exec(err);
      if (!m) return;
      child.stderr.off('data', onData);
      child.stderr.on('data', (x) => { err += x; });
      resolve({ url: m[1], port: Number(m[2]), child, stderr: () => err, stop: () => (child.kill('SIGTERM'), waitExit(child)) });
    };
    child.stderr.on('data', onData);
    child.once('exit', (code, sig) => reject(new Error(`airlock-proto exited early (${code ?? sig}): ${err}`)));
  });
}
