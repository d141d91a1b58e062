// Ordinary traffic for a long while (soak.test.mjs; `make soak` runs it for
// 10 minutes): bursts of generate at 1 to 64 SDK clients with idle periods
// between them, tools/list all along, sessions opened and closed, every
// client holding its GET stream. What each call got is counted; the test
// decides what must hold.
import { LoadClient, tally, NO_ANSWER } from './load.mjs';

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));
const PROMPT = 'Once upon a time';
const SIZES = [1, 2, 4, 8, 16, 32, 64];

// xorshift32: the same schedule for the same seed.
function rng(seed) {
  let x = (seed >>> 0) || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

/*
 * Idle periods and bursts filling `seconds`: an idle period first, longer
 * than the detector's warm-up (10 ticks of a second), so that its baselines
 * know the service at rest; then the largest burst, long enough for an
 * anomaly to fire (3 ticks); then bursts whose sizes go through every one of
 * SIZES in a shuffled order, again and again, each after an idle period.
 * Longer runs get longer periods.
 */
export function schedule(seconds, seed = 1) {
  const r = rng(seed);
  const idleMax = Math.min(45, Math.max(4, seconds / 12)), burstMax = Math.min(15, Math.max(5, seconds / 15));
  const first = Math.max(15, idleMax);
  const out = [{ idle: first }, { clients: 64, seconds: burstMax }, { idle: 1 + r() * (idleMax - 1) }];
  let t = first + burstMax + out[2].idle, deck = [];
  while (t < seconds) {
    if (!deck.length) deck = [...SIZES].sort(() => r() - 0.5);
    const burst = { clients: deck.pop(), seconds: Math.min(seconds - t, 2 + r() * (burstMax - 2)) };
    out.push(burst);
    t += burst.seconds;
    if (t >= seconds) break;
    const idle = { idle: Math.min(seconds - t, 1 + r() * (idleMax - 1)) };
    out.push(idle);
    t += idle.idle;
  }
  return out;
}

const generate = (maxTokens) => (c, o) => c.callTool({ name: 'generate', arguments: { prompt: PROMPT, max_tokens: maxTokens } }, undefined, { ...o, timeout: 60000 });
const listTools = (c, o) => c.listTools({}, { ...o, timeout: 60000 });

/*
 * Runs the schedule against url. Returns { plan, bursts (each with its
 * tally), list, churn (sessions opened, closed, and their calls),
 * streamsLost, toolErrors (texts), calls }.
 */
export async function soak(url, { seconds = 60, seed = 1, say = () => {} } = {}) {
  const plan = schedule(seconds, seed);
  say(`schedule: ${plan.map((p) => (p.idle ? `idle ${p.idle.toFixed(1)} s` : `${p.clients} × generate ${p.seconds.toFixed(1)} s`)).join(', ')}`);
  const toolErrors = new Map();
  const note = (r) => {
    if (r.outcome === 'tool error') {
      const text = r.value?.content?.[0]?.text ?? '?';
      toolErrors.set(text, (toolErrors.get(text) ?? 0) + 1);
    }
    return r;
  };
  // 64 clients, each with its session and GET stream, for the whole run.
  const pool = Array.from({ length: 64 }, (_, i) => new LoadClient(url, `soak-${i}`));
  const opened = tally();
  await Promise.all(pool.map(async (c) => opened.add(await c.call(() => c.open()), 0)));
  if (opened.ok !== pool.length) throw new Error(`only ${opened.ok} of ${pool.length} clients connected: ${JSON.stringify(opened.outcomes)}`);
  let running = true;
  // tools/list from two clients of their own, ten times a second, all along.
  const list = tally();
  const listers = [new LoadClient(url, 'soak-list-0'), new LoadClient(url, 'soak-list-1')];
  for (const c of listers) await c.open();
  const listing = Promise.all(listers.map(async (c) => {
    while (running) {
      const a = performance.now();
      list.add(note(await c.call((signal) => listTools(c.client, { signal }))), performance.now() - a);
      await sleep(100);
    }
  }));
  // Sessions opened, used and deleted, one after another.
  const churn = { opened: tally(), calls: tally(), deleted: tally() };
  const churning = (async () => {
    for (let i = 0; running; i++) {
      const c = new LoadClient(url, `soak-churn-${i}`);
      const o = await c.call(() => c.open());
      churn.opened.add(o, 0);
      if (o.outcome === 'ok') {
        churn.calls.add(note(await c.call((signal) => listTools(c.client, { signal }))), 0);
        if (i % 3 === 0) churn.calls.add(note(await c.call((signal) => generate(4)(c.client, { signal }))), 0);
        churn.deleted.add(await c.end(), 0);
      } else {
        await c.close();
      }
      await sleep(400);
    }
  })();
  const bursts = [];
  let k = 0;
  for (const step of plan) {
    if (step.idle) { await sleep(step.idle * 1000); continue; }
    const st = tally();
    const end = performance.now() + step.seconds * 1000;
    await Promise.all(pool.slice(0, step.clients).map(async (c) => {
      while (performance.now() < end) {
        const a = performance.now();
        st.add(note(await c.call((signal) => generate(4 + (k++ % 29))(c.client, { signal }))), performance.now() - a);
      }
    }));
    delete st.add;
    st.lat.sort((x, y) => x - y);
    st.p50 = st.lat[Math.floor(st.lat.length / 2)];
    delete st.lat;
    bursts.push({ clients: step.clients, seconds: step.seconds, ...st });
    say(`burst of ${step.clients}: ${JSON.stringify(st.outcomes)}`);
  }
  running = false;
  await Promise.all([listing, churning]);
  const streamsLost = [...pool, ...listers].reduce((n, c) => n + c.streamsLost, 0);
  await Promise.all([...pool, ...listers].map((c) => c.close()));
  for (const t of [list, churn.opened, churn.calls, churn.deleted]) { delete t.add; delete t.lat; }
  const all = [...bursts.map((b) => b.outcomes), list.outcomes, churn.opened.outcomes, churn.calls.outcomes, churn.deleted.outcomes];
  const calls = {};
  for (const o of all) for (const [key, v] of Object.entries(o)) calls[key] = (calls[key] ?? 0) + v;
  const unanswered = Object.entries(calls).filter(([key]) => NO_ANSWER.has(key)).reduce((n, [, v]) => n + v, 0);
  return { plan, bursts, list, churn, streamsLost, toolErrors: Object.fromEntries(toolErrors), calls, unanswered };
}
