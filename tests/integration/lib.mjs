// Helpers of the integration tests: the real `airlock run`, real processes,
// the real kernel. Starting and talking to airlock is shared with the
// end-to-end suite (tests/e2e/lib.mjs, which needs no npm package).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { JSON_HEADERS, rpc, modernMeta, MODERN, PROMPT } from '../e2e/lib.mjs';

export * from '../e2e/lib.mjs';
export const SOURCE_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

export const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// p, or a rejection naming what did not happen within ms: every wait is bounded.
export function within(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: nothing within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

// Polls fn() (truthy = done) every 100 ms, at most ms; returns its last value.
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { last = await fn(); } catch (e) { last = undefined; }
    if (last) return last;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(100);
  }
}

// The process's start time (field 22 of /proc/PID/stat), or null when it is gone.
export function startTime(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19];
  } catch { return null; }
}

// Every descendant of pid right now, with its start time (to tell a reused pid apart).
export function descendants(pid) {
  const kids = new Map();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const s = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(e));
    } catch { /* gone meanwhile */ }
  }
  const out = [];
  const walk = (p) => { for (const k of kids.get(p) ?? []) { out.push({ pid: k, start: startTime(k) }); walk(k); } };
  walk(pid);
  return out;
}

// The program a domain runs: the only child of the domain's pid (that one is
// the init of the domain's pid namespace).
export function workerOf(domainPid) {
  const kids = fs.readFileSync(`/proc/${domainPid}/task/${domainPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  if (kids.length !== 1) throw new Error(`domain ${domainPid} has children ${kids}`);
  return Number(kids[0]);
}

// Directories named airlock-SUPERVISORPID-* under /sys/fs/cgroup/*/ (the
// cgroups a supervisor creates for its domains), depth-bounded.
export function cgroupsOf(supPid) {
  const found = [];
  const re = new RegExp(`^airlock-${supPid}-`);
  const walk = (dir, depth) => {
    let ents;
    try { ents = fs.readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of ents) {
      if (!e.isDirectory()) continue;
      const p = path.join(dir, e.name);
      if (re.test(e.name)) found.push(p);
      if (depth < 6) walk(p, depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}

// The JSON-RPC messages of an SSE or JSON body.
export function messages(body) {
  try { return [JSON.parse(body)]; } catch { /* SSE */ }
  return body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)));
}

// A stateless (2026-07-28) generate call with a progress token. Resolves
// with { status, events } when the response ends; rejects when the
// connection is cut; onEvent sees each message as it arrives, onHeaders the
// response's head (sent as soon as the protocol domain has started the call).
export function generateStream(port, id, args, onEvent = () => {}, onHeaders = () => {}) {
  return new Promise((resolve, reject) => {
    const body = rpc(id, 'tools/call', { name: 'generate', arguments: { prompt: PROMPT, temperature: 0, ...args }, _meta: modernMeta({ progressToken: `p${id}` }) });
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/mcp', agent: false,
      headers: { ...JSON_HEADERS, 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'generate' } }, (res) => {
      let buf = '';
      const events = [];
      onHeaders(res);
      res.setEncoding('utf8');
      res.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const data = buf.slice(0, i).split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          buf = buf.slice(i + 2);
          if (!data) continue;
          const ev = JSON.parse(data);
          events.push(ev);
          onEvent(ev);
        }
      });
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
      res.on('end', () => {
        if (buf.trim()) for (const m of messages(buf)) { events.push(m); onEvent(m); }
        resolve({ status: res.statusCode, events });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

// The audit log's records.
export function auditRecords(state) {
  return fs.readFileSync(path.join(state, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
