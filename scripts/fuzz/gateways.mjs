// The gateways under test: started here with a supergraph whose subgraph URLs go through a
// counting proxy of their own, or already running at a URL (then nothing is counted).
import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import http from "node:http";
import zlib from "node:zlib";
import { join } from "node:path";
import graphql from "./graphql.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** An HTTP proxy that forwards `/<n>/...` to the n-th subgraph URL and counts requests. */
export async function startProxy(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const proxy = { port, targets: [], count: 0, bySubgraph: new Map(), subgraphErrors: new Set() };
  // The messages of the errors subgraphs answered with: a gateway passes those on, and only
  // the errors it makes itself must carry its codes.
  proxy.noteErrors = (encoding, bytes) => {
    try {
      const text = (
        encoding === "gzip"
          ? zlib.gunzipSync(bytes)
          : encoding === "br"
            ? zlib.brotliDecompressSync(bytes)
            : encoding === "deflate"
              ? zlib.inflateSync(bytes)
              : bytes
      ).toString("utf8");
      for (const e of JSON.parse(text).errors ?? []) if (typeof e?.message === "string") proxy.subgraphErrors.add(e.message);
    } catch {
      // not a JSON answer: nothing to note
    }
  };
  proxy.server = http.createServer((req, res) => {
    const match = /^\/(\d+)(\/.*)?$/.exec(req.url.split("?")[0]);
    const target = match && proxy.targets[Number(match[1])];
    if (!target) {
      res.writeHead(404).end();
      return;
    }
    proxy.count++;
    proxy.bySubgraph.set(target.name, (proxy.bySubgraph.get(target.name) ?? 0) + 1);
    const url = new URL(target.url);
    const headers = { ...req.headers, host: url.host };
    const upstream = http.request(
      { hostname: url.hostname, port: url.port || 80, path: url.pathname + url.search, method: req.method, headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        const chunks = [];
        answer.on("data", (c) => chunks.push(c));
        answer.on("end", () => proxy.noteErrors(answer.headers["content-encoding"], Buffer.concat(chunks)));
        answer.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`proxy: ${err.message}`);
    });
    req.pipe(upstream);
  });
  await new Promise((resolve, reject) => {
    proxy.server.once("error", reject);
    proxy.server.listen(port, "127.0.0.1", resolve);
  });
  proxy.reset = () => {
    proxy.count = 0;
    proxy.bySubgraph = new Map();
    proxy.subgraphErrors = new Set();
  };
  proxy.close = () => new Promise((resolve) => proxy.server.close(resolve)).finally(() => agent.destroy());
  return proxy;
}

/**
 * The supergraph with every `@join__graph(url:)` pointing at the proxy; the proxy learns the
 * original URLs (`localhost` read as 127.0.0.1, where the subgraph servers listen).
 */
export function rewriteSupergraph(sdl, proxy) {
  proxy.targets = [];
  return sdl.replace(/@join__graph\(\s*name:\s*"([^"]*)"\s*,\s*url:\s*"([^"]*)"\s*\)/g, (_, name, url) => {
    const n = proxy.targets.length;
    proxy.targets.push({ name, url: url.replace("//localhost:", "//127.0.0.1:").replace("//0.0.0.0:", "//127.0.0.1:") });
    return `@join__graph(name: "${name}", url: "http://127.0.0.1:${proxy.port}/${n}")`;
  });
}

/** How each kind of gateway is started on `port` for the supergraph file `path`. */
function command(kind, bins, path, port, config) {
  if (kind === "tessera") {
    const args = ["router", "--supergraph", path, "--host", "127.0.0.1", "--port", String(port)];
    if (config) args.push("--config", config);
    return { file: bins.tessera, args, env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" } };
  }
  // Subgraph errors unmasked, as Tessera passes them on: the checks tell a subgraph's errors
  // from the gateway's own by their messages.
  const env = {
    ...process.env,
    SUPERGRAPH_FILE_PATH: path,
    HOST: "127.0.0.1",
    PORT: String(port),
    LOG_LEVEL: "error",
    DISABLE_SUBGRAPH_ERROR_MASKING: "true",
  };
  delete env.HIVE_CDN_ENDPOINT;
  delete env.APOLLO_KEY;
  if (config) env.ROUTER_CONFIG_FILE_PATH = config;
  else delete env.ROUTER_CONFIG_FILE_PATH;
  return { file: bins.hiveRouter, args: [], env };
}

/**
 * A gateway from its spec: `tessera`, `hive-router` (started by `start`), or a GraphQL URL.
 */
export function gatewayFromSpec(spec, i, options) {
  if (/^https?:\/\//.test(spec)) {
    return { name: i === 0 ? "ours" : "theirs", kind: "url", url: spec, started: false };
  }
  if (spec !== "tessera" && spec !== "hive-router") throw new Error(`unknown gateway ${spec} (tessera, hive-router or a URL)`);
  const port = options.port + i;
  return {
    // Two gateways of one kind (a run against itself, to see what varies between runs).
    name: options.taken?.includes(spec) ? `${spec}-${i + 1}` : spec,
    kind: spec,
    port,
    proxyPort: options.port + 10 + i,
    url: `http://127.0.0.1:${port}/graphql`,
    health: `http://127.0.0.1:${port}/health`,
    config: spec === "tessera" ? options.tesseraConfig : options.hiveRouterConfig,
    started: true,
  };
}

/** Starts (or restarts) a gateway of kind tessera/hive-router for one supergraph. */
export async function startGateway(gw, { sdl, workDir, target, bins, timeout = 30000 }) {
  mkdirSync(join(workDir, "logs"), { recursive: true });
  if (!gw.proxy) gw.proxy = await startProxy(gw.proxyPort);
  const path = join(workDir, `${safe(target)}.${gw.name}.graphql`);
  writeFileSync(path, rewriteSupergraph(sdl, gw.proxy));
  const cmd = command(gw.kind, bins, path, gw.port, gw.config);
  const logPath = join(workDir, "logs", `${safe(target)}.${gw.name}.log`);
  const log = openSync(logPath, "a");
  const child = spawn(cmd.file, cmd.args, { env: cmd.env, detached: true, stdio: ["ignore", log, log] });
  closeSync(log);
  gw.log = logPath;
  gw.process = { child, exited: false };
  gw.process.done = new Promise((resolve) => {
    child.once("error", (err) => {
      gw.process.exited = true;
      gw.process.code = err.message;
      resolve();
    });
    child.once("exit", (code, signal) => {
      gw.process.exited = true;
      gw.process.code = code ?? signal;
      resolve();
    });
  });
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline && !gw.process.exited) {
    try {
      const r = await post(gw.url, { query: "{ __typename }" }, {}, 2000);
      if (r.body?.data?.__typename) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  await stopGateway(gw);
  throw new Error(`${gw.name} did not answer { __typename } for ${target} (log: ${logPath})`);
}

export async function stopGateway(gw) {
  const proc = gw.process;
  if (!proc || proc.exited) return;
  const group = (signal) => {
    try {
      process.kill(-proc.child.pid, signal);
    } catch {
      // already gone
    }
  };
  group("SIGTERM");
  const exited = await Promise.race([proc.done.then(() => true), sleep(5000).then(() => false)]);
  if (!exited) {
    group("SIGKILL");
    await proc.done;
  }
}

export function stopNow(gw) {
  try {
    if (gw.process && !gw.process.exited) process.kill(-gw.process.child.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

function safe(name) {
  return name.replace(/[^A-Za-z0-9._-]/g, "_");
}

const clientAgent = new http.Agent({ keepAlive: true });

/**
 * POSTs a GraphQL request; resolves to { status, contentType, text, body } (body: parsed JSON or
 * undefined). node:http rather than fetch, which refuses some ports (4190, 6000, ...).
 */
export function post(url, payload, headers = {}, timeout = 30000) {
  const target = new URL(url);
  const data = JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname: target.hostname,
        port: target.port || 80,
        path: target.pathname + target.search,
        method: "POST",
        agent: clientAgent,
        timeout,
        headers: { "content-type": "application/json", accept: "application/json", ...headers, "content-length": Buffer.byteLength(data) },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let body;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode, contentType: res.headers["content-type"], text, body });
        });
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer in ${timeout} ms`), { code: "TIMEOUT" })));
    req.on("error", reject);
    req.end(data);
  });
}

/** The gateway's API schema, by introspection. */
export async function introspect(url, headers) {
  // `isOneOf` and deprecated arguments are recent; a gateway that does not know them gets the
  // plain query.
  let r;
  for (const options of [{ inputValueDeprecation: true, oneOf: true }, {}]) {
    r = await post(url, { query: graphql.getIntrospectionQuery(options) }, headers);
    if (r.body?.data && !r.body.errors?.length) return graphql.buildClientSchema(r.body.data);
  }
  throw new Error(`introspection of ${url} failed: HTTP ${r.status} ${r.text.slice(0, 300)}`);
}
