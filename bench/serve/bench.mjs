// airlock's MCP serving against the MCP TypeScript SDK's own Streamable HTTP
// server (reference-server.mjs), both driven by the same SDK clients
// (tests/e2e/load.mjs). Run through bench/serve/run, which finds node and
// the SDK. Usage: AL_BUILD_DIR=BUILD node bench.mjs [--repeat N] [--quick]
//
// Every load phase is bounded in count and time; a watchdog ends the whole
// run, and both servers are stopped on every way out.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const e2e = path.resolve(here, '../../tests/e2e');
const { startAirlock, freePort, waitExit, sleep } = await import(path.join(e2e, 'lib.mjs'));
const { sdkLoad } = await import(path.join(e2e, 'load.mjs'));

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : def; };
const quick = args.includes('--quick');
const REPEAT = Math.max(1, Math.min(10, opt('--repeat', 1)));
const LIST_CLIENTS = 64, LIST_SECONDS = quick ? 5 : 20;
const MANY = opt('--clients', 1000);
const GEN_CLIENTS = 64, GEN_SECONDS = quick ? 4 : 10;
const MAX_TOKENS = 8;
const CALL_TIMEOUT = 30000; // ms, per SDK request
const WATCHDOG_S = 240 + REPEAT * (quick ? 60 : 150);

const sdkPkg = JSON.parse(fs.readFileSync(path.join(e2e, 'node_modules/@modelcontextprotocol/sdk/package.json'), 'utf8'));
const expressPkg = JSON.parse(fs.readFileSync(path.join(e2e, 'node_modules/express/package.json'), 'utf8'));

// ---- servers, and stopping them whatever happens ----
let ref = null, air = null;
let stopping = null;
let keepState = false; // keep airlock's state directory (audit log) after a domain restart
function stopAll() {
  stopping ??= (async () => {
    const jobs = [];
    if (ref) { ref.kill('SIGTERM'); jobs.push(waitExit(ref, 5000)); }
    if (air) jobs.push(air.stop({ keep: keepState }).catch(() => {}));
    await Promise.all(jobs);
  })();
  return stopping;
}
const watchdog = setTimeout(async () => {
  console.error(`bench serve: not done after ${WATCHDOG_S} s, stopping`);
  await stopAll();
  process.exit(2);
}, WATCHDOG_S * 1000);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, async () => { await stopAll(); process.exit(130); });

function startReference() {
  return new Promise(async (resolve, reject) => {
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(here, 'reference-server.mjs'), String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    ref = child;
    let out = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`reference server not ready: ${out}`)); }, 15000);
    const onData = (d) => {
      out += d;
      const m = /listening on (http:\S+)/.exec(out);
      if (m) { clearTimeout(timer); child.off('exit', onExit); resolve({ url: m[1], port, pid: child.pid }); }
    };
    const onExit = (code, sig) => { clearTimeout(timer); reject(new Error(`reference server exited (${code ?? sig}): ${out}`)); };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => { out += d; });
    child.once('exit', onExit);
  });
}

// ---- measuring ----
function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch { return NaN; }
}
const comm = (pid) => { try { return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return '?'; } };

// Established TCP connections to 127.0.0.1:port, as the kernel sees them
// (the client side's /proc/net/tcp: this process holds them all).
function openConnections(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const f of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text = '';
    try { text = fs.readFileSync(f, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > 3 && c[2].endsWith(`:${hex}`) && c[3] === '01') n++;
    }
  }
  return n;
}

const PROMPT = 'Once upon a time';
const generate = (c) => c.callTool({ name: 'generate', arguments: { prompt: PROMPT, max_tokens: MAX_TOKENS } }, undefined, { timeout: CALL_TIMEOUT });
const listTools = (c) => c.listTools({}, { timeout: CALL_TIMEOUT });

// A tool result with isError is an answer but not a success: counted apart.
function counting(call) {
  const box = { toolErrors: 0, text: null };
  box.call = async (c, k) => {
    const r = await call(c, k);
    if (r?.isError) { box.toolErrors++; if (!box.text) box.text = r.content?.[0]?.text; }
    return r;
  };
  return box;
}

async function listPhase(url) {
  return sdkLoad(url, { clients: LIST_CLIENTS, seconds: LIST_SECONDS, call: listTools });
}

// MANY clients at once: initialize, the GET stream, tools/list, generate.
async function manyPhase(srv, pids) {
  const box = counting((c, k) => (k === 0 ? listTools(c) : generate(c)));
  let mem = null;
  const st = await sdkLoad(srv.url, {
    clients: MANY, calls: 2, seconds: 90, holdMs: 1500, call: box.call,
    connected: async () => {
      mem = { conns: openConnections(srv.port), rss: pids.map(rssKiB) };
    },
  });
  st.toolErrors = box.toolErrors;
  st.toolErrorText = box.text;
  st.mem = mem;
  return st;
}

// CPU time of a process, all its threads, in ms (utime + stime in clock ticks
// of 10 ms, USER_HZ being 100 on Linux).
function cpuMs(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch { return NaN; }
}

// pids: the proto and AI domains' workers, whose CPU time per ok call is
// reported next to the SDK clients' own (this process): where the time goes.
async function genPhase(url, clients, pids) {
  const box = counting(generate);
  const c0 = process.cpuUsage(), d0 = pids.map(cpuMs);
  const st = await sdkLoad(url, { clients, seconds: GEN_SECONDS, call: box.call });
  const c1 = process.cpuUsage(c0), d1 = pids.map(cpuMs);
  st.toolErrors = box.toolErrors;
  st.toolErrorText = box.text;
  st.okRps = (st.ok - st.toolErrors) / st.elapsed;
  const ok = Math.max(1, st.ok - st.toolErrors);
  st.cpuPerCall = [(c1.user + c1.system) / 1000, d1[0] - d0[0], d1[1] - d0[1]].map((ms) => ms / ok);
  return st;
}

// Restarts of each airlock domain since the start ("down" when status fails).
async function restarts() {
  try {
    const st = await air.status();
    const r = Object.fromEntries(st.domains.map((d) => [d.name, d.restarts]));
    if (Object.values(r).some((n) => n > 0)) keepState = true;
    return r;
  } catch (e) {
    keepState = true;
    return { status: `failed: ${String(e.message ?? e).slice(0, 80)}` };
  }
}

// ---- reporting ----
const median = (xs) => { const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b); return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN; };
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '–');
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${fmt(a / b, 2)}×` : '–');
const httpStr = (h) => { const e = Object.entries(h); return e.length ? e.map(([k, v]) => `${v}×${k}`).join(' ') : '0'; };
const httpSum = (h) => Object.values(h).reduce((a, b) => a + b, 0);

function table(runs) {
  const m = (f) => median(runs.map(f));
  const rows = [];
  const row = (what, a, r, rat = '') => rows.push(`| ${what} | ${a} | ${r} | ${rat} |`);
  const la = m((x) => x.air.list.rps), lr = m((x) => x.ref.list.rps);
  row(`tools/list, ${LIST_CLIENTS} clients, ${LIST_SECONDS} s: req/s`, fmt(la), fmt(lr), ratio(la, lr));
  const pa = m((x) => x.air.list.p50), pr = m((x) => x.ref.list.p50);
  row('tools/list p50 latency, ms', fmt(pa, 2), fmt(pr, 2), ratio(pa, pr));
  const qa = m((x) => x.air.list.p99), qr = m((x) => x.ref.list.p99);
  row('tools/list p99 latency, ms', fmt(qa, 2), fmt(qr, 2), ratio(qa, qr));
  const lf = (s) => `${s.noResponse + httpSum(s.http)}`;
  row('tools/list failed calls (HTTP error / no response)', runs.map((x) => lf(x.air.list)).join(', '), runs.map((x) => lf(x.ref.list)).join(', '));
  const many = (k, f) => runs.map((x) => f(x[k].many)).join(', ');
  row(`${MANY} clients: connected (initialize + GET stream)`, many('air', (s) => s.connected), many('ref', (s) => s.connected));
  row(`${MANY} clients: ok calls of ${2 * MANY} (tools/list + generate max_tokens ${MAX_TOKENS})`,
    many('air', (s) => s.ok - s.toolErrors), many('ref', (s) => s.ok - s.toolErrors));
  row(`${MANY} clients: HTTP error answers`, many('air', (s) => httpStr(s.http)), many('ref', (s) => httpStr(s.http)));
  row(`${MANY} clients: tool errors (isError results)`, many('air', (s) => s.toolErrors), many('ref', (s) => s.toolErrors));
  row(`${MANY} clients: closed without any HTTP response`, many('air', (s) => s.noResponse), many('ref', (s) => s.noResponse));
  row(`${MANY} clients: GET stream / transport errors seen by the SDK`, many('air', (s) => s.streamErrorsBeforeClose), many('ref', (s) => s.streamErrorsBeforeClose));
  row(`${MANY} clients: open TCP connections when RSS was read`, many('air', (s) => s.mem?.conns), many('ref', (s) => s.mem?.conns));
  const ra = m((x) => x.air.many.mem?.rss[1]), rr = m((x) => x.ref.many.mem?.rss[0]);
  const rd = m((x) => x.air.many.mem?.rss[0]);
  row(`RSS with ${MANY} clients connected, MiB (airlock-proto worker; the domain's init adds ${fmt(rd / 1024, 1)})`, fmt(ra / 1024, 1), fmt(rr / 1024, 1), ratio(ra, rr));
  const g64 = m((x) => x.air.gen64.okRps), g1 = m((x) => x.air.gen1.okRps);
  row(`generate max_tokens ${MAX_TOKENS}, ${GEN_CLIENTS} clients, ${GEN_SECONDS} s: ok req/s`, fmt(g64), 'not run', '');
  row(`generate max_tokens ${MAX_TOKENS}, 1 client at a time: ok req/s`, fmt(g1), 'not run', '');
  row(`generate: ${GEN_CLIENTS} clients / 1 client`, ratio(g64, g1), '', '');
  const gp = m((x) => x.air.gen64.p50), gq = m((x) => x.air.gen64.p99), g1p = m((x) => x.air.gen1.p50);
  row(`generate p50 / p99 ms, ${GEN_CLIENTS} clients (1 client: p50)`, `${fmt(gp, 1)} / ${fmt(gq, 1)} (${fmt(g1p, 2)})`, '', '');
  const gf = (s) => `${s.noResponse + httpSum(s.http) + s.toolErrors}`;
  row('generate failed calls (64 clients, 1 client)', runs.map((x) => `${gf(x.air.gen64)}, ${gf(x.air.gen1)}`).join('; '), '', '');
  const cpu = (g) => g.cpuPerCall.map((v) => fmt(v, 2)).join(' / ');
  row('generate CPU per ok call, ms: SDK clients / proto domain / AI domain (64 clients; 1 client)', runs.map((x) => `${cpu(x.air.gen64)}; ${cpu(x.air.gen1)}`).join(' \\| '), '', '');
  row('airlock proto domain restarts after the tools/list, generate, many-clients phases', runs.map((x) => ['list', 'generate', 'many'].map((k) => x.after[k]?.proto ?? x.after[k]?.status).join(' / ')).join('; '), '', '');
  return ['| measure | airlock | SDK reference server | airlock / reference |', '|---|---|---|---|', ...rows].join('\n');
}

// ---- the run ----
let rc = 0;
try {
  console.log(`node ${process.version}, @modelcontextprotocol/sdk ${sdkPkg.version} (clients and reference server), express ${expressPkg.version}`);
  const refSrv = await startReference();
  // The shipped configuration, with [proto] max_connections as documented.
  air = await startAirlock({ proto: { max_connections: 4096 } });
  const st = await air.status();
  const dom = st.domains.find((d) => d.name === 'proto');
  const aiDom = st.domains.find((d) => d.name === 'ai');
  const airPids = [dom.pid, dom.worker_pid];
  const genPids = [dom.worker_pid, aiDom.worker_pid];
  console.log(`airlock ${st.version} at ${air.url} (level ${st.level}; proto domain pid ${dom.pid} ${comm(dom.pid)}, worker ${dom.worker_pid} ${comm(dom.worker_pid)}; ai worker ${comm(aiDom.worker_pid)})`);
  console.log(`reference at ${refSrv.url} (pid ${refSrv.pid})`);
  const idle = { air: rssKiB(dom.worker_pid), ref: rssKiB(refSrv.pid) };
  console.log(`RSS idle: airlock-proto ${fmt(idle.air / 1024, 1)} MiB, reference ${fmt(idle.ref / 1024, 1)} MiB`);
  if (process.env.AL_LOAD_AVG !== '0') console.log(`load average before: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);

  const runs = [];
  for (let r = 0; r < REPEAT; r++) {
    const x = { air: {}, ref: {} };
    const say = (s) => console.log(`[run ${r + 1}/${REPEAT}] ${s}`);
    const after = {};
    x.ref.list = await listPhase(refSrv.url); say(`reference tools/list: ${fmt(x.ref.list.rps)} req/s`);
    x.air.list = await listPhase(air.url); say(`airlock tools/list: ${fmt(x.air.list.rps)} req/s`);
    after.list = await restarts();
    // generate before the many-clients phase, which may leave the domain restarting
    x.air.gen64 = await genPhase(air.url, GEN_CLIENTS, genPids); say(`airlock generate ${GEN_CLIENTS} clients: ${JSON.stringify(x.air.gen64)}`);
    x.air.gen1 = await genPhase(air.url, 1, genPids); say(`airlock generate 1 client: ${JSON.stringify(x.air.gen1)}`);
    if (x.air.gen1.toolErrorText) say(`generate tool error: ${x.air.gen1.toolErrorText}`);
    after.generate = await restarts();
    x.ref.many = await manyPhase(refSrv, [refSrv.pid]); say(`reference ${MANY} clients: ${JSON.stringify(x.ref.many)}`);
    await sleep(1000);
    x.air.many = await manyPhase(air, airPids); say(`airlock ${MANY} clients: ${JSON.stringify(x.air.many)}`);
    after.many = await restarts();
    say(`domain restarts after each phase: ${JSON.stringify(after)}`);
    x.after = after;
    runs.push(x);
  }
  console.log(`load average after: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  console.log(`\n${REPEAT > 1 ? `Medians of ${REPEAT} runs (count rows: every run)` : 'One run'}; ratio column: airlock / reference (for latency and RSS, lower is better).\n`);
  console.log(table(runs));
} catch (e) {
  console.error(`bench serve: ${e?.stack ?? e}`);
  rc = 1;
} finally {
  const log = air?.stderr?.() ?? '';
  if (log) {
    const f = path.join(process.env.TMPDIR ?? '/tmp', `airlock-bench-serve-${process.pid}.log`);
    fs.writeFileSync(f, log);
    const lines = log.trimEnd().split('\n');
    console.log(`\nairlock run's log (${lines.length} lines, whole log in ${f}), last lines:\n${lines.slice(-15).join('\n')}`);
  }
  await stopAll();
  if (keepState && air) console.log(`airlock's state directory (audit log) kept: ${air.state}`);
  clearTimeout(watchdog);
}
process.exit(rc);
