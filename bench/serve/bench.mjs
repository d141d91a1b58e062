// airlock's MCP serving against the MCP TypeScript SDK's own Streamable HTTP
// server (reference-server.mjs), both driven by the same SDK clients
// (tests/e2e/load.mjs); then airlock's recovery under load (recovery.mjs).
// Run through bench/serve/run, which finds node and the SDK. Usage:
// AL_BUILD_DIR=BUILD node bench.mjs [--repeat N] [--quick] [--clients N]
//   [--only list,generate,many,recovery]
//
// Every load phase is bounded in count and time; a watchdog ends the whole
// run, and both servers are stopped on every way out.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const e2e = path.resolve(here, '../../tests/e2e');
const { startAirlock, freePort, waitExit, sleep, AIRLOCK } = await import(path.join(e2e, 'lib.mjs'));
const { sdkLoad } = await import(path.join(e2e, 'load.mjs'));
const { recoveryPhase } = await import(path.join(here, 'recovery.mjs'));

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : def; };
const quick = args.includes('--quick');
const REPEAT = Math.max(1, Math.min(10, opt('--repeat', 1)));
const LIST_CLIENTS = 64, LIST_SECONDS = quick ? 5 : 20;
const MANY = opt('--clients', 1000);
const GEN_CLIENTS = 64, GEN_SECONDS = quick ? 4 : 10;
const MAX_TOKENS = 8;
const CALL_TIMEOUT = 30000; // ms, per SDK request
const KILL_CLIENTS = 64, KILL_SECONDS = quick ? 20 : 60, KILL_EVERY = 5;
const PHASES = ['list', 'generate', 'many', 'recovery'];
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? String(args[onlyArg + 1] ?? '').split(',') : PHASES;
for (const p of only) if (!PHASES.includes(p)) { console.error(`bench serve: --only: no phase '${p}' (${PHASES.join(', ')})`); process.exit(2); }
const run = (p) => only.includes(p);
const WATCHDOG_S = 240 + REPEAT * (quick ? 60 : 150) + (run('recovery') ? KILL_SECONDS + 60 : 0);

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
    // Again once every client has made its calls: its connections have served requests.
    done: async () => {
      mem.connsAfter = openConnections(srv.port);
      mem.rssAfter = pids.map(rssKiB);
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
  if (run('list')) {
    const la = m((x) => x.air.list.rps), lr = m((x) => x.ref.list.rps);
    row(`tools/list, ${LIST_CLIENTS} clients, ${LIST_SECONDS} s: req/s`, fmt(la), fmt(lr), ratio(la, lr));
    const pa = m((x) => x.air.list.p50), pr = m((x) => x.ref.list.p50);
    row('tools/list p50 latency, ms', fmt(pa, 2), fmt(pr, 2), ratio(pa, pr));
    const qa = m((x) => x.air.list.p99), qr = m((x) => x.ref.list.p99);
    row('tools/list p99 latency, ms', fmt(qa, 2), fmt(qr, 2), ratio(qa, qr));
    const lf = (st) => `${st.noResponse + httpSum(st.http)}`;
    row('tools/list failed calls (HTTP error / no response)', runs.map((x) => lf(x.air.list)).join(', '), runs.map((x) => lf(x.ref.list)).join(', '));
  }
  if (run('many')) {
    const many = (k, f) => runs.map((x) => f(x[k].many)).join(', ');
    row(`${MANY} clients: connected (initialize + GET stream)`, many('air', (st) => st.connected), many('ref', (st) => st.connected));
    row(`${MANY} clients: ok calls of ${2 * MANY} (tools/list + generate max_tokens ${MAX_TOKENS})`,
      many('air', (st) => st.ok - st.toolErrors), many('ref', (st) => st.ok - st.toolErrors));
    row(`${MANY} clients: HTTP error answers`, many('air', (st) => httpStr(st.http)), many('ref', (st) => httpStr(st.http)));
    row(`${MANY} clients: tool errors (isError results)`, many('air', (st) => st.toolErrors), many('ref', (st) => st.toolErrors));
    row(`${MANY} clients: closed without any HTTP response`, many('air', (st) => st.noResponse), many('ref', (st) => st.noResponse));
    row(`${MANY} clients: GET stream / transport errors seen by the SDK`, many('air', (st) => st.streamErrorsBeforeClose), many('ref', (st) => st.streamErrorsBeforeClose));
    row(`${MANY} clients: open TCP connections when RSS was read`, many('air', (st) => st.mem?.conns), many('ref', (st) => st.mem?.conns));
    const ra = m((x) => x.air.many.mem?.rss[1]), rr = m((x) => x.ref.many.mem?.rss[0]);
    const rd = m((x) => x.air.many.mem?.rss[0]);
    row(`RSS with ${MANY} clients connected, MiB (airlock-proto worker; the domain's init adds ${fmt(rd / 1024, 1)})`, fmt(ra / 1024, 1), fmt(rr / 1024, 1), ratio(ra, rr));
    const ca = m((x) => x.air.many.mem?.rss[1] / x.air.many.mem?.conns), cr = m((x) => x.ref.many.mem?.rss[0] / x.ref.many.mem?.conns);
    row('the same per open connection, KiB', fmt(ca, 1), fmt(cr, 1), ratio(ca, cr));
    row(`${MANY} clients: open TCP connections after their calls`, many('air', (st) => st.mem?.connsAfter), many('ref', (st) => st.mem?.connsAfter));
    const sa = m((x) => x.air.many.mem?.rssAfter[1]), sr = m((x) => x.ref.many.mem?.rssAfter[0]);
    row(`RSS then (every connection has served requests), MiB`, fmt(sa / 1024, 1), fmt(sr / 1024, 1), ratio(sa, sr));
    const pa = m((x) => x.air.many.mem?.rssAfter[1] / x.air.many.mem?.connsAfter), pr = m((x) => x.ref.many.mem?.rssAfter[0] / x.ref.many.mem?.connsAfter);
    row('the same per open connection, KiB', fmt(pa, 1), fmt(pr, 1), ratio(pa, pr));
  }
  if (run('generate')) {
    const g64 = m((x) => x.air.gen64.okRps), g1 = m((x) => x.air.gen1.okRps);
    row(`generate max_tokens ${MAX_TOKENS}, ${GEN_CLIENTS} clients, ${GEN_SECONDS} s: ok req/s`, fmt(g64), 'not run', '');
    row(`generate max_tokens ${MAX_TOKENS}, 1 client at a time: ok req/s`, fmt(g1), 'not run', '');
    row(`generate: ${GEN_CLIENTS} clients / 1 client`, ratio(g64, g1), '', '');
    const gp = m((x) => x.air.gen64.p50), gq = m((x) => x.air.gen64.p99), g1p = m((x) => x.air.gen1.p50);
    row(`generate p50 / p99 ms, ${GEN_CLIENTS} clients (1 client: p50)`, `${fmt(gp, 1)} / ${fmt(gq, 1)} (${fmt(g1p, 2)})`, '', '');
    const gf = (st) => `${st.noResponse + httpSum(st.http) + st.toolErrors}`;
    row('generate failed calls (64 clients, 1 client)', runs.map((x) => `${gf(x.air.gen64)}, ${gf(x.air.gen1)}`).join('; '), '', '');
    const cpu = (g) => g.cpuPerCall.map((v) => fmt(v, 2)).join(' / ');
    row('generate CPU per ok call, ms: SDK clients / proto domain / AI domain (64 clients; 1 client)', runs.map((x) => `${cpu(x.air.gen64)}; ${cpu(x.air.gen1)}`).join(' \\| '), '', '');
  }
  const phases = ['list', 'generate', 'many'].filter(run);
  if (phases.length)
    row(`airlock proto domain restarts after the ${phases.join(', ')} phases`, runs.map((x) => phases.map((k) => x.after[k]?.proto ?? x.after[k]?.status).join(' / ')).join('; '), '', '');
  return ['| measure | airlock | SDK reference server | airlock / reference |', '|---|---|---|---|', ...rows].join('\n');
}

// The recovery phase's figures: calls by outcome, and recovery times per kind of kill.
function recoveryTable(runs) {
  const rows = [];
  const row = (what, v) => rows.push(`| ${what} | ${v} |`);
  const each = (f) => runs.map((x) => f(x.rec)).join('; ');
  const sum = (o) => Object.values(o ?? {}).reduce((a, b) => a + b, 0);
  const outcomes = (o) => Object.entries(o).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${fmt(v)} ${k}`).join(', ');
  const kills = (r, v) => r.per.filter((p) => p.victim === v);
  const ms = (xs) => { const f = xs.filter(Number.isFinite).sort((a, b) => a - b); return f.length ? `${fmt(median(f), 0)} / ${fmt(f.at(-1), 0)}` : '–'; };
  const unrecovered = (xs) => xs.filter((x) => !Number.isFinite(x)).length;
  row(`kills (SIGKILL of a domain every ${KILL_EVERY} s for ${KILL_SECONDS} s, AI and protocol domain in turn)`, each((r) => `${kills(r, 'ai').length} AI + ${kills(r, 'proto').length} protocol${r.failedKills.length ? `; not done: ${r.failedKills.join(', ')}` : ''}`));
  row(`SDK calls, ${KILL_CLIENTS} clients (tools/list and generate max_tokens ${MAX_TOKENS} in turn)`, each((r) => `${outcomes(r.load.outcomes)}${r.load.connected < KILL_CLIENTS ? ` (${r.load.connected} clients connected at the first try: ${r.load.errors.filter((e) => e.startsWith('http')).join('; ')})` : ''}`));
  row('**bad responses** (no answer: reset, cut, timeout; goal 0)', each((r) => `${sum(r.per.reduce((o, p) => { for (const [k, v] of Object.entries(p.bad)) o[k] = (o[k] ?? 0) + v; return o; }, {}))}` + (r.per.some((p) => sum(p.bad)) ? ` (${r.per.filter((p) => sum(p.bad)).map((p) => `${p.victim}: ${p.badSample.join(', ')}`).join('; ')})` : '')));
  row('calls on the killed protocol domain\'s connections, per kill (in flight, or sent on a kept-alive one; cannot be answered)', each((r) => kills(r, 'proto').map((p) => sum(p.lost)).join(' ')));
  row('then: 404 (session gone with the killed domain) and new sessions, per protocol domain kill', each((r) => kills(r, 'proto').map((p) => p.after['http 404'] ?? 0).join(' ')));
  row('calls without an answer before the first kill', each((r) => sum(Object.fromEntries(Object.entries(r.before).filter(([k]) => ['reset', 'reset kept-alive', 'cut', 'timeout'].includes(k))))));
  row('**recovery, AI domain kill**: kill to first successful generate started after it (probe), median / max ms', each((r) => `${ms(kills(r, 'ai').map((p) => p.probeRecover))}${unrecovered(kills(r, 'ai').map((p) => p.probeRecover)) ? ` (${unrecovered(kills(r, 'ai').map((p) => p.probeRecover))} not recovered before the next kill)` : ''}`));
  row('**recovery, protocol domain kill**: kill to first successful request (probe), median / max ms', each((r) => `${ms(kills(r, 'proto').map((p) => p.probeRecover))}${unrecovered(kills(r, 'proto').map((p) => p.probeRecover)) ? ` (${unrecovered(kills(r, 'proto').map((p) => p.probeRecover))} not recovered before the next kill)` : ''}`));
  row('same, protocol domain kill, first successful generate (probe)', each((r) => ms(kills(r, 'proto').map((p) => p.probeRecoverGen))));
  row('as the SDK clients see it (AI kill: generate; protocol kill: any call, after reopening sessions), median / max ms', each((r) => `AI ${ms(kills(r, 'ai').map((p) => p.sdkRecover))}; protocol ${ms(kills(r, 'proto').map((p) => p.sdkRecover))}`));
  row('from the kill: the domain\'s processes gone / the exit record / the restart record (audit log), median ms', each((r) => ['ai', 'proto'].map((v) => `${v === 'ai' ? 'AI' : 'protocol'} ${['goneMs', 'exitMs', 'restartMs'].map((f) => fmt(median(kills(r, v).map((p) => p[f])), 0)).join(' / ')}`).join('; ')));
  row('probe requests: outcomes', each((r) => outcomes(r.per.reduce((o, p) => { for (const [k, v] of Object.entries(p.probe)) o[k] = (o[k] ?? 0) + v; return o; }, {}))));
  row('probe requests without an answer: on a connection the killed protocol domain accepted / **bad**', each((r) => `${r.per.reduce((n, p) => n + p.probeLost, 0)} / ${r.per.reduce((n, p) => n + p.probeBad, 0)}`));
  row('the SDK clients\' own event loop delay, p50 / p99 ms (in every time they see)', each((r) => `${fmt(r.load.loopDelay.p50, 1)} / ${fmt(r.load.loopDelay.p99, 1)}`));
  row('the supervisor\'s CPU over the phase (12 restarts and its ticks), ms', each((r) => fmt(r.load.supervisorCpuMs)));
  return ['| recovery under load | airlock |', '|---|---|', ...rows].join('\n');
}

// ---- the run ----
const loadavg = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
let rc = 0;
try {
  console.log(`node ${process.version}, @modelcontextprotocol/sdk ${sdkPkg.version} (clients and reference server), express ${expressPkg.version}`);
  const refSrv = run('list') || run('many') ? await startReference() : null;
  // The shipped configuration, with [proto] max_connections as documented.
  air = await startAirlock({ proto: { max_connections: 4096 } });
  const st = await air.status();
  const dom = st.domains.find((d) => d.name === 'proto');
  const aiDom = st.domains.find((d) => d.name === 'ai');
  const airPids = [dom.pid, dom.worker_pid];
  const genPids = [dom.worker_pid, aiDom.worker_pid];
  console.log(`airlock ${st.version} at ${air.url} (level ${st.level}; proto domain pid ${dom.pid} ${comm(dom.pid)}, worker ${dom.worker_pid} ${comm(dom.worker_pid)}; ai worker ${comm(aiDom.worker_pid)})`);
  if (refSrv) console.log(`reference at ${refSrv.url} (pid ${refSrv.pid})`);
  const idle = { air: rssKiB(dom.worker_pid), ref: refSrv ? rssKiB(refSrv.pid) : NaN };
  console.log(`RSS idle: airlock-proto ${fmt(idle.air / 1024, 1)} MiB, reference ${fmt(idle.ref / 1024, 1)} MiB`);
  console.log(`load average before: ${loadavg()}`);

  const runs = [];
  for (let r = 0; r < REPEAT; r++) {
    const x = { air: {}, ref: {} };
    const say = (s) => console.log(`[run ${r + 1}/${REPEAT}] ${s}`);
    const after = {};
    if (run('list')) {
      x.ref.list = await listPhase(refSrv.url); say(`reference tools/list: ${fmt(x.ref.list.rps)} req/s`);
      x.air.list = await listPhase(air.url); say(`airlock tools/list: ${fmt(x.air.list.rps)} req/s`);
      after.list = await restarts();
    }
    // generate before the many-clients phase, which may leave the domain restarting
    if (run('generate')) {
      x.air.gen64 = await genPhase(air.url, GEN_CLIENTS, genPids); say(`airlock generate ${GEN_CLIENTS} clients: ${JSON.stringify(x.air.gen64)}`);
      x.air.gen1 = await genPhase(air.url, 1, genPids); say(`airlock generate 1 client: ${JSON.stringify(x.air.gen1)}`);
      if (x.air.gen1.toolErrorText) say(`generate tool error: ${x.air.gen1.toolErrorText}`);
      after.generate = await restarts();
    }
    if (run('many')) {
      x.ref.many = await manyPhase(refSrv, [refSrv.pid]); say(`reference ${MANY} clients: ${JSON.stringify(x.ref.many)}`);
      await sleep(1000);
      x.air.many = await manyPhase(air, airPids); say(`airlock ${MANY} clients: ${JSON.stringify(x.air.many)}`);
      after.many = await restarts();
    }
    say(`domain restarts after each phase: ${JSON.stringify(after)}`);
    // Last: it restarts the domains on purpose.
    if (run('recovery')) {
      say(`recovery: load average ${loadavg()}`);
      x.rec = await recoveryPhase(air, AIRLOCK, { clients: KILL_CLIENTS, seconds: KILL_SECONDS, every: KILL_EVERY, maxTokens: MAX_TOKENS, say });
      for (const p of x.rec.per) say(`kill of the ${p.victim} domain: ${JSON.stringify(p)}`);
      say(`recovery: SDK calls ${JSON.stringify(x.rec.load)}; load average ${loadavg()}`);
      keepState = true; // the audit log of the kills
    }
    x.after = after;
    runs.push(x);
  }
  // Incidents the guard raised on its own during the run (none is caused by the kills).
  const incidents = fs.readFileSync(path.join(air.state, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    .filter((x) => x.event === 'incident').map((x) => `${x.time} ${x.fields.domain} ${x.fields.type} ${x.fields.rule} (${(x.fields.steps ?? []).join(', ')})`);
  console.log(`incidents in airlock's audit log: ${incidents.length ? `\n  ${incidents.join('\n  ')}` : 'none'}`);
  if (incidents.length) keepState = true;
  console.log(`load average after: ${loadavg()}`);
  console.log(`\n${REPEAT > 1 ? `Medians of ${REPEAT} runs (count rows: every run)` : 'One run'}; ratio column: airlock / reference (for latency and RSS, lower is better).\n`);
  if (['list', 'generate', 'many'].some(run)) console.log(table(runs));
  if (run('recovery')) console.log(`\n${recoveryTable(runs)}`);
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
