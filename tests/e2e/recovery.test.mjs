// SDK clients across a domain's death (kill -9 of the domain, as `airlock
// status` names it), each with its session and GET stream and a long
// generation in flight:
// - the AI domain dies: every client gets an answer (a tool error naming the
//   AI domain), never a cut connection; then each works again on the same
//   session, with the exact text;
// - the protocol domain dies: its connections go with it, so each call in
//   flight ends without an answer (the connection is closed); the session is
//   gone too (404), and each client opens a new one and works again.
// - both are ended on purpose (a level change respawns the pair): every call
//   in flight is answered first, then each client opens a new session.
// The AI domain runs on a small share of one CPU (its cgroup CPU bandwidth)
// so that the generations are surely still running when the kill comes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startAirlock, airlock, sleep, PROMPT, REF_TEXT } from './lib.mjs';
import { LoadClient, NO_ANSWER } from './load.mjs';

const CLIENTS = 8, LONG = 500;
let srv;
// One slot and 5 % of a CPU: long generations run one after another, so calls are still
// waiting or running when a domain goes (with the batch of all slots they would finish first).
before(async () => {
  srv = await startAirlock({ proto: { concurrency: 16 }, extra: `[ai]\nmax_tokens = ${LONG}\nslots = 1\n[domain.ai]\ncpu = 5%\n` });
});
after(async () => {
  const { code } = await srv.stop();
  assert.equal(code, 0, srv.stderr());
});

// The reference holds the first 252 tokens of the greedy continuation; a longer one extends it.
const consistent = (text) => REF_TEXT.startsWith(text) || text.startsWith(REF_TEXT);
const long = (c, opts = {}) => c.callTool({ name: 'generate', arguments: { prompt: PROMPT, max_tokens: LONG, temperature: 0 } }, undefined, { timeout: 60000, ...opts });
const short = (c, opts = {}) => c.callTool({ name: 'generate', arguments: { prompt: PROMPT, max_tokens: 7, temperature: 0 } }, undefined, { timeout: 60000, ...opts });

// p, or a rejection naming what did not happen within ms.
function within(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`${what}: nothing within ${ms} ms`)), ms); })]).finally(() => clearTimeout(t));
}

// Waits until the domain that status names runs under a new pid.
async function restarted(name, pid) {
  for (let i = 0; i < 300; i++) {
    const d = (await srv.status()).domains.find((x) => x.name === name);
    if (d.state === 'running' && d.pid !== pid) return d;
    await sleep(100);
  }
  throw new Error(`the ${name} domain did not come back`);
}

test(`the AI domain dies under ${CLIENTS} SDK clients mid-stream: each gets an error, then works again on its session`, async () => {
  // Plain SDK clients (the SDK's own fetch), with a window on their POSTs'
  // response heads: a head means the protocol domain has taken the call.
  let heads = 0;
  const fetchSeen = async (u, init) => {
    const r = await fetch(u, init);
    if (init?.method === 'POST' && /"tools\/call"/.test(String(init.body))) heads++;
    return r;
  };
  const clients = [];
  for (let i = 0; i < CLIENTS; i++) {
    const c = new Client({ name: `recovery-${i}`, version: '1' });
    await c.connect(new StreamableHTTPClientTransport(new URL(srv.url), { fetch: fetchSeen }));
    clients.push(c);
  }
  try {
    const sessions = clients.map((c) => c.transport.sessionId);
    let producing;
    const firstToken = new Promise((res) => { producing = res; });
    const calls = clients.map((c) => long(c, { onprogress: () => producing() }).then((r) => ({ r }), (e) => ({ e })));
    await within(firstToken, 30000, 'a generation producing');
    await within((async () => { while (heads < CLIENTS) await sleep(20); })(), 30000, 'every call taken');

    const ai = (await srv.status()).domains.find((d) => d.name === 'ai');
    process.kill(ai.pid, 'SIGKILL');
    const outcomes = await within(Promise.all(calls), 30000, 'the calls in flight after the kill');
    // Each one answered: the error, or (a generation that ended just before the kill) its text.
    for (const o of outcomes) {
      assert.equal(o.e, undefined, `a call failed instead of being answered: ${o.e}`);
      if (o.r.isError) assert.match(o.r.content[0].text, /AI domain is unavailable/);
      else assert.ok(consistent(o.r.content[0].text), o.r.content[0].text);
    }
    assert.ok(outcomes.some((o) => o.r.isError), 'no call was in flight at the kill');

    await restarted('ai', ai.pid);
    // Each client again, on the session it had: the exact text.
    await Promise.all(clients.map(async (c, i) => {
      let r;
      for (let k = 0; k < 50; k++) {
        r = await short(c);
        if (!r.isError) break;
        assert.match(r.content[0].text, /AI domain is unavailable/); // still coming back
        await sleep(100);
      }
      assert.equal(r.isError, false, JSON.stringify(r));
      assert.ok(r.content[0].text.length > 0 && REF_TEXT.startsWith(r.content[0].text), r.content[0].text);
      assert.equal(c.transport.sessionId, sessions[i]);
    }));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});

test(`the protocol domain dies under ${CLIENTS} SDK clients mid-stream: the calls end unanswered, each client opens a new session and works again`, async () => {
  const clients = Array.from({ length: CLIENTS }, (_, i) => new LoadClient(srv.url, `recovery-proto-${i}`));
  for (const c of clients) await c.open();
  try {
    const sessions = clients.map((c) => c.transport.sessionId);
    let producing;
    const firstToken = new Promise((res) => { producing = res; });
    let heads = 0;
    const calls = clients.map((c) => c.call((signal) => long(c.client, { signal, onprogress: () => producing() }), { onHead: () => heads++ }));
    await within(firstToken, 30000, 'a generation producing');
    await within((async () => { while (heads < CLIENTS) await sleep(20); })(), 30000, 'every call taken');

    const proto = (await srv.status()).domains.find((d) => d.name === 'proto');
    process.kill(proto.pid, 'SIGKILL');
    // The connections went with the domain: no answer can come, and none is made up.
    // (A generation that ended just before the kill has its text.)
    const outcomes = await within(Promise.all(calls), 30000, 'the calls in flight after the kill');
    for (const o of outcomes) {
      if (o.outcome === 'ok') assert.ok(consistent(o.value.content[0].text), o.value.content[0].text);
      else assert.ok(NO_ANSWER.has(o.outcome) && o.outcome !== 'timeout', o.outcome);
    }
    assert.ok(outcomes.some((o) => o.outcome !== 'ok'), 'no call was in flight at the kill');

    await restarted('proto', proto.pid);
    await Promise.all(clients.map(async (c, i) => {
      const seen = [];
      let r;
      for (let k = 0; k < 50; k++) {
        r = await c.call((signal) => short(c.client, { signal }));
        seen.push(r.outcome);
        if (r.outcome === 'ok' || (r.outcome === 'tool error' && !/unavailable/.test(r.value.content[0].text))) break;
        if (r.outcome === 'http 404') await c.open(); // the session went with the domain
        else await sleep(100);
      }
      assert.equal(r.outcome, 'ok', seen.join(', '));
      // On the way: at most a reset (its kept-alive connection was the dead domain's) and the 404.
      for (const o of seen.slice(0, -1)) assert.match(o, /^(reset|reset kept-alive|http 404|tool error)$/, seen.join(', '));
      assert.ok(seen.includes('http 404'), seen.join(', '));
      assert.ok(REF_TEXT.startsWith(r.value.content[0].text), r.value.content[0].text);
      assert.notEqual(c.transport.sessionId, sessions[i]);
    }));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});

test(`a level change respawns both domains under ${2 * CLIENTS} SDK clients mid-stream: every call in flight is answered`, async () => {
  const clients = Array.from({ length: 2 * CLIENTS }, (_, i) => new LoadClient(srv.url, `recovery-level-${i}`));
  for (const c of clients) await c.open();
  try {
    let heads = 0, producing;
    const firstToken = new Promise((res) => { producing = res; });
    const calls = clients.map((c) => c.call((signal) => long(c.client, { signal, onprogress: () => producing() }), { onHead: () => heads++ }));
    await within(firstToken, 30000, 'a generation producing');
    await within((async () => { while (heads < clients.length) await sleep(20); })(), 30000, 'every call taken');
    const before = await srv.status();
    const r = await airlock(['level', '--config', srv.conf, 'set', before.level === 'high' ? 'maximum' : 'high']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The protocol domain ends gracefully: each stream ends with its answer, never empty, never cut.
    const outcomes = await within(Promise.all(calls), 30000, 'the calls in flight after the level change');
    for (const o of outcomes) {
      assert.match(o.outcome, /^(tool error|ok)$/, `${o.outcome} ${o.error ?? ''}`);
      if (o.outcome === 'tool error') assert.match(o.value.content[0].text, /AI domain is unavailable/);
      else assert.ok(consistent(o.value.content[0].text), o.value.content[0].text);
    }
    assert.ok(outcomes.some((o) => o.outcome === 'tool error'), 'no call was in flight at the level change');
    await restarted('proto', before.domains.find((d) => d.name === 'proto').pid);
    await Promise.all(clients.map(async (c) => {
      let o;
      for (let k = 0; k < 50; k++) {
        o = await c.call((signal) => short(c.client, { signal }));
        if (o.outcome === 'ok') break;
        if (o.outcome === 'http 404') await c.open();
        else await sleep(100);
      }
      assert.equal(o.outcome, 'ok');
    }));
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});
