// Load with the official SDK (1.x) Streamable HTTP clients: N clients connect
// (initialize; the SDK then holds a GET stream open), then call a method in
// a loop, bounded in count and time. Every call ends in one outcome (see
// outcomeOf): an answer (a result, a tool error, a JSON-RPC error, an HTTP
// error status such as 503) or no answer at all (a connection reset or
// refused before any response, a response cut in the middle, a timeout).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import http from 'node:http';

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// An HTTP status in the SDK's error (StreamableHTTPError carries it as code).
function httpStatus(e) {
  if (typeof e?.code === 'number' && e.code >= 100 && e.code < 600) return e.code;
  const m = /HTTP (\d{3})/.exec(e?.message ?? '');
  return m ? Number(m[1]) : 0;
}

// Outcomes that are not answers: the client saw no HTTP response, or only part of one.
// 'reset kept-alive': reset on a connection kept alive from an earlier call.
export const NO_ANSWER = new Set(['reset', 'reset kept-alive', 'cut', 'timeout']);

// The outcome of a failed call. cut: the client saw its response end early.
export function outcomeOf(e, cut = false) {
  if (cut) return 'cut';
  const s = httpStatus(e);
  if (s) return `http ${s}`;
  if (typeof e?.code === 'number') {
    // The SDK's own timeout (data.timeout), or its transport closed under it.
    if (e.code === -32001 && e.data?.timeout !== undefined) return 'timeout';
    if (e.code === -32000 && /Connection closed/.test(e.message ?? '')) return 'reset';
    return 'rpc error';
  }
  // fetch failed: reset, refused or closed before any response
  return e?.reused ? 'reset kept-alive' : 'reset';
}

const errText = (e) => String(e?.cause?.code ?? e?.cause?.message ?? e?.message ?? e);

export function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/*
 * fetch over node:http with the client's own keep-alive agent (each client
 * its own connections, as separate client programs would have), for two
 * things the SDK's default fetch hides: whether a request that was reset went
 * out on a connection kept alive from before (req.reusedSocket: the server
 * closed it and the request crossed that close) or on a new one; and a
 * response cut in the middle, which ends the call at once (the SDK would wait
 * for the rest of a cut SSE response until its timeout).
 */
function nodeFetch(agent, owner) {
  return (url, init = {}) => new Promise((resolve, reject) => {
    const u = new URL(url);
    const method = init.method ?? 'GET';
    const headers = {};
    new Headers(init.headers ?? {}).forEach((v, k) => { headers[k] = v; });
    if (init.body != null) headers['content-length'] = Buffer.byteLength(init.body);
    const cur = method === 'POST' ? owner.cur : null; // the call this request carries
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent, signal: init.signal });
    // When the connection carrying the call was opened (a kept-alive one: before this request).
    req.on('socket', (so) => { so.openedAt ??= performance.now(); if (cur) cur.connOpened = so.openedAt; });
    req.on('error', (e) => reject(Object.assign(new TypeError('fetch failed', { cause: e }), { reused: req.reusedSocket })));
    req.on('response', (res) => {
      cur?.onHead?.(res.statusCode);
      // A GET stream the server ends while the client still wants it.
      if (method === 'GET' && res.statusCode === 200) res.on('close', () => { if (!owner.closing && !init.signal?.aborted) owner.streamsLost++; });
      const h = new Headers();
      for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
      if ([204, 205, 304].includes(res.statusCode)) { res.resume(); resolve(new Response(null, { status: res.statusCode, headers: h })); return; }
      let over = false;
      const body = new ReadableStream({
        start(ctl) {
          const cut = (e) => {
            if (over) return;
            over = true;
            if (cur && !cur.settled) { cur.cut = true; cur.ctl.abort(new Error(`response cut: ${errText(e)}`)); }
            ctl.error(e);
          };
          res.on('data', (d) => { if (!over) { ctl.enqueue(new Uint8Array(d)); if (ctl.desiredSize <= 0) res.pause(); } });
          res.on('end', () => { if (!over) { over = true; ctl.close(); } });
          res.on('error', cut);
          res.on('close', () => { if (!res.complete) cut(new Error('the connection closed in the middle of the response')); });
        },
        pull() { res.resume(); },
        cancel() { over = true; res.destroy(); },
      });
      resolve(new Response(body, { status: res.statusCode, statusText: res.statusMessage, headers: h }));
    });
    req.end(init.body ?? undefined);
  });
}

/*
 * One SDK client on nodeFetch. open() opens a session (again, after the
 * server lost it); call() runs one call under watch and returns its outcome;
 * end() deletes the session (DELETE) and closes. streamsLost counts GET
 * streams that the server ended while the client was not closing.
 */
export class LoadClient {
  constructor(url, name, { onStreamError } = {}) {
    this.url = url;
    this.name = name;
    this.onStreamError = onStreamError;
    this.cur = null;
    this.client = null;
    this.transport = null;
    this.closing = false;
    this.streamsLost = 0;
    this.agent = new http.Agent({ keepAlive: true });
    this.fetch = nodeFetch(this.agent, this);
  }

  async open() {
    if (this.client) this.client.close().catch(() => {});
    const c = new Client({ name: this.name, version: '1' });
    const t = new StreamableHTTPClientTransport(new URL(this.url), { fetch: this.fetch });
    await c.connect(t); // throws when the session could not be opened
    this.client = c;
    this.transport = t;
    // Errors of the background GET stream arrive here (and the POSTs' again).
    c.onerror = (e) => this.onStreamError?.(e);
  }

  // fn(signal) under this client's watch: { outcome, value, error }.
  // onHead(status): its response's head has come.
  async call(fn, { onHead } = {}) {
    const cur = { ctl: new AbortController(), cut: false, settled: false, onHead };
    this.cur = cur;
    try {
      const value = await fn(cur.ctl.signal);
      return { outcome: value?.isError ? 'tool error' : 'ok', value };
    } catch (error) {
      return { outcome: outcomeOf(error, cur.cut), error, connOpened: cur.connOpened };
    } finally {
      cur.settled = true;
      if (this.cur === cur) this.cur = null;
    }
  }

  async close() {
    this.closing = true;
    if (this.client) await this.client.close().catch(() => {});
    this.agent.destroy();
  }

  // The session deleted (its outcome), then closed.
  async end() {
    this.closing = true;
    const r = await this.call(() => this.transport.terminateSession());
    await this.close();
    return r;
  }
}

// Counts of outcomes, the latencies of the successes, and the first errors of each kind.
export function tally() {
  const st = { ok: 0, outcomes: {}, http: {}, noResponse: 0, lat: [], errors: [] };
  st.add = (r, ms) => {
    st.outcomes[r.outcome] = (st.outcomes[r.outcome] ?? 0) + 1;
    if (r.outcome === 'ok' || r.outcome === 'tool error') { st.ok++; st.lat.push(ms); return; }
    if (r.outcome.startsWith('http ')) {
      const s = r.outcome.slice(5);
      st.http[s] = (st.http[s] ?? 0) + 1;
      // What the first such answer said (the SDK's error carries its body).
      if (st.http[s] === 1) st.errors.push(`${r.outcome}: ${String(r.error?.message ?? '').slice(0, 160)}`);
    }
    if (NO_ANSWER.has(r.outcome)) {
      st.noResponse++;
      if (st.errors.length < 5) st.errors.push(`${r.outcome}: ${errText(r.error)}`);
    }
  };
  return st;
}

// opts: clients, seconds (time bound of the call phase), calls (per client),
// call(c, k, { signal }) (the client's k-th call; default: listTools), holdMs
// (wait for the GET streams), connected() (awaited once all clients are
// connected and holdMs has passed, before the first call; e.g. to read memory
// use), done() (awaited after the last call, before the clients close), reopen
// (a client that could not connect tries again in its loop, and one whose
// session the server answers 404 for, having lost it, opens a new one:
// reopened counts both), record(rec) (each call as { client, k, t0, t1, outcome, conn },
// times from performance.now(), conn: when the connection that carried a
// failed call was opened; initialize calls have k -1).
// ok counts every answered call that is a result (a tool error too: callers
// that tell them apart count isError themselves).
export async function sdkLoad(url, { clients = 64, seconds = 10, calls = Infinity, call, holdMs = 300, connected, done, reopen = false, record } = {}) {
  const st = tally();
  Object.assign(st, { clients, connected: 0, reopened: 0, streamErrors: 0 });
  const onStreamError = () => { st.streamErrors++; };
  const open = async (lc, i) => {
    const a = performance.now();
    const r = await lc.call(() => lc.open());
    const b = performance.now();
    record?.({ client: i, k: -1, t0: a, t1: b, outcome: r.outcome, conn: r.connOpened });
    if (r.outcome !== 'ok') { st.add(r, b - a); return false; }
    return true;
  };
  const list = [];
  await Promise.all(Array.from({ length: clients }, async (_, i) => {
    const lc = new LoadClient(url, `load-${i}`, { onStreamError });
    if (await open(lc, i)) { st.connected++; list.push([lc, i, true]); }
    else if (reopen) list.push([lc, i, false]); // it tries again in its loop
  }));
  await sleep(holdMs); // the GET streams open
  if (connected) await connected(st);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const doCall = call ?? ((c, k, o) => c.listTools({}, o));
  await Promise.all(list.map(async ([lc, i, live]) => {
    for (let k = 0; k < calls && performance.now() < end; k++) {
      if (!live) {
        if (!(await open(lc, i))) { await sleep(50); continue; }
        st.reopened++;
        live = true;
      }
      const a = performance.now();
      const r = await lc.call((signal) => doCall(lc.client, k, { signal }));
      const b = performance.now();
      record?.({ client: i, k, t0: a, t1: b, outcome: r.outcome, conn: r.connOpened });
      st.add(r, b - a);
      if (reopen && r.outcome === 'http 404') live = false;
    }
  }));
  st.elapsed = (performance.now() - t0) / 1000;
  st.streamErrorsBeforeClose = st.streamErrors; // closing aborts the GET streams too
  if (done) await done(st);
  await Promise.all(list.map(([lc]) => lc.close()));
  st.lat.sort((x, y) => x - y);
  st.rps = st.ok / st.elapsed;
  st.p50 = pct(st.lat, 0.5);
  st.p99 = pct(st.lat, 0.99);
  delete st.lat;
  delete st.add;
  return st;
}
