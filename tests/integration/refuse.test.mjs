// `airlock run` refuses to start, exit status 1, with the reason named and
// nothing started: a bad configuration (file and line), a required
// protection this machine lacks, a model file changed since the manifest
// was made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { airlock, makeConfig, startAirlock, auditRecords, within, waitExit, AIRLOCK, SOURCE_ROOT } from './lib.mjs';

// `airlock run --config conf`, bounded (killed after a minute).
const runRefused = (conf) => airlock(['run', '--config', conf], 60000);

const badConfigs = [
  // [text after the [airlock] state_dir line (line 2), line of the error, what it must say]
  ['[proto]\nlisten = nowhere\n', 4, /\[proto\] listen/],
  ['[bogus]\nkey = 1\n', 3, /bogus/],
  ['[ai]\nthreads = 1\nflavour = vanilla\n', 5, /flavour/],
  ['[ai]\nthreads = 0\n', 4, /\[ai\] threads: '0'/],
  ['[ai]\nthreads = 1\nthreads = 2\n', 5, /threads/],
  ['[ai]\nmodel = no-such-model.bin\n', 4, /no-such-model\.bin: No such file or directory/],
  ['[domain.ai]\nmemory = lots\n', 4, /\[domain\.ai\] memory: 'lots'/],
  ['[required]\nresctrl = maybe\n', 4, /\[required\] resctrl/],
];

for (const [text, line, re] of badConfigs) {
  test(`bad configuration: ${JSON.stringify(text.split('\n')[text.split('\n').length - 2])} names file and line`, async () => {
    const cfg = makeConfig();
    try {
      // makeConfig wrote "[airlock]", "state_dir = ...", "[proto]": replace what follows.
      const conf = fs.readFileSync(cfg.conf, 'utf8').split('\n').slice(0, 2).join('\n') + '\n' + text;
      fs.writeFileSync(cfg.conf, conf);
      const r = await runRefused(cfg.conf);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(`${cfg.conf}:${line}:`), `no ${cfg.conf}:${line}: in ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.equal(fs.existsSync(cfg.state), false, 'a state directory was made');
      const chk = await airlock(['config', 'check', cfg.conf]);
      assert.notEqual(chk.code, 0);
      assert.ok((chk.stdout + chk.stderr).includes(`${cfg.conf}:${line}:`), chk.stdout + chk.stderr);
    } finally {
      fs.rmSync(cfg.dir, { recursive: true, force: true });
    }
  });
}

test('a required protection this machine lacks (resctrl) refuses the start and starts nothing', async (t) => {
  const chk = await airlock(['check']);
  const line = chk.stdout.split('\n').find((l) => /^\s*kernel\.resctrl\s/.test(l));
  if (!line) return t.skip('airlock check reports nothing about resctrl');
  if (!/\babsent\b/.test(line)) return t.skip(`this machine has resctrl: ${line.trim()}`);
  const cfg = makeConfig({ extra: '[required]\nresctrl = yes\n' });
  try {
    const r = await runRefused(cfg.conf);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /resctrl/);
    assert.match(r.stderr, /refusing to start/);
    const recs = auditRecords(cfg.state);
    const req = recs.find((x) => x.event === 'protections-required');
    assert.ok(req.fields.required.some((n) => /resctrl/.test(n)), JSON.stringify(req.fields));
    assert.ok(req.fields.missing >= 1);
    for (const e of ['spawn', 'ready', 'manifest-created', 'files-verified'])
      assert.equal(recs.some((x) => x.event === e), false, `${e} after a refused start`);
    assert.equal(fs.existsSync(path.join(cfg.state, 'control.sock')), false);
    for (const e of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      let cmd = '';
      try { cmd = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8'); } catch { continue; }
      assert.equal(cmd.includes(cfg.conf), false, `process ${e} runs with this configuration: ${cmd}`);
    }
    const v = await airlock(['audit', 'verify', path.join(cfg.state, 'audit.log')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  } finally {
    fs.rmSync(cfg.dir, { recursive: true, force: true });
  }
});

test('a model file changed after the manifest was made refuses the start, naming the file', async () => {
  // A copy of the embedded model that this test may change.
  const scratch = makeConfig();
  const model = path.join(scratch.dir, 'model.bin');
  fs.copyFileSync(path.join(SOURCE_ROOT, 'models/stories260K.bin'), model);
  fs.rmSync(scratch.conf);
  // The first run makes the manifest in its state directory.
  const srv = await startAirlock({ extra: `[ai]\nmodel = ${model}\n` });
  try {
    const st = await srv.status();
    assert.ok(st.domains.every((d) => d.state === 'running'));
    const ex = await srv.stop({ keep: true });
    assert.equal(ex.code, 0, srv.stderr());
    assert.ok(fs.existsSync(path.join(srv.state, 'manifest.json')));

    // One byte of one weight changed.
    const fd = fs.openSync(model, 'r+');
    const b = Buffer.alloc(1);
    const off = Math.floor(fs.fstatSync(fd).size / 2);
    fs.readSync(fd, b, 0, 1, off);
    b[0] ^= 0x01;
    fs.writeSync(fd, b, 0, 1, off);
    fs.closeSync(fd);

    const r = await runRefused(srv.conf);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /refusing to start/);
    assert.ok(r.stderr.includes(model), `the model file is not named: ${r.stderr}`);
    const recs = auditRecords(srv.state);
    const lastStart = recs.findLastIndex((x) => x.event === 'start');
    const after = recs.slice(lastStart);
    const viol = after.find((x) => x.event === 'integrity-violation');
    assert.ok(viol, 'no integrity-violation recorded');
    assert.equal(viol.fields.path, model);
    assert.equal(after.some((x) => x.event === 'spawn' || x.event === 'ready'), false);
    const v = await airlock(['audit', 'verify', path.join(srv.state, 'audit.log')]);
    assert.equal(v.code, 0, v.stdout + v.stderr);

    // The same byte restored: the same configuration starts again (the
    // refusal was the change, nothing else).
    const fd2 = fs.openSync(model, 'r+');
    b[0] ^= 0x01;
    fs.writeSync(fd2, b, 0, 1, off);
    fs.closeSync(fd2);
    const again = spawn(AIRLOCK, ['run', '--config', srv.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const ready = new Promise((res) => {
      again.stderr.on('data', (d) => { err += d; if (/ready on/.test(err)) res(true); });
      again.once('exit', () => res(false));
    });
    const ok = await within(ready, 30000, 'the restored model starting').finally(() => again.kill('SIGTERM'));
    const ex2 = await waitExit(again, 30000);
    assert.equal(ok, true, err);
    assert.equal(ex2.code, 0, err);
  } finally {
    await srv.stop();
    fs.rmSync(scratch.dir, { recursive: true, force: true });
  }
});
