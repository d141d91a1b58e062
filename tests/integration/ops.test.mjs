// airlock as a system service: started by socket activation exactly as
// systemd does it (systemd-socket-activate), reloaded with SIGHUP on the
// same socket, a changed configuration accepted with `airlock manifest
// update`, and its metrics read by the Prometheus client's parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AIRLOCK, makeConfig, freePort, airlock, waitExit, until, within, raw, rpc, JSON_HEADERS, auditRecords, SOURCE_ROOT, startAirlock, startBareProto, MODERN, modernMeta, PROMPT } from './lib.mjs';
import os from 'node:os';

const initialize = (port) => raw(port, {
  headers: JSON_HEADERS,
  body: rpc(1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'ops-test', version: '1' } }),
});

// Debian's python3, where python3-prometheus-client is installed (another
// python3 may come first on PATH).
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function which(cmd) {
  try { return execFileSync('sh', ['-c', `command -v ${cmd}`]).toString().trim(); } catch { return null; }
}

// The configuration replaced as editors do it (a new file renamed over the
// old): the open, verified file the monitor watches is left as it was.
function rewrite(conf, text) {
  fs.writeFileSync(conf + '.new', text);
  fs.renameSync(conf + '.new', conf);
}

test('socket activation, SIGHUP reload, manifest update, metrics', { skip: !which('systemd-socket-activate') && 'systemd-socket-activate is missing (Debian package systemd)' }, async () => {
  const port = await freePort();
  const cfg = makeConfig({ proto: { listen: 'systemd', allowed_origins: `http://127.0.0.1:${port}` } });
  const child = spawn(which('systemd-socket-activate'), ['-l', `127.0.0.1:${port}`, AIRLOCK, 'run', '--config', cfg.conf],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stdout.on('data', (d) => { err += d; });
  child.stderr.on('data', (d) => { err += d; });
  try {
    await until(() => /Listening on/.test(err), 10000, 'systemd-socket-activate listening');
    // The first connection starts airlock; the request waits in the backlog meanwhile.
    const first = await within(initialize(port), 60000, 'the first MCP request');
    assert.equal(first.status, 200, err);
    assert.equal(JSON.parse(first.body).result.serverInfo.name, 'airlock');
    await until(() => new RegExp(`ready on http://127\\.0\\.0\\.1:${port}/mcp`).test(err), 10000, 'the ready line');
    // The load balancer's health check.
    const health = await raw(port, { method: 'GET', path: '/healthz' });
    assert.deepEqual([health.status, health.json], [200, { status: 'serving' }]);
    const status = async () => JSON.parse((await airlock(['status', '--json', '--config', cfg.conf])).stdout);
    const before = await status();
    assert.equal(before.listen, 'systemd');

    // SIGHUP: files verified again, the pair restarted, the socket kept.
    child.kill('SIGHUP');
    const after = await until(async () => {
      const st = await status();
      return st.domains.every((d, i) => d.state === 'running' && d.pid !== before.domains[i].pid) && st;
    }, 30000, 'domains restarted after SIGHUP');
    assert.ok(after.domains.every((d) => d.restarts === 0), 'a reload is not a failure');
    assert.equal((await initialize(port)).status, 200, err);
    let events = auditRecords(cfg.state).map((r) => r.event);
    assert.ok(events.includes('reload'), events.join(' '));

    // A changed configuration is refused until the manifest accepts it.
    const text = fs.readFileSync(cfg.conf, 'utf8').replace('[proto]\n', '[proto]\nconcurrency = 3\n');
    rewrite(cfg.conf, text);
    child.kill('SIGHUP');
    await until(() => auditRecords(cfg.state).some((r) => r.event === 'reload-refused'), 10000, 'reload refused');
    const refused = auditRecords(cfg.state).find((r) => r.event === 'reload-refused');
    assert.match(JSON.stringify(refused), /changed since the manifest: config/);
    assert.match(err, /reload refused: changed since the manifest: config \(/);

    const noTty = await airlock(['manifest', 'update', '--config', cfg.conf]);
    assert.equal(noTty.code, 1);
    assert.match(noTty.stderr, /--yes/);
    assert.match(noTty.stdout, /^config +\S+airlock\.conf\n  old digest  [0-9a-f]{64}\n  new digest  [0-9a-f]{64}\n/m);
    const upd = await airlock(['manifest', 'update', '--yes', '--config', cfg.conf]);
    assert.equal(upd.code, 0, upd.stderr);
    assert.match(upd.stdout, /no audit record written: the audit log belongs to the running supervisor/);
    const again = await airlock(['manifest', 'update', '--config', cfg.conf]);
    assert.match(again.stdout, /no differences/);

    const reloads = auditRecords(cfg.state).filter((r) => r.event === 'reload').length;
    child.kill('SIGHUP');
    await until(() => auditRecords(cfg.state).filter((r) => r.event === 'reload').length > reloads, 10000, 'second reload');
    await until(async () => (await status()).domains.every((d) => d.state === 'running'), 30000, 'running again');
    assert.equal((await initialize(port)).status, 200, err);

    // Metrics, read by the Prometheus client's own parser.
    const m = await airlock(['metrics', '--config', cfg.conf]);
    assert.equal(m.code, 0, m.stderr);
    const parsed = JSON.parse(execFileSync(PYTHON, [path.join(SOURCE_ROOT, 'tests/integration/metrics_parse.py')], { input: m.stdout }).toString());
    const value = (fam, labels = {}) => parsed[fam]?.samples.find(([, l]) => Object.entries(labels).every(([k, v]) => l[k] === v))?.[2];
    assert.equal(parsed.airlock_domain_restarts.type, 'counter'); // the parser drops _total from the family name
    assert.equal(value('airlock_domain_restarts', { domain: 'ai' }), 0);
    assert.equal(value('airlock_domain_up', { domain: 'proto' }), 1);
    assert.equal(value('airlock_level', { level: 'standard' }), 1);
    assert.equal(value('airlock_level', { level: 'maximum' }), 0);
    assert.equal(value('airlock_incidents', { type: 'integrity-violation', domain: 'ai' }), 0);
    assert.equal(value('airlock_seccomp_violations', { domain: 'ai' }), 0);
    assert.equal(value('airlock_channel_violations', { domain: 'proto' }), 0);
    assert.ok(value('airlock_uptime_seconds') > 0);
    assert.ok(value('airlock_domain_resident_memory_bytes', { domain: 'ai' }) > 100000);
    assert.ok(value('airlock_domain_cpu_seconds', { domain: 'proto' }) >= 0);
    assert.ok(value('airlock_integrity_passes') >= 0);
    assert.ok(value('airlock_integrity_cpu_seconds') >= 0);
    events = auditRecords(cfg.state).map((r) => r.event);
    assert.ok(!events.includes('incident'), events.join(' '));
  } finally {
    child.kill('SIGTERM');
    const ex = await waitExit(child, 30000);
    assert.equal(ex.timedOut, false, 'airlock run did not stop');
    fs.rmSync(cfg.dir, { recursive: true, force: true });
  }
});

// GET /healthz tells a load balancer the truth: an instance whose AI domain
// is stopped by an integrity lockdown answers 503 naming the state (haproxy's
// check and a Kubernetes readiness probe then send it no traffic), and 200
// again once `airlock unlock` has verified the files and restarted it.
test('GET /healthz: 503 "lockdown" during an integrity lockdown, 200 after airlock unlock', async () => {
  const mdir = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-model-'));
  const model = path.join(mdir, 'model.bin'), tok = path.join(mdir, 'tok.bin');
  fs.copyFileSync(path.join(SOURCE_ROOT, 'models/stories260K.bin'), model);
  fs.copyFileSync(path.join(SOURCE_ROOT, 'models/tok512.bin'), tok);
  const srv = await startAirlock({ extra: `[ai]\nmodel = ${model}\ntokenizer = ${tok}\n[respond]\nintegrity_interval = 1\n` });
  const health = () => raw(srv.port, { method: 'GET', path: '/healthz' });
  const generate = () => raw(srv.port, {
    headers: { ...JSON_HEADERS, 'mcp-protocol-version': MODERN, 'mcp-method': 'tools/call', 'mcp-name': 'generate' },
    body: rpc(7, 'tools/call', { name: 'generate', arguments: { prompt: PROMPT, max_tokens: 4 }, _meta: modernMeta() }),
  });
  try {
    let h = await health();
    assert.deepEqual([h.status, h.json], [200, { status: 'serving' }]);
    // One byte of the model changed in place: the integrity monitor's next pass locks the AI domain down.
    const fd = fs.openSync(model, 'r+');
    const orig = Buffer.alloc(1);
    fs.readSync(fd, orig, 0, 1, 4096);
    fs.writeSync(fd, Buffer.from([orig[0] ^ 0x5a]), 0, 1, 4096);
    fs.closeSync(fd);
    h = await until(async () => { const r = await health(); return r.status === 503 && r; }, 30000, '/healthz answering 503');
    assert.equal(h.json.status, 'lockdown', h.body);
    assert.match(h.json.detail, /airlock unlock/);
    assert.equal(h.headers['content-type'], 'application/json');
    const st = await srv.status();
    assert.equal(st.domains.find((d) => d.name === 'ai').state, 'locked down (airlock unlock)');
    // What the 503 keeps clients from: generation fails on this instance.
    const g = await generate();
    assert.equal(g.status, 200, g.body);
    assert.equal(JSON.parse(g.body).result.isError, true, g.body);

    // The file restored and the lockdown lifted: serving again.
    const fd2 = fs.openSync(model, 'r+');
    fs.writeSync(fd2, orig, 0, 1, 4096);
    fs.closeSync(fd2);
    const u = await airlock(['unlock', '--config', srv.conf]);
    assert.equal(u.code, 0, u.stdout + u.stderr);
    h = await until(async () => { const r = await health(); return r.status === 200 && r; }, 30000, '/healthz answering 200 after unlock');
    assert.deepEqual(h.json, { status: 'serving' });
  } finally {
    await srv.stop();
    fs.rmSync(mdir, { recursive: true, force: true });
  }
});

// A protocol domain with no AI domain behind it cannot generate: not healthy.
test('GET /healthz: 503 "ai-unavailable" without an AI domain', async () => {
  const p = await startBareProto();
  try {
    const h = await raw(p.port, { method: 'GET', path: '/healthz' });
    assert.equal(h.status, 503, h.body);
    assert.equal(h.json.status, 'ai-unavailable');
    assert.ok(h.headers['retry-after']);
  } finally {
    await p.stop();
  }
});
