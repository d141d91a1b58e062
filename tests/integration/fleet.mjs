// Several `airlock run` instances behind haproxy on loopback, as
// docs/deploy.md sets them up: each instance its own configuration, state
// directory and port; haproxy with the shipped etc/haproxy/airlock.cfg, its
// ports substituted the way a user edits them. Used by the haproxy
// integration test and by bench/serve/haproxy.mjs.
//
// Each instance runs in a process group of its own (the supervisor and its
// domains: the sandbox puts no domain in another group), so "SIGKILL the
// whole instance" is one kill(-pgid, SIGKILL), as `systemctl kill -s KILL`
// or the OOM killer would end a service. Nothing is left behind on any
// path: stop() kills haproxy and every instance and removes the cgroup
// directories a killed supervisor could not.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AIRLOCK, MODERN, makeConfig, waitExit, sleep, descendants, cgroupsOf, SOURCE_ROOT } from './lib.mjs';

export const HAPROXY_CFG = path.join(SOURCE_ROOT, 'etc/haproxy/airlock.cfg');
// The ports the shipped file uses: the frontend, then the three servers.
export const CFG_FRONTEND_PORT = 8377;
export const CFG_SERVER_PORTS = [8381, 8382, 8383];

export function which(cmd) {
  try { return execFileSync('sh', ['-c', `command -v ${cmd}`]).toString().trim() || null; } catch { return null; }
}

// The shipped configuration with its ports replaced: the frontend on
// frontPort, server i on serverPorts[i]; servers beyond serverPorts.length
// are dropped (one or two instances). Every other line stays as shipped.
// oneThread: haproxy on one thread (nbthread 1): with several, a thread
// that finds another writing to the log's fd drops its line (haproxy's
// fd_write_frag_line), and a test that counts the logged requests loses a
// few under load.
export function haproxyConfig(frontPort, serverPorts, { oneThread = false } = {}) {
  let text = fs.readFileSync(HAPROXY_CFG, 'utf8');
  if (oneThread) text = text.replace(/^global\n/m, 'global\n    nbthread 1\n');
  const bind = `bind 127.0.0.1:${CFG_FRONTEND_PORT}`;
  if (!text.includes(bind)) throw new Error(`${HAPROXY_CFG}: no "${bind}" line`);
  text = text.replace(bind, `bind 127.0.0.1:${frontPort}`);
  CFG_SERVER_PORTS.forEach((p, i) => {
    const re = new RegExp(`^(\\s*server \\S+ )127\\.0\\.0\\.1:${p}( .*)?$`, 'm');
    if (!re.test(text)) throw new Error(`${HAPROXY_CFG}: no server line for 127.0.0.1:${p}`);
    text = i < serverPorts.length ? text.replace(re, `$1127.0.0.1:${serverPorts[i]}$2`) : text.replace(re, '');
  });
  return text;
}

// The server names of the shipped backend, in order (a1, a2, a3).
export function serverNames() {
  return [...fs.readFileSync(HAPROXY_CFG, 'utf8').matchAll(/^\s*server (\S+) 127\.0\.0\.1:\d+/gm)].map((m) => m[1]);
}

// One instance: `airlock run` with a configuration of its own on a port of
// its own. start() (again after a kill) resolves once it prints its ready line.
export class Instance {
  constructor(name, port, { proto = {}, extra = '' } = {}) {
    this.name = name;
    this.port = port;
    this.cfg = makeConfig({ port, proto, extra });
    this.child = null;
    this.log = '';
    this.killed = []; // supervisor pids ended by SIGKILL: their cgroups to check
  }

  start(ms = 60000) {
    return new Promise((resolve, reject) => {
      const child = spawn(AIRLOCK, ['run', '--config', this.cfg.conf], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      this.child = child;
      let seen = '';
      const timer = setTimeout(() => { this.#kill(child); reject(new Error(`${this.name}: not ready within ${ms} ms: ${seen}`)); }, ms);
      const onData = (d) => {
        seen += d;
        this.log += d;
        if (new RegExp(`ready on http://127\\.0\\.0\\.1:${this.port}/mcp`).test(seen)) {
          clearTimeout(timer);
          child.off('exit', early);
          resolve(this);
        }
      };
      const early = (code, sig) => { clearTimeout(timer); reject(new Error(`${this.name}: airlock run exited (${code ?? sig}): ${seen}`)); };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', early);
    });
  }

  get running() { return !!this.child && this.child.exitCode === null && this.child.signalCode === null; }

  #kill(child) {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  }

  // SIGKILL to the whole instance at once; resolves when the supervisor is
  // reaped and every process it had is gone. Returns those processes.
  // onKill() is called just before the signal.
  async kill(onKill = () => {}) {
    const child = this.child;
    const procs = descendants(child.pid);
    onKill();
    this.#kill(child);
    this.killed.push(child.pid);
    const ex = await waitExit(child, 10000);
    if (ex.timedOut) throw new Error(`${this.name}: supervisor ${child.pid} survived SIGKILL`);
    for (let i = 0; i < 100 && procs.some((p) => fs.existsSync(`/proc/${p.pid}`)); i++) await sleep(50);
    return procs;
  }

  // SIGTERM (a clean stop), SIGKILL after ms.
  async stop(ms = 15000) {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const ex = await waitExit(this.child, ms);
    if (ex.timedOut) { this.#kill(this.child); this.killed.push(this.child.pid); }
  }

  // The cgroup directories killed supervisors left (a later start of any
  // airlock sweeps them; a final cleanup must not wait for one).
  removeStaleCgroups() {
    const left = [];
    for (const pid of this.killed) {
      for (const dir of cgroupsOf(pid).sort((a, b) => b.length - a.length)) {
        try { fs.rmdirSync(dir); } catch (e) { if (e.code !== 'ENOENT') left.push(`${dir}: ${e.code}`); }
      }
    }
    return left;
  }
}

// haproxy in the foreground (-db) with cfgText; its log (the shipped file
// logs to stdout) and its stderr are kept line by line. Resolves once the frontend accepts.
export async function startHaproxy(cfgText, frontPort, ms = 15000) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-haproxy-'));
  const file = path.join(dir, 'airlock.cfg');
  fs.writeFileSync(file, cfgText);
  const bin = which('haproxy');
  const check = spawn(bin, ['-c', '-q', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let checkOut = '';
  check.stdout.on('data', (d) => { checkOut += d; });
  check.stderr.on('data', (d) => { checkOut += d; });
  const cex = await waitExit(check, ms);
  if (cex.code !== 0) { fs.rmSync(dir, { recursive: true, force: true }); throw new Error(`haproxy -c: ${checkOut}`); }
  // The log goes to a file, not a pipe: haproxy drops log lines it cannot
  // write at once, and a pipe fills whenever this process is busy with its
  // clients. h.lines reads what the file has gained at every use.
  const logFd = fs.openSync(path.join(dir, 'haproxy.log'), 'w+');
  const child = spawn(bin, ['-db', '-f', file], { stdio: ['ignore', logFd, 'pipe'] });
  const lines = [];
  const h = { child, dir, text: '', file };
  const reader = () => {
    let partial = '';
    return (d) => {
      h.text += d;
      partial += d;
      let i;
      while ((i = partial.indexOf('\n')) >= 0) { lines.push(partial.slice(0, i)); partial = partial.slice(i + 1); }
    };
  };
  const logLine = reader();
  const buf = Buffer.alloc(1 << 16);
  let off = 0, open = true;
  const drain = () => {
    for (let n; open && (n = fs.readSync(logFd, buf, 0, buf.length, off)) > 0; off += n) logLine(buf.toString('latin1', 0, n));
  };
  Object.defineProperty(h, 'lines', { get: () => { drain(); return lines; } });
  child.stderr.on('data', reader());
  h.stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await waitExit(child, 5000);
    }
    drain();
    open = false;
    fs.closeSync(logFd);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const net = await import('node:net');
  const end = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null) { drain(); await h.stop(); throw new Error(`haproxy exited: ${h.text}`); }
    const ok = await new Promise((res) => {
      const s = net.connect(frontPort, '127.0.0.1', () => { s.destroy(); res(true); });
      s.on('error', () => res(false));
    });
    if (ok) return h;
    if (Date.now() > end) { await h.stop(); throw new Error(`haproxy not listening on ${frontPort}: ${h.text}`); }
    await sleep(50);
  }
}

// One request line of haproxy's httplog format (option httplog, log format
// raw): the server that answered, the status, the termination state and
// the retries (a "+" when the request was redispatched).
const HTTPLOG = /\] (\S+) (\S+)\/(\S+) -?\d+\/-?\d+\/-?\d+\/-?\d+\/-?\d+ (-?\d+) \d+ \S+ \S+ (\S{4}) \d+\/\d+\/\d+\/\d+\/(\+?)(\d+) \d+\/\d+ "(\S+) (\S+)/;
export function parseRequestLine(line) {
  const m = HTTPLOG.exec(line);
  if (!m) return null;
  return { backend: m[2], server: m[3], status: Number(m[4]), term: m[5], redispatched: m[6] === '+', retries: Number(m[7]), method: m[8], path: m[9] };
}

// Requests per server among log lines [from, to), POSTs only (health checks are not logged).
export function shares(lines, from = 0, to = lines.length) {
  const by = {};
  let retried = 0;
  for (const l of lines.slice(from, to)) {
    const r = parseRequestLine(l);
    if (!r || r.method !== 'POST') continue;
    by[r.server] = (by[r.server] ?? 0) + 1;
    if (r.retries > 0) retried++;
  }
  return { by, retried };
}

// clients SDK clients (the stateless 2026-07-28 revision: every request
// stands alone, so any instance may answer it), each calling in a loop until
// finish(): connect (server/discover) counts as a request, then call(c, k)
// (default: tools/list). A failed request is any that threw: an HTTP error
// status, a connection cut, a timeout.
export function statelessLoad(sdk, url, { clients = 8, call = (c) => c.listTools(), timeoutMs = 30000 } = {}) {
  // posts: the HTTP POSTs answered, as the transport's fetch saw them (what
  // haproxy logs; the SDK may answer a call without one)
  const st = { clients, ok: 0, failed: 0, errors: {}, lat: [], posts: 0 };
  const countingFetch = async (u, init) => {
    const r = await fetch(u, init);
    if ((init?.method ?? 'GET') === 'POST') st.posts++;
    return r;
  };
  let stop = false;
  const fail = (e) => {
    st.failed++;
    const why = String(e?.code ?? '') + ' ' + String(e?.message ?? e).slice(0, 120);
    st.errors[why] = (st.errors[why] ?? 0) + 1;
  };
  const t0 = performance.now();
  const runs = Array.from({ length: clients }, async (_, i) => {
    const c = new sdk.Client({ name: `fleet-${i}`, version: '1' }, { versionNegotiation: { mode: { pin: MODERN } } });
    try {
      await c.connect(new sdk.StreamableHTTPClientTransport(new URL(url), { fetch: countingFetch }));
      st.ok++;
    } catch (e) { fail(e); return; }
    for (let k = 0; !stop; k++) {
      const a = performance.now();
      try { await call(c, k, { timeout: timeoutMs }); st.ok++; st.lat.push(performance.now() - a); } catch (e) { fail(e); }
    }
    await c.close().catch(() => {});
  });
  return {
    stats: st,
    async finish() {
      stop = true;
      await Promise.all(runs);
      st.elapsed = (performance.now() - t0) / 1000;
      st.lat.sort((x, y) => x - y);
      return st;
    },
  };
}
