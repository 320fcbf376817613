// Runs federation-gateway-audit suites against one gateway and records every response.
// Started by scripts/audit, which serves the audit's subgraphs first. For each suite it saves
// the supergraph, subgraphs and test cases under the cases directory, starts the gateway with
// `sh run.sh <suite>`, waits for it, sends each case's query, and compares the result the way
// the audit does: deepStrictEqual of `data ?? null`, and error presence only when the case
// declares `errors`.
//
// Usage: node audit-runner.mjs --gateway-dir DIR --cases DIR --report FILE [--json FILE]
//          [--subgraphs URL] [--graphql URL] [--health URL] [SUITE...]
//        node audit-runner.mjs --dump-only --cases DIR [--subgraphs URL] [SUITE...]
import { spawn } from "node:child_process";
import { deepStrictEqual } from "node:assert";
import { mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { connect } from "node:net";
import { parseArgs } from "node:util";

const { values: opts, positionals: wanted } = parseArgs({
  allowPositionals: true,
  options: {
    "gateway-dir": { type: "string" },
    cases: { type: "string" },
    report: { type: "string" },
    json: { type: "string" },
    subgraphs: { type: "string", default: "http://127.0.0.1:4200" },
    graphql: { type: "string", default: "http://127.0.0.1:4000/graphql" },
    health: { type: "string", default: "http://127.0.0.1:4000/health" },
    "dump-only": { type: "boolean", default: false },
  },
});
const dumpOnly = opts["dump-only"];
for (const required of dumpOnly ? ["cases"] : ["gateway-dir", "cases", "report"]) {
  if (!opts[required]) fail(`--${required} is required`);
}

const gatewayDir = opts["gateway-dir"];
const gatewayName = dumpOnly ? "" : basename(gatewayDir);
const startTimeout = Number(process.env.GATEWAY_TIMEOUT ?? 15000);
const gatewayUrl = new URL(opts.graphql);
const gatewayPort = Number(gatewayUrl.port || 80);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function fail(message) {
  process.stderr.write(`audit-runner: ${message}\n`);
  process.exit(2);
}

async function getText(url) {
  const response = await fetch(url, { headers: { accept: "application/json" } });
  const body = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}: ${body.slice(0, 300)}`);
  return body;
}

function portInUse(port, host) {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function waitForPortFree(port, host, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!(await portInUse(port, host))) return true;
    await sleep(100);
  }
  return false;
}

function startGateway(suite, logPath) {
  const log = openSync(logPath, "w");
  const child = spawn("sh", ["run.sh", suite], {
    cwd: gatewayDir,
    detached: true,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  const state = { child, exited: false, code: null };
  state.done = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      state.exited = true;
      state.code = code ?? signal;
      resolve();
    });
  });
  return state;
}

async function stopGateway(state) {
  if (state.exited) return;
  const signalGroup = (signal) => {
    try {
      process.kill(-state.child.pid, signal);
    } catch {
      // the group is already gone
    }
  };
  signalGroup("SIGTERM");
  const exited = await Promise.race([state.done.then(() => true), sleep(5000).then(() => false)]);
  if (!exited) {
    signalGroup("SIGKILL");
    await state.done;
  }
}

// Health GET until it answers 2xx, then `{ __typename }` until it returns Query.
async function waitForGateway(state) {
  const deadline = Date.now() + startTimeout;
  let healthy = false;
  while (Date.now() < deadline && !state.exited) {
    try {
      const response = await fetch(opts.health, { signal: AbortSignal.timeout(500) });
      if (response.ok) {
        healthy = true;
        break;
      }
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  if (!healthy) {
    return state.exited
      ? `gateway exited (${state.code}) before its health check answered`
      : `health check did not answer within ${startTimeout} ms`;
  }
  const pingDeadline = Date.now() + 2000;
  let last = "";
  do {
    try {
      const response = await fetch(opts.graphql, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ query: "query ping { __typename }", operationName: "ping" }),
        signal: AbortSignal.timeout(1000),
      });
      last = await response.text();
      if (JSON.parse(last)?.data?.__typename === "Query") return null;
    } catch (error) {
      last = String(error);
    }
    await sleep(200);
  } while (Date.now() < pingDeadline);
  return `\`{ __typename }\` did not return Query: ${last.slice(0, 300)}`;
}

async function runCase(query, expectedResult) {
  const outcome = { status: null, body: null, response: null, error: null };
  try {
    const response = await fetch(opts.graphql, {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/json" },
      body: JSON.stringify({ query }),
      signal: AbortSignal.timeout(10_000),
    });
    outcome.status = response.status;
    outcome.body = await response.text();
    outcome.response = JSON.parse(outcome.body);
  } catch (error) {
    outcome.error = String(error?.message ?? error);
    outcome.pass = false;
    return outcome;
  }
  const response = outcome.response ?? {};
  const errorsOptional = typeof expectedResult.errors !== "boolean";
  const received = {
    data: response.data ?? null,
    errors: errorsOptional ? null : response.errors?.length ? true : false,
  };
  const expected = {
    data: expectedResult.data ?? null,
    errors: errorsOptional ? null : (expectedResult.errors ?? false),
  };
  try {
    deepStrictEqual(received, expected);
    outcome.pass = true;
  } catch {
    outcome.pass = false;
  }
  return outcome;
}

function tail(path, lines) {
  try {
    const text = readFileSync(path, "utf8").replace(/\x1b\[[0-9;]*m/g, "");
    return text.split("\n").slice(-lines).join("\n").trim();
  } catch {
    return "";
  }
}

const fence = (lang, text) => {
  const ticks = text.includes("```") ? "````" : "```";
  return `${ticks}${lang}\n${text.trim()}\n${ticks}`;
};
const pretty = (value) => JSON.stringify(value, null, 2);

// The suites write queries and SDL as indented template literals; strip the common indentation
// (a first line that follows the opening backtick directly has none, so it is left out).
function dedent(text) {
  const lines = text.trimEnd().split("\n");
  const first = lines[0].trim() ? [lines.shift().trim()] : [];
  while (lines.length && !lines[0].trim()) lines.shift();
  const indents = lines.filter((l) => l.trim()).map((l) => l.match(/^ */)[0].length);
  const cut = indents.length ? Math.min(...indents) : 0;
  return [...first, ...lines.map((l) => l.slice(cut))].join("\n");
}

// Saves a suite's supergraph, subgraphs (JSON and one SDL file each) and test cases.
async function dumpSuite(suite) {
  const caseDir = join(opts.cases, suite);
  mkdirSync(caseDir, { recursive: true });
  const supergraph = await getText(`${opts.subgraphs}/${suite}/supergraph`);
  const tests = JSON.parse(await getText(`${opts.subgraphs}/${suite}/tests`));
  const subgraphs = JSON.parse(await getText(`${opts.subgraphs}/${suite}/subgraphs`));
  writeFileSync(join(caseDir, "supergraph.graphql"), supergraph);
  writeFileSync(join(caseDir, "tests.json"), pretty(tests) + "\n");
  writeFileSync(join(caseDir, "subgraphs.json"), pretty(subgraphs) + "\n");
  mkdirSync(join(caseDir, "subgraphs"), { recursive: true });
  for (const { name, sdl } of subgraphs) {
    writeFileSync(join(caseDir, "subgraphs", `${name}.graphql`), dedent(sdl) + "\n");
  }
  return tests;
}

async function main() {
  let ids;
  try {
    ids = JSON.parse(await getText(`${opts.subgraphs}/ids`));
  } catch (error) {
    fail(`cannot list the suites from ${opts.subgraphs}/ids: ${error.message}`);
  }
  const unknown = wanted.filter((id) => !ids.includes(id));
  if (unknown.length) fail(`unknown suite(s): ${unknown.join(", ")}\nknown: ${ids.join(" ")}`);
  const suites = wanted.length ? wanted : ids;

  if (dumpOnly) {
    for (const suite of suites) {
      const tests = await dumpSuite(suite);
      process.stdout.write(`${suite.padEnd(40)} ${tests.length} cases\n`);
    }
    process.stdout.write(`Cases: ${opts.cases}\n`);
    return;
  }

  if (await portInUse(gatewayPort, gatewayUrl.hostname)) {
    fail(`port ${gatewayPort} is already in use; stop whatever listens there (lsof -i :${gatewayPort})`);
  }

  const logs = join(gatewayDir, "logs");
  mkdirSync(logs, { recursive: true });
  const results = [];
  let current = null;
  const interrupt = async () => {
    if (current) await stopGateway(current);
    process.exit(130);
  };
  process.once("SIGINT", interrupt);
  process.once("SIGTERM", interrupt);

  for (const suite of suites) {
    const tests = await dumpSuite(suite);
    const logPath = join(logs, `${suite}-gateway.log`);
    current = startGateway(suite, logPath);
    const startError = await waitForGateway(current);
    const cases = [];
    for (const [index, test] of tests.entries()) {
      cases.push({ index, query: test.query, expected: test.expected, ...(await runCase(test.query, test.expected)) });
    }
    await stopGateway(current);
    current = null;
    if (!(await waitForPortFree(gatewayPort, gatewayUrl.hostname, 10_000))) {
      fail(`port ${gatewayPort} is still in use after the ${suite} gateway stopped`);
    }
    const passed = cases.filter((c) => c.pass).length;
    const suiteResult = { suite, passed, total: cases.length, startError, cases };
    if (startError || passed < cases.length) suiteResult.logTail = tail(logPath, 40);
    results.push(suiteResult);
    const marks = cases.map((c) => (c.pass ? "." : "X")).join("");
    const note = startError ? `  (${startError})` : "";
    process.stdout.write(`${suite.padEnd(40)} ${String(passed).padStart(2)}/${String(cases.length).padEnd(2)} ${marks}${note}\n`);
  }

  const total = results.reduce((n, r) => n + r.total, 0);
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failing = results.flatMap((r) => r.cases.filter((c) => !c.pass).map((c) => ({ suite: r.suite, ...c })));

  const md = [];
  md.push(`# Federation audit: ${gatewayName}`, "");
  md.push(`${new Date().toISOString()}. Score: **${passed}/${total}**${wanted.length ? ` (suites: ${suites.join(", ")})` : ""}.`, "");
  md.push("Case numbers are 0-based indexes into `cases/<suite>/tests.json` (the audit names them `<suite>_<n>`).", "");
  md.push("| Suite | Passed |", "|---|---|");
  for (const r of results) md.push(`| ${r.suite} | ${r.passed}/${r.total}${r.startError ? ` (${r.startError})` : ""} |`);
  md.push("");
  if (failing.length) {
    md.push("## Failing cases", "");
    for (const c of failing) md.push(`- ${c.suite} #${c.index}`);
    md.push("");
  }
  for (const r of results) {
    const failed = r.cases.filter((c) => !c.pass);
    if (!failed.length && !r.startError) continue;
    md.push(`## ${r.suite}`, "");
    if (r.startError) md.push(`Gateway start: ${r.startError}.`, "");
    for (const c of failed) {
      md.push(`### ${r.suite} #${c.index}`, "");
      md.push(fence("graphql", dedent(c.query)), "");
      md.push(`Expected${typeof c.expected.errors === "boolean" ? " (errors compared)" : " (errors ignored)"}:`, "");
      md.push(fence("json", pretty(c.expected)), "");
      if (c.error) {
        md.push(`Actual: request failed: ${c.error}${c.status ? ` (HTTP ${c.status})` : ""}`, "");
        if (c.body) md.push(fence("", c.body.slice(0, 4000)), "");
      } else {
        md.push(`Actual (HTTP ${c.status}):`, "");
        md.push(fence("json", pretty(c.response)), "");
      }
    }
    if (r.logTail) {
      md.push(`Gateway log tail (\`logs/${r.suite}-gateway.log\`):`, "");
      md.push(fence("", r.logTail || "(empty)"), "");
    }
  }
  writeFileSync(opts.report, md.join("\n"));
  if (opts.json) writeFileSync(opts.json, pretty({ gateway: gatewayName, passed, total, results }) + "\n");

  process.stdout.write(`\nTotal: ${passed}/${total}\n`);
  if (failing.length) {
    process.stdout.write(`Failing (${failing.length}):\n`);
    for (const c of failing) process.stdout.write(`  ${c.suite} #${c.index}\n`);
  }
  process.stdout.write(`Report: ${opts.report}\n`);
  process.exit(failing.length ? 1 : 0);
}

main().catch((error) => fail(error?.stack ?? String(error)));
