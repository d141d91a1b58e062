// Load with the official SDK (1.x) Streamable HTTP clients: N clients connect
// (initialize; the SDK then holds a GET stream open), then call a method in
// a loop, bounded in count and time. Failures are sorted into HTTP answers
// (a status such as 503) and connections closed without any HTTP response.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

// An HTTP status in the SDK's error (StreamableHTTPError carries it as code).
function httpStatus(e) {
  if (typeof e?.code === 'number' && e.code >= 100 && e.code < 600) return e.code;
  const m = /HTTP (\d{3})/.exec(e?.message ?? '');
  return m ? Number(m[1]) : 0;
}

export function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

// opts: clients, seconds (time bound of the call phase), calls (per client),
// call(c, k) (the client's k-th call; default: listTools), holdMs (wait for
// the GET streams), connected() (awaited once all clients are connected and
// holdMs has passed, before the first call; e.g. to read memory use).
export async function sdkLoad(url, { clients = 64, seconds = 10, calls = Infinity, call, holdMs = 300, connected } = {}) {
  const st = { clients, connected: 0, ok: 0, http: {}, noResponse: 0, streamErrors: 0, lat: [], errors: [] };
  const fail = (e) => {
    const s = httpStatus(e);
    if (s) st.http[s] = (st.http[s] ?? 0) + 1;
    else { st.noResponse++; if (st.errors.length < 5) st.errors.push(String(e?.cause?.code ?? e?.cause?.message ?? e?.message ?? e)); }
  };
  const list = [];
  await Promise.all(Array.from({ length: clients }, async (_, i) => {
    const c = new Client({ name: `load-${i}`, version: '1' });
    const t = new StreamableHTTPClientTransport(new URL(url));
    try {
      await c.connect(t);
      // Errors of the background GET stream arrive here (and the POSTs' again).
      t.onerror = () => { st.streamErrors++; };
      st.connected++;
      list.push(c);
    } catch (e) { fail(e); }
  }));
  await sleep(holdMs); // the GET streams open
  if (connected) await connected(st);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const doCall = call ?? ((c) => c.listTools());
  await Promise.all(list.map(async (c) => {
    for (let k = 0; k < calls && performance.now() < end; k++) {
      const a = performance.now();
      try { await doCall(c, k); st.ok++; st.lat.push(performance.now() - a); } catch (e) { fail(e); }
    }
  }));
  st.elapsed = (performance.now() - t0) / 1000;
  st.streamErrorsBeforeClose = st.streamErrors; // closing aborts the GET streams too
  await Promise.all(list.map((c) => c.close().catch(() => {})));
  st.lat.sort((x, y) => x - y);
  st.rps = st.ok / st.elapsed;
  st.p50 = pct(st.lat, 0.5);
  st.p99 = pct(st.lat, 0.99);
  delete st.lat;
  return st;
}
