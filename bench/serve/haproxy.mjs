// airlock behind haproxy with 1, 2 and 3 instances, against one instance
// reached directly: throughput and latency of stateless (2026-07-28)
// tools/list from the official SDK client, the failed requests, each
// instance's share, and what the balancer costs (its CPU per request, the
// latency it adds). A last phase SIGKILLs one of three instances mid-run
// and starts it again. Run by bench/serve/run --haproxy (which finds node
// and the SDK); instances and haproxy are set up exactly as the integration
// test does (tests/integration/fleet.mjs: the shipped etc/haproxy/airlock.cfg,
// ports substituted).
//
// Usage: AL_BUILD_DIR=BUILD node haproxy.mjs [--quick] [--rounds N] [--seconds S] [--clients N]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const integ = path.resolve(here, '../../tests/integration');
const { freePort, sleep } = await import(path.join(integ, 'lib.mjs'));
const { loadClientSdk, sdkMissing } = await import(path.join(integ, 'sdk.mjs'));
const { Instance, which, haproxyConfig, startHaproxy, statelessLoad, shares } = await import(path.join(integ, 'fleet.mjs'));

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : def; };
const quick = args.includes('--quick');
const ROUNDS = Math.max(1, Math.min(10, opt('--rounds', quick ? 1 : 3)));
const SECONDS = Math.max(1, Math.min(60, opt('--seconds', quick ? 2 : 5)));
const CLIENTS = Math.max(1, Math.min(256, opt('--clients', 16)));
const WATCHDOG_S = 120 + ROUNDS * 6 * (SECONDS + 3) + 60;

const sdk = await loadClientSdk();
if (!sdk) { console.error(`bench serve --haproxy: ${sdkMissing}`); process.exit(1); }
if (!which('haproxy')) { console.error('bench serve --haproxy: haproxy is not installed (Debian package haproxy)'); process.exit(1); }

// ---- everything started is stopped on every way out ----
const inst = [];
const haps = [];
let stopping = null;
function stopAll() {
  stopping ??= (async () => {
    await Promise.all(haps.map((h) => h.stop().catch(() => {})));
    await Promise.all(inst.map((x) => x.stop().catch(() => {})));
    for (const x of inst) {
      const left = x.removeStaleCgroups();
      if (left.length) console.error(`cgroups left: ${left.join(', ')}`);
      fs.rmSync(x.cfg.dir, { recursive: true, force: true });
    }
  })();
  return stopping;
}
const watchdog = setTimeout(async () => { console.error(`bench serve --haproxy: watchdog (${WATCHDOG_S} s)`); await stopAll(); process.exit(2); }, WATCHDOG_S * 1000);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, async () => { await stopAll(); process.exit(130); });

const cpuTicks = (pid) => {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
};
const TICK = 100; // USER_HZ on Linux
const pct = (v, p) => (v.length ? v[Math.min(v.length - 1, Math.floor(v.length * p))] : NaN);
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN; };
const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

async function round(url, hap, clients) {
  const from = hap ? hap.lines.length : 0;
  const cpu0 = hap ? cpuTicks(hap.child.pid) : 0;
  const l = statelessLoad(sdk, url, { clients });
  await sleep(SECONDS * 1000);
  const st = await l.finish();
  await sleep(100);
  const r = { rps: st.ok / st.elapsed, p50: pct(st.lat, 0.5), p99: pct(st.lat, 0.99), ok: st.ok, failed: st.failed, errors: st.errors };
  if (hap) {
    r.hapCpuMsPer1k = ((cpuTicks(hap.child.pid) - cpu0) * 1000 / TICK) / Math.max(1, st.ok) * 1000;
    r.by = shares(hap.lines, from).by;
  }
  return r;
}

try {
  console.log(`bench serve --haproxy: ${CLIENTS} SDK clients (@modelcontextprotocol/client ${sdk.version}, stateless 2026-07-28 tools/list), ` +
    `${ROUNDS} round(s) of ${SECONDS} s per configuration, interleaved; node ${process.version}, ${os.cpus().length} CPUs`);
  console.log(`haproxy: ${execFileSync(which('haproxy'), ['-v']).toString().split('\n')[0]} (Debian's build, as packaged), config etc/haproxy/airlock.cfg`);
  console.log(`load average at start: ${load()}`);
  const ports = [];
  while (ports.length < 6) { const p = await freePort(); if (!ports.includes(p)) ports.push(p); }
  for (let i = 0; i < 3; i++) inst.push(new Instance(`a${i + 1}`, ports[i]));
  await Promise.all(inst.map((x) => x.start()));
  // one haproxy per configuration, all up for the whole run (the idle ones only health-check)
  for (let n = 1; n <= 3; n++) haps.push(await startHaproxy(haproxyConfig(ports[2 + n], ports.slice(0, n)), ports[2 + n]));
  const configs = [
    { name: '1 instance, direct', url: `http://127.0.0.1:${ports[0]}/mcp`, hap: null, clients: CLIENTS },
    ...haps.map((h, i) => ({ name: `haproxy, ${i + 1} instance${i ? 's' : ''}`, url: `http://127.0.0.1:${ports[3 + i]}/mcp`, hap: h, clients: CLIENTS })),
    // one client at a time: the latency one more hop adds, without queueing
    { name: '1 instance, direct, 1 client', url: `http://127.0.0.1:${ports[0]}/mcp`, hap: null, clients: 1 },
    { name: 'haproxy, 1 instance, 1 client', url: `http://127.0.0.1:${ports[3]}/mcp`, hap: haps[0], clients: 1 },
  ];
  for (const c of configs) c.rounds = [];
  // warm-up: every path once
  for (const c of configs) { const l = statelessLoad(sdk, c.url, { clients: 4 }); await sleep(500); await l.finish(); }
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < configs.length; k++) {
      const c = configs[(k + r) % configs.length];
      c.rounds.push(await round(c.url, c.hap, c.clients));
    }
  }

  // A whole instance killed (SIGKILL to the supervisor and its domains) in
  // the middle of a round through haproxy to three, and started again.
  const kc = configs[3]; // haproxy, 3 instances
  const kfrom = kc.hap.lines.length;
  const kl = statelessLoad(sdk, kc.url, { clients: CLIENTS });
  await sleep(SECONDS * 300);
  await inst[1].kill();
  await sleep(SECONDS * 300);
  await inst[1].start();
  await sleep(SECONDS * 400);
  const kst = await kl.finish();
  await sleep(100);
  const ks = shares(kc.hap.lines, kfrom);

  console.log(`load average at end: ${load()}`);
  console.log('');
  console.log('| configuration (clients) | tools/list req/s | p50 ms | p99 ms | failed / requests | haproxy CPU ms per 1,000 requests | share per instance |');
  console.log('|---|---|---|---|---|---|---|');
  const sum = (rs, k) => rs.reduce((a, x) => a + x[k], 0);
  for (const c of configs) {
    const rs = c.rounds;
    const by = {};
    for (const x of rs) for (const [s, v] of Object.entries(x.by ?? {})) by[s] = (by[s] ?? 0) + v;
    const tot = Object.values(by).reduce((a, b) => a + b, 0);
    const share = c.hap ? Object.keys(by).sort().map((s) => `${s} ${(100 * by[s] / tot).toFixed(0)} %`).join(', ') : '–';
    console.log(`| ${c.name.replace(', 1 client', '')} (${c.clients}) | ${fmt(median(rs.map((x) => x.rps)), 0)} | ${fmt(median(rs.map((x) => x.p50)), 2)} | ${fmt(median(rs.map((x) => x.p99)), 2)} | ` +
      `${sum(rs, 'failed')} / ${sum(rs, 'ok') + sum(rs, 'failed')} | ${c.hap ? fmt(median(rs.map((x) => x.hapCpuMsPer1k)), 1) : '–'} | ${share} |`);
  }
  const cost = (d, h, what) => {
    const ratio = median(h.map((x) => x.rps)) / median(d.map((x) => x.rps));
    console.log(`balancer cost, ${what} (haproxy to 1 instance vs the instance direct, medians over ${ROUNDS} round(s)): ` +
      `throughput ${fmt(ratio, 2)}×, p50 ${fmt(median(h.map((x) => x.p50)) - median(d.map((x) => x.p50)), 2)} ms added, ` +
      `p99 ${fmt(median(h.map((x) => x.p99)) - median(d.map((x) => x.p99)), 2)} ms added, ` +
      `haproxy CPU ${fmt(median(h.map((x) => x.hapCpuMsPer1k)), 1)} ms per 1,000 requests`);
  };
  const h = configs[1].rounds;
  console.log('');
  cost(configs[0].rounds, h, `${CLIENTS} clients`);
  cost(configs[4].rounds, configs[5].rounds, '1 client');
  for (let n = 2; n <= 3; n++) {
    console.log(`${n} instances vs 1 through haproxy: throughput ${fmt(median(configs[n].rounds.map((x) => x.rps)) / median(h.map((x) => x.rps)), 2)}×`);
  }
  const kn = Object.values(ks.by).reduce((a, b) => a + b, 0);
  console.log(`one of three SIGKILLed and restarted mid-round: ${kst.ok} ok, ${kst.failed} failed, ${fmt(kst.ok / kst.elapsed, 0)} req/s, ` +
    `${ks.retried} retried by haproxy, share ${Object.keys(ks.by).sort().map((s) => `${s} ${(100 * ks.by[s] / kn).toFixed(0)} %`).join(', ')}`);
  const failed = configs.reduce((a, c) => a + sum(c.rounds, 'failed'), 0) + kst.failed;
  if (failed) {
    const errs = {};
    for (const x of [...configs.flatMap((c) => c.rounds), kst]) for (const [k, v] of Object.entries(x.errors)) errs[k] = (errs[k] ?? 0) + v;
    console.log(`failed requests: ${JSON.stringify(errs)}`);
  }
} finally {
  await stopAll();
  clearTimeout(watchdog);
}
