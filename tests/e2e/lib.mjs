// Starts the real airlock-proto for the end-to-end tests and talks raw HTTP to it.
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

const build = process.env.AL_BUILD_DIR;
if (!build) throw new Error('AL_BUILD_DIR is not set (run tests/e2e/run BUILD_DIR)');
export const PROTO = path.resolve(build, 'src/workers/proto/airlock-proto');

// Spawns `airlock-proto --listen 127.0.0.1:0 ...args` and resolves once it prints its port.
export function startServer(args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(PROTO, ['--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const onData = (d) => {
      err += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:(\d+)\/mcp)/.exec(err);
      if (m) {
        child.stderr.off('data', onData);
        child.stderr.on('data', (x) => { err += x; });
        resolve({
          url: m[1], port: Number(m[2]), child,
          stderr: () => err,
          stop: () => new Promise((res) => {
            if (child.exitCode !== null || child.signalCode !== null) return res({ code: child.exitCode, signal: child.signalCode });
            child.once('exit', (code, signal) => res({ code, signal }));
            child.kill('SIGTERM');
          }),
        });
      }
    };
    child.stderr.on('data', onData);
    child.once('exit', (code, sig) => reject(new Error(`airlock-proto exited early (${code ?? sig}): ${err}`)));
  });
}

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
