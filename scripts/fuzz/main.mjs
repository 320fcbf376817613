// The entry point of scripts/fuzz-operations: see that file for the usage.
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import graphql, { repoRoot } from "./graphql.mjs";
import { check } from "./check.mjs";
import { differences } from "./compare.mjs";
import { DEFAULT_LIMITS, generate, valuesFromCases } from "./generate.mjs";
import { minimize } from "./minimize.mjs";
import { gatewayFromSpec, introspect, post, startGateway, stopGateway, stopNow } from "./gateways.mjs";

const cache = join(homedir(), ".cache", "tessera");
const { values: opts } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    count: { type: "string", default: "100" },
    index: { type: "string" },
    suite: { type: "string", multiple: true, default: [] },
    supergraph: { type: "string" },
    gateway: { type: "string", multiple: true, default: [] },
    check: { type: "boolean", default: false },
    "report-only": { type: "boolean", default: false },
    out: { type: "string", default: join(cache, "fuzz") },
    header: { type: "string", multiple: true, default: [] },
    "audit-dir": { type: "string", default: process.env.AUDIT_DIR ?? join(cache, "fed-audit") },
    subgraphs: { type: "string", default: "http://127.0.0.1:4200" },
    "tessera-bin": { type: "string", default: process.env.TESSERA_BIN },
    "hive-router-bin": { type: "string", default: process.env.HIVE_ROUTER_BIN ?? join(cache, "tools", "bin", "hive_router") },
    "tessera-config": { type: "string" },
    "hive-router-config": { type: "string" },
    port: { type: "string", default: "4100" },
    depth: { type: "string", default: String(DEFAULT_LIMITS.depth) },
    width: { type: "string", default: String(DEFAULT_LIMITS.width) },
    mutations: { type: "boolean", default: false },
    values: { type: "string" },
    minimize: { type: "boolean", default: false },
    known: { type: "string", multiple: true, default: [] },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

function fail(message) {
  process.stderr.write(`fuzz-operations: ${message}\n`);
  process.exit(2);
}

if (opts.help) {
  const text = readFileSync(join(repoRoot, "scripts", "fuzz-operations"), "utf8");
  process.stdout.write(text.split("\n").slice(1).filter((l) => l.startsWith("#")).map((l) => l.replace(/^# ?/, "")).join("\n") + "\n");
  process.exit(0);
}

const count = Number(opts.count);
// Problems already understood (`kind: message` matching one of these) are reported, but a
// check run whose problems are all known passes.
const known = opts.known.map((re) => new RegExp(re));
const seed = opts.seed;
const limits = { ...DEFAULT_LIMITS, depth: Number(opts.depth), width: Number(opts.width), mutations: opts.mutations };
const headers = Object.fromEntries(
  opts.header.map((h) => {
    const i = h.indexOf(":");
    if (i < 1) fail(`--header ${h}: expected "Name: value"`);
    return [h.slice(0, i).trim().toLowerCase(), h.slice(i + 1).trim()];
  }),
);
if (opts.gateway.length < 1 || opts.gateway.length > 2) fail("give one or two --gateway (tessera, hive-router or a URL)");
if (opts.check && opts.gateway.length !== 1) fail("--check runs against one gateway");
if (!opts.check && opts.gateway.length !== 2) fail("comparing needs two --gateway; use --check for one");
const gateways = opts.gateway.map((spec, i) =>
  gatewayFromSpec(spec, i, {
    taken: opts.gateway.slice(0, i),
    port: Number(opts.port),
    tesseraConfig: opts["tessera-config"] && resolve(opts["tessera-config"]),
    hiveRouterConfig: opts["hive-router-config"] && resolve(opts["hive-router-config"]),
  }),
);
const bins = {
  tessera: opts["tessera-bin"] ?? defaultTesseraBin(),
  hiveRouter: opts["hive-router-bin"],
};
for (const gw of gateways) {
  const bin = gw.kind === "tessera" ? bins.tessera : gw.kind === "hive-router" ? bins.hiveRouter : null;
  if (bin && !existsSync(bin)) fail(`no ${gw.kind} binary at ${bin}`);
}

/** Argument values from --values FILE (any JSON, e.g. a response listing real ids). */
function extraValues() {
  if (!opts.values) return undefined;
  return valuesFromCases([{ expected: { data: JSON.parse(readFileSync(opts.values, "utf8")) } }]);
}

function defaultTesseraBin() {
  const target = process.env.CARGO_TARGET_DIR ?? join(cache, "target");
  const release = join(target, "release", "tessera");
  return existsSync(release) ? release : join(target, "debug", "tessera");
}

// --- targets -----------------------------------------------------------------------------------

const casesDir = join(opts["audit-dir"], "cases");
let targets = [];
if (opts.suite.length) {
  const all = existsSync(casesDir) ? readdirSync(casesDir).filter((d) => existsSync(join(casesDir, d, "supergraph.graphql"))).sort() : [];
  const names = opts.suite.includes("all") ? all : opts.suite;
  if (!names.length) fail(`no saved audit suites in ${casesDir}: run scripts/audit --cases first`);
  for (const name of names) {
    const dir = join(casesDir, name);
    if (!existsSync(join(dir, "supergraph.graphql"))) fail(`no saved suite ${name} in ${casesDir}: run scripts/audit --cases`);
    const cases = existsSync(join(dir, "tests.json")) ? JSON.parse(readFileSync(join(dir, "tests.json"), "utf8")) : [];
    targets.push({ name, sdl: readFileSync(join(dir, "supergraph.graphql"), "utf8"), values: valuesFromCases(cases), suite: true });
  }
} else if (opts.supergraph) {
  targets.push({ name: basename(opts.supergraph, ".graphql"), sdl: readFileSync(opts.supergraph, "utf8"), values: extraValues() });
} else if (gateways.every((gw) => gw.kind === "url")) {
  targets.push({ name: "gateway", values: extraValues() });
} else {
  fail("give --suite NAME|all or --supergraph FILE for the gateways this script starts");
}
if (targets.some((t) => !t.sdl) && gateways.some((gw) => gw.started)) fail("a started gateway needs --suite or --supergraph");

// --- the audit's subgraph server ---------------------------------------------------------------

let serve = null;
async function ensureAuditSubgraphs() {
  const up = async () => {
    try {
      const r = await fetch(`${opts.subgraphs}/ids`, { signal: AbortSignal.timeout(1000) });
      return r.ok;
    } catch {
      return false;
    }
  };
  if (await up()) return;
  const dir = opts["audit-dir"];
  if (!existsSync(join(dir, "package.json"))) fail(`no prepared audit in ${dir}: run scripts/audit --cases first`);
  const env = { ...process.env };
  if (existsSync(join(dir, "polyfill.mjs"))) env.NODE_OPTIONS = `--import=${join(dir, "polyfill.mjs")} ${env.NODE_OPTIONS ?? ""}`;
  mkdirSync(join(dir, "logs"), { recursive: true });
  const { openSync } = await import("node:fs");
  const log = openSync(join(dir, "logs", "serve-fuzz.log"), "w");
  serve = spawn("npm", ["start", "--", "serve"], { cwd: dir, env, detached: true, stdio: ["ignore", log, log] });
  for (let i = 0; i < 120; i++) {
    if (await up()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  fail(`the audit subgraphs did not start (log: ${join(dir, "logs", "serve-fuzz.log")})`);
}

function stopAll() {
  for (const gw of gateways) stopNow(gw);
  if (serve) {
    try {
      process.kill(-serve.pid, "SIGTERM");
    } catch {
      // already gone
    }
  }
}
process.on("SIGINT", () => {
  stopAll();
  process.exit(130);
});
process.on("SIGTERM", () => {
  stopAll();
  process.exit(143);
});

// --- the run -----------------------------------------------------------------------------------

mkdirSync(opts.out, { recursive: true });
const casesFile = join(opts.out, opts.check ? "problems.jsonl" : "differences.jsonl");
writeFileSync(casesFile, "");

const stats = {
  seed,
  count,
  mode: opts.check ? "check" : "compare",
  gateways: gateways.map((gw) => `${gw.name}${gw.kind === "url" ? ` ${gw.url}` : ""}`),
  generated: 0,
  valid: 0,
  invalidAttempts: 0,
  invalid: 0,
  schemaMismatch: 0,
  sent: 0,
  identical: 0,
  identicalFailures: 0,
  different: 0,
  categories: {},
  requestDelta: {},
  requests: gateways.map(() => 0),
  requestsPerOperation: gateways.map(() => ({})),
  problems: gateways.map(() => ({})),
  casesWithProblems: 0,
  casesWithOnlyKnown: 0,
  restarts: gateways.map(() => 0),
  targets: {},
  setupErrors: [],
};
const bump = (map, key, by = 1) => (map[key] = (map[key] ?? 0) + by);

async function send(gw, op) {
  const payload = { query: op.query, variables: op.variables };
  if (op.operationName) payload.operationName = op.operationName;
  try {
    return await post(gw.url, payload, headers);
  } catch (err) {
    return { transport: err.code ? `${err.code}: ${err.message}` : err.message };
  }
}

// With --minimize, the first case of each kind of finding per target is shrunk to the smallest
// operation that still shows it: the same first difference category (compare), or the same
// first problem kind of the same gateway (check).
const shrunk = new Set();
async function shrink(target, op, categories, problems, schemas, original) {
  const category = categories.find((c) => !c.startsWith("requests:"));
  const gi = problems.findIndex((list) => list.length);
  const kind = gi >= 0 ? problems[gi][0].kind : null;
  const signature = category ? `${target.name}|${category}` : kind ? `${target.name}|${gi}:${kind}` : null;
  if (!signature || shrunk.has(signature)) return undefined;
  shrunk.add(signature);
  let answers = original.map((r) => r.body ?? r.text ?? r.transport);
  const holds = async (candidate) => {
    const responses = await sendAll(candidate);
    const held = category
      ? differences(responses[0], responses[1]).includes(category)
      : check(schemas[gi], candidate, responses[gi], gateways[gi].proxy?.subgraphErrors).some((p) => p.kind === kind);
    if (held) answers = responses.map((r) => r.body ?? r.text ?? r.transport);
    return held;
  };
  const found = await minimize(schemas[0], op, holds);
  return { for: category ?? `${gateways[gi].name} ${kind}`, query: found.query, variables: found.variables, responses: answers };
}

/**
 * The operation to each gateway in turn, never both at once: the subgraphs see one
 * gateway's requests at a time (some audit subgraphs keep state between requests).
 */
async function sendAll(op) {
  const responses = [];
  for (const gw of gateways) responses.push(await send(gw, op));
  return responses;
}

async function runTarget(target) {
  const t = (stats.targets[target.name] = { sent: 0, different: 0, problems: 0 });
  for (const gw of gateways) {
    if (!gw.started) continue;
    await startGateway(gw, { sdl: target.sdl, workDir: opts.out, target: target.name, bins });
  }
  const schemas = [];
  for (const [i, gw] of gateways.entries()) {
    try {
      schemas.push(await introspect(gw.url, headers));
    } catch (err) {
      // A second gateway that refuses introspection is checked against the first one's schema.
      if (i === 0) throw err;
      t.noIntrospection = gw.name;
      bump(stats.categories, `no-introspection:${gw.name}`);
      schemas.push(schemas[0]);
    }
  }
  if (schemas.length === 2) {
    const print = (s) => graphql.printSchema(graphql.lexicographicSortSchema(s));
    if (print(schemas[0]) !== print(schemas[1])) {
      t.schemaDiffers = true;
      bump(stats.categories, "api-schema");
    }
  }
  const first = opts.index !== undefined ? Number(opts.index) : 0;
  const last = opts.index !== undefined ? first + 1 : count;
  for (let index = first; index < last; index++) {
    const op = generate(schemas[0], { seed, target: target.name, index, values: target.values, limits });
    stats.generated++;
    stats.invalidAttempts += op.invalid.length;
    if (!op.query) {
      stats.invalid++;
      continue;
    }
    stats.valid++;
    // One case regenerated by hand: show it, whatever the outcome.
    if (opts.index !== undefined) {
      console.log(`# ${target.name} #${index}\n${op.query}\n${JSON.stringify(op.variables ?? {})}`);
    }
    if (schemas.slice(1).some((s) => graphql.validate(s, op.document).length)) {
      stats.schemaMismatch++;
      continue;
    }
    for (const gw of gateways) gw.proxy?.reset();
    const responses = await sendAll(op);
    stats.sent++;
    t.sent++;
    const requests = gateways.map((gw) => (gw.proxy ? gw.proxy.count : null));
    const bySubgraph = gateways.map((gw) => (gw.proxy ? Object.fromEntries(gw.proxy.bySubgraph) : null));
    const problems = responses.map((r, i) => check(schemas[i], op, r, gateways[i].proxy?.subgraphErrors));
    let anyProblem = false;
    let onlyKnown = true;
    problems.forEach((list, i) => {
      for (const kind of new Set(list.map((p) => p.kind))) bump(stats.problems[i], kind);
      for (const p of list) {
        p.known = known.some((re) => re.test(`${p.kind}: ${p.message}`)) || undefined;
        if (!p.known) onlyKnown = false;
      }
      if (list.length) anyProblem = true;
    });
    requests.forEach((n, i) => {
      if (n === null) return;
      stats.requests[i] += n;
      bump(stats.requestsPerOperation[i], n);
    });
    let categories = [];
    if (!opts.check) {
      categories = differences(responses[0], responses[1]);
      categories.forEach((c) => bump(stats.categories, c));
      // Two equal answers are identical even when both are a 5xx; the 5xx still fails the run.
      if (categories.some((c) => c !== "5xx")) {
        stats.different++;
        t.different++;
      } else {
        stats.identical++;
        if (categories.length) stats.identicalFailures++;
      }
      if (requests[0] !== null && requests[1] !== null) {
        const delta = requests[0] - requests[1];
        bump(stats.requestDelta, delta);
        if (delta !== 0) categories.push(delta > 0 ? "requests:more" : "requests:fewer");
      }
    }
    if (anyProblem) {
      stats.casesWithProblems++;
      t.problems++;
      if (onlyKnown) stats.casesWithOnlyKnown++;
    }
    if (categories.length || anyProblem) {
      const minimal = opts.minimize ? await shrink(target, op, categories, problems, schemas, responses) : undefined;
      const record = {
        seed,
        target: target.name,
        index,
        categories,
        query: op.query,
        operationName: op.operationName,
        variables: op.variables,
        minimal,
        responses: responses.map((r, i) => ({
          gateway: gateways[i].name,
          status: r.status,
          transport: r.transport,
          body: r.body ?? r.text,
          requests: requests[i],
          bySubgraph: bySubgraph[i],
          problems: problems[i],
        })),
      };
      appendFileSync(casesFile, JSON.stringify(record) + "\n");
    }
    // A gateway that went away is started again, so one crash does not hide later cases.
    for (const [i, gw] of gateways.entries()) {
      if (gw.started && gw.process.exited) {
        stats.restarts[i]++;
        bump(stats.categories, `crash:${gw.name}`);
        await startGateway(gw, { sdl: target.sdl, workDir: opts.out, target: target.name, bins });
      }
    }
  }
  for (const gw of gateways) if (gw.started) await stopGateway(gw);
  if (!opts.quiet) {
    const what = opts.check ? `${t.problems} with problems` : `${t.different} different`;
    process.stderr.write(`${target.name.padEnd(40)} ${String(t.sent).padStart(5)} sent, ${what}${t.schemaDiffers ? ", API schemas differ" : ""}\n`);
  }
}

function summaryText() {
  const lines = [];
  lines.push(`seed ${seed}, ${count} per target, ${targets.length} target(s), mode ${stats.mode}`);
  lines.push(`gateways: ${stats.gateways.join(" vs ")}`);
  lines.push(`operations: generated ${stats.generated}, valid ${stats.valid} (${stats.invalidAttempts} rejected attempts, ${stats.invalid} given up), schema mismatch ${stats.schemaMismatch}, sent ${stats.sent}`);
  if (!opts.check) {
    const failing = stats.identicalFailures ? ` (${stats.identicalFailures} of them a 5xx from both)` : "";
    lines.push(`identical ${stats.identical}${failing}, different ${stats.different}`);
    for (const [k, v] of Object.entries(stats.categories).sort()) lines.push(`  ${k}: ${v}`);
    const deltas = Object.entries(stats.requestDelta).sort((a, b) => Number(a[0]) - Number(b[0]));
    if (deltas.length) {
      const more = deltas.filter(([d]) => Number(d) > 0).reduce((s, [, n]) => s + n, 0);
      const fewer = deltas.filter(([d]) => Number(d) < 0).reduce((s, [, n]) => s + n, 0);
      lines.push(`subgraph requests (${gateways[0].name} - ${gateways[1].name}): more ${more}, fewer ${fewer}, same ${stats.requestDelta[0] ?? 0}; totals ${stats.requests.join(" vs ")}`);
      lines.push(`  distribution: ${deltas.map(([d, n]) => `${Number(d) > 0 ? "+" : ""}${d}: ${n}`).join(", ")}`);
    }
  }
  gateways.forEach((gw, i) => {
    const per = Object.entries(stats.requestsPerOperation[i]).sort((a, b) => Number(a[0]) - Number(b[0]));
    if (per.length) lines.push(`subgraph requests per operation of ${gw.name}: ${per.map(([n, c]) => `${n}: ${c}`).join(", ")}`);
  });
  gateways.forEach((gw, i) => {
    const kinds = Object.entries(stats.problems[i]).sort();
    lines.push(`consistency problems of ${gw.name}: ${kinds.length ? kinds.map(([k, v]) => `${k} ${v}`).join(", ") : "none"}`);
  });
  if (opts.check) {
    const known = stats.casesWithOnlyKnown ? ` (${stats.casesWithOnlyKnown} with known problems only)` : "";
    lines.push(`operations with problems: ${stats.casesWithProblems}${known}`);
  }
  if (stats.restarts.some((n) => n)) lines.push(`restarts after a crash: ${stats.restarts.join(" vs ")}`);
  for (const e of stats.setupErrors) lines.push(`setup error: ${e}`);
  if (targets.length > 1) {
    lines.push("per target (sent, then different or with problems):");
    for (const [name, t] of Object.entries(stats.targets)) {
      const found = opts.check ? t.problems : t.different;
      lines.push(`  ${name.padEnd(40)} ${String(t.sent).padStart(5)} ${String(found).padStart(5)}${t.schemaDiffers ? "  API schemas differ" : ""}`);
    }
  }
  lines.push(`cases: ${casesFile}`);
  return lines.join("\n") + "\n";
}

try {
  if (targets.some((t) => t.suite)) await ensureAuditSubgraphs();
  for (const target of targets) {
    try {
      await runTarget(target);
    } catch (err) {
      stats.setupErrors.push(`${target.name}: ${err.message}`);
      process.stderr.write(`${target.name}: ${err.message}\n`);
      for (const gw of gateways) if (gw.started) await stopGateway(gw);
    }
  }
} finally {
  for (const gw of gateways) {
    await stopGateway(gw);
    await gw.proxy?.close();
  }
  stopAll();
}

const text = summaryText();
writeFileSync(join(opts.out, "summary.txt"), text);
writeFileSync(join(opts.out, "summary.json"), JSON.stringify(stats, null, 2) + "\n");
process.stdout.write(text);

const failed = opts.check
  ? stats.casesWithProblems > stats.casesWithOnlyKnown
  : stats.different > 0 || stats.identicalFailures > 0;
process.exit(stats.setupErrors.length ? 2 : failed && !opts["report-only"] ? 1 : 0);
