// Recovery under load. SDK clients (tests/e2e/load.mjs) call tools/list and
// generate in turn while a domain is killed with SIGKILL every few seconds:
// the AI domain and the protocol domain alternately, the domain's pid as
// `airlock status --json` reports it (its pid namespace's init: the whole
// domain goes).
//
// The killing, and a probe, run in a worker thread with an event loop of its
// own, so that neither waits behind the SDK clients' work: the probe sends
// stateless (2026-07-28) tools/list and generate requests one at a time, each
// on a new connection, and gives the recovery time of each kill as the
// server shows it: from the kill to the first success of a request started
// after it. The SDK clients give what clients see: every call's outcome, and
// their own recovery time (which includes their queueing and, after a
// protocol domain's death, opening their sessions again).
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
const PROMPT = 'Once upon a time';
const MODERN = '2026-07-28';
// A time of this thread's clock on a clock every thread shares (ms since the epoch).
const wall = (t) => performance.timeOrigin + t;

/* ---- the worker: kills and probes ------------------------------------------ */

function probeRequest(port, id, kind, maxTokens) {
  const params = kind === 'generate'
    ? { name: 'generate', arguments: { prompt: PROMPT, max_tokens: maxTokens }, _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} } }
    : { _meta: { 'io.modelcontextprotocol/protocolVersion': MODERN, 'io.modelcontextprotocol/clientCapabilities': {} } };
  const body = JSON.stringify({ jsonrpc: '2.0', id, method: kind === 'generate' ? 'tools/call' : 'tools/list', params });
  const headers = {
    'content-type': 'application/json', accept: 'application/json, text/event-stream',
    'mcp-protocol-version': MODERN, 'mcp-method': kind === 'generate' ? 'tools/call' : 'tools/list',
    ...(kind === 'generate' ? { 'mcp-name': 'generate' } : {}),
  };
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/mcp', headers, agent: false, timeout: 10000 }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { data += d; });
      res.on('error', () => resolve('cut'));
      res.on('close', () => {
        if (!res.complete) return resolve('cut');
        if (res.statusCode !== 200) return resolve(`http ${res.statusCode}`);
        const msgs = data.trim().startsWith('{') ? [data] : data.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
        const m = msgs.map((x) => { try { return JSON.parse(x); } catch { return {}; } }).find((x) => x.id === id);
        resolve(!m ? 'cut' : m.error ? 'rpc error' : m.result?.isError ? 'tool error' : 'ok');
      });
    });
    req.on('timeout', () => { req.destroy(); resolve('timeout'); });
    req.on('error', () => resolve('reset'));
    req.end(body);
  });
}

function status(airlock, conf) {
  return new Promise((resolve, reject) => {
    execFile(airlock, ['status', '--json', '--config', conf], { timeout: 10000 }, (err, out) => {
      if (err) return reject(err);
      try { resolve(JSON.parse(out)); } catch (e) { reject(e); }
    });
  });
}

// Gone or a zombie (its init's exit waits for the supervisor to reap it).
function alive(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch { return false; }
}

// When every pid is gone (this thread's clock), polled every millisecond for at most 5 s.
async function watchGone(pids) {
  const end = performance.now() + 5000;
  while (performance.now() < end) {
    if (!pids.some((p) => p && alive(p))) return performance.now();
    await sleep(1);
  }
  return undefined;
}

async function workerMain({ airlock, conf, port, seconds, every, settle, maxTokens }) {
  const kills = [], probes = [];
  const t0 = performance.now();
  const end = t0 + (seconds + settle) * 1000;
  let stop = false;
  const probing = (async () => {
    for (let id = 1; !stop && performance.now() < end; id++) {
      const kind = id % 2 ? 'tools/list' : 'generate';
      const a = performance.now();
      const outcome = await probeRequest(port, id, kind, maxTokens);
      probes.push({ kind, t0: wall(a), t1: wall(performance.now()), outcome });
      if (outcome !== 'ok') await sleep(2); // never a tight loop against a refusing server
    }
  })();
  for (let i = 1; i * every <= seconds; i++) {
    await sleep(Math.max(0, t0 + i * every * 1000 - performance.now()));
    const victim = i % 2 ? 'ai' : 'proto';
    let st;
    try { st = await status(airlock, conf); } catch (e) { kills.push({ victim, error: `status: ${e.message}` }); continue; }
    const dom = st.domains.find((d) => d.name === victim);
    const down = st.domains.filter((d) => d.state !== 'running').map((d) => `${d.name} ${d.state}`);
    if (!dom?.pid || dom.state !== 'running') { kills.push({ victim, error: `not running: ${down.join(', ')}` }); continue; }
    const t = performance.now();
    try { process.kill(dom.pid, 'SIGKILL'); } catch (e) { kills.push({ victim, error: `kill: ${e.message}` }); continue; }
    const k = { victim, t: wall(t), pid: dom.pid };
    kills.push(k);
    parentPort.postMessage({ say: `kill ${kills.length}: ${victim} domain (pid ${dom.pid})` });
    // The domain's processes die after the signal, not at it: until they are
    // gone, the old domain may still answer. Watched apart from the probe.
    watchGone([dom.pid, dom.worker_pid]).then((g) => { k.gone = g === undefined ? undefined : wall(g); });
  }
  await sleep(Math.max(0, end - performance.now()));
  stop = true;
  await probing;
  parentPort.postMessage({ done: { kills, probes } });
}

if (!isMainThread && workerData?.recovery) await workerMain(workerData.recovery);

/* ---- the main thread: SDK clients and the figures ------------------------------- */

const e2e = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../tests/e2e');
const { sdkLoad, NO_ANSWER } = isMainThread ? await import(path.join(e2e, 'load.mjs')) : {};
const answered = (o) => !NO_ANSWER.has(o);
const kindOf = (k) => (k < 0 ? 'initialize' : k % 2 ? 'generate' : 'tools/list');

// A process's CPU time (user + system), ms.
function cpuMs(pid) {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms (USER_HZ 100)
  } catch { return NaN; }
}

// The audit log's records, with their times in ms since the epoch.
function auditTimes(state) {
  let text = '';
  try { text = fs.readFileSync(path.join(state, 'audit.log'), 'utf8'); } catch { return []; }
  return text.split('\n').filter(Boolean).map((l) => {
    const r = JSON.parse(l);
    const us = /\.\d{3}(\d*)Z$/.exec(r.time)?.[1] ?? '';
    return { event: r.event, fields: r.fields, t: Date.parse(r.time) + (us ? Number(`0.${us}`) : 0) };
  });
}

/*
 * air: a started airlock (tests/e2e/lib.mjs startAirlock); airlock: its
 * program. Kills at every, 2 every, ... up to seconds; the load goes on
 * settle seconds after the last. callTimeout bounds each SDK call.
 */
export async function recoveryPhase(air, airlock, { clients = 64, seconds = 60, every = 5, settle = 3, maxTokens = 8, callTimeout = 10000, say = () => {} } = {}) {
  const recs = [];
  const call = (c, k, o) => (k % 2
    ? c.callTool({ name: 'generate', arguments: { prompt: PROMPT, max_tokens: maxTokens } }, undefined, { ...o, timeout: callTimeout })
    : c.listTools({}, { ...o, timeout: callTimeout }));
  let worker;
  const killed = new Promise((resolve, reject) => {
    // Started once the SDK clients are connected (below), so the first kill finds them calling.
    worker = () => {
      const w = new Worker(fileURLToPath(import.meta.url), { workerData: { recovery: { airlock, conf: air.conf, port: air.port, seconds, every, settle, maxTokens } } });
      w.on('message', (m) => { if (m.say) say(m.say); if (m.done) resolve(m.done); });
      w.on('error', reject);
      w.on('exit', (code) => reject(new Error(`the kill and probe thread ended (${code}) before its report`)));
    };
  });
  const supCpu0 = cpuMs(air.child.pid);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const load = await sdkLoad(air.url, {
    clients, seconds: seconds + settle, call, reopen: true, holdMs: 500,
    record: (r) => recs.push({ ...r, t0: wall(r.t0), t1: wall(r.t1), conn: r.conn === undefined ? undefined : wall(r.conn) }),
    connected: () => worker(),
  });
  lag.disable();
  // How late the SDK clients' own thread ran its work: part of every time they see.
  load.loopDelay = { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6 };
  // The supervisor's CPU over the phase: its restarts (and its ticks).
  load.supervisorCpuMs = cpuMs(air.child.pid) - supCpu0;
  const { kills, probes } = await killed;
  return { load, ...analyse(recs, probes, kills, auditTimes(air.state)) };
}

// A call ending in [from, to) belongs to the kill at from: its outcome shows there.
function analyse(recs, probes, kills, audit) {
  const done = kills.filter((k) => k.t !== undefined);
  const first = done[0]?.t ?? Infinity;
  const count = (rs) => rs.reduce((o, r) => ((o[r.outcome] = (o[r.outcome] ?? 0) + 1), o), {});
  const before = recs.filter((r) => r.t1 < first);
  const per = done.map((k, i) => {
    const next = done[i + 1]?.t ?? Infinity;
    const mine = (rs) => rs.filter((r) => r.t1 >= k.t && r.t1 < next);
    const inflight = mine(recs).filter((r) => r.t0 < k.t);
    const after = mine(recs).filter((r) => r.t0 >= k.t);
    // From the kill to the first success of a call started once the killed
    // domain was gone (its end): the one before could still answer.
    const from = k.gone ?? k.t;
    const firstOk = (rs, kinds) => {
      let best = Infinity;
      for (const r of rs) if (r.t0 >= from && r.t0 < next && kinds.includes(r.kind ?? kindOf(r.k)) && r.outcome === 'ok') best = Math.min(best, r.t1 - k.t);
      return best;
    };
    const exit = audit.find((a) => a.event === 'exit' && a.fields?.domain === k.victim && a.t >= k.t - 5);
    const restart = audit.find((a) => a.event === 'restart' && a.t >= k.t - 5);
    // A protocol domain's death takes its connections: a call on one of them
    // (in flight, or sent on a kept-alive one before the client saw it close,
    // or on one the dying domain accepted before it was gone) cannot be
    // answered. Every other call without an answer is a bad response.
    const noAnswer = [...inflight, ...after].filter((r) => !answered(r.outcome));
    const lost = noAnswer.filter((r) => k.victim === 'proto' && r.conn !== undefined && r.conn < (k.gone ?? k.t));
    const bad = noAnswer.filter((r) => !lost.includes(r));
    // The probe opens a connection per request: one opened before the domain was gone.
    const probeNo = probes.filter((p) => p.t1 >= k.t && p.t1 < next && !answered(p.outcome));
    const probeLost = probeNo.filter((p) => k.victim === 'proto' && p.t0 < (k.gone ?? k.t));
    return {
      victim: k.victim,
      inflight: count(inflight),
      after: count(after),
      lost: count(lost),
      bad: count(bad),
      badSample: [...bad, ...lost].slice(0, 6).map((r) => `${kindOf(r.k)} ${r.outcome} ${(r.t0 - k.t).toFixed(0)}..${(r.t1 - k.t).toFixed(0)} ms`),
      probe: count(probes.filter((p) => p.t1 >= k.t && p.t1 < next)),
      probeLost: probeLost.length,
      probeBad: probeNo.length - probeLost.length,
      probeRecover: firstOk(probes, k.victim === 'ai' ? ['generate'] : ['tools/list', 'generate']),
      probeRecoverGen: firstOk(probes, ['generate']),
      sdkRecover: firstOk(recs, k.victim === 'ai' ? ['generate'] : ['tools/list', 'generate']),
      goneMs: k.gone === undefined ? NaN : k.gone - k.t,
      exitMs: exit ? exit.t - k.t : NaN,
      restartMs: restart ? restart.t - k.t : NaN,
      restartResult: restart?.fields?.result,
    };
  });
  return {
    per,
    before: count(before),
    probeBefore: count(probes.filter((p) => p.t1 < first)),
    failedKills: kills.filter((k) => k.error).map((k) => `${k.victim}: ${k.error}`),
  };
}
