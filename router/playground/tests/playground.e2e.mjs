// Drives the playground in headless Chromium against a running router:
//
//   node tests/playground.e2e.mjs http://127.0.0.1:8080 [--expect-field NAME]...
//     [--subscription QUERY --expect-event TEXT] [--screenshot FILE]
//
// It opens the page, waits for GraphiQL, checks that the docs pane shows the Query type's fields
// (which only works once introspection succeeded), runs an operation, checks the result pane,
// optionally runs a subscription (over the router's WebSocket) until an event holding TEXT is
// shown, and checks that the browser never reached beyond the router's origin and hit no CSP
// violation.
// The browser is TESSERA_CHROMIUM, or whatever scripts/ensure-browser finds.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const STEP_TIMEOUT_MS = 30_000;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function usage(message) {
  console.error(
    `${message}\nusage: playground.e2e.mjs BASE_URL [--expect-field NAME]... [--subscription QUERY --expect-event TEXT] [--screenshot FILE]`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  let base;
  let screenshot;
  let subscription;
  let expectEvent;
  const expectFields = [];
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--expect-field') {
      if (!argv[i + 1]) usage('--expect-field needs a field name');
      expectFields.push(argv[(i += 1)]);
    } else if (argv[i] === '--subscription') {
      if (!argv[i + 1]) usage('--subscription needs an operation');
      subscription = argv[(i += 1)];
    } else if (argv[i] === '--expect-event') {
      if (!argv[i + 1]) usage('--expect-event needs a text');
      expectEvent = argv[(i += 1)];
    } else if (argv[i] === '--screenshot') {
      if (!argv[i + 1]) usage('--screenshot needs a file name');
      screenshot = argv[(i += 1)];
    } else if (!base) {
      base = argv[i];
    } else {
      usage(`unexpected argument ${argv[i]}`);
    }
  }
  if (!base) usage('the router base URL is missing');
  if (Boolean(subscription) !== Boolean(expectEvent)) {
    usage('--subscription and --expect-event go together');
  }
  let origin;
  try {
    origin = new URL(base).origin;
  } catch {
    usage(`not a URL: ${base}`);
  }
  return { base: base.replace(/\/+$/, ''), origin, expectFields, subscription, expectEvent, screenshot };
}

function browserPath() {
  if (process.env.TESSERA_CHROMIUM) return process.env.TESSERA_CHROMIUM;
  return execFileSync(path.join(repoRoot, 'scripts/ensure-browser'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

class Failure extends Error {}

async function step(name, action) {
  process.stdout.write(`- ${name} ... `);
  try {
    const detail = await action();
    console.log(detail ? `ok (${detail})` : 'ok');
  } catch (error) {
    console.log('FAILED');
    throw error instanceof Failure ? error : new Failure(`${name}: ${error.message}`);
  }
}

const { base, origin, expectFields, subscription, expectEvent, screenshot } = parseArgs(
  process.argv.slice(2),
);
// data: and blob: URLs are made by the page itself (fonts, icons); they reach no server.
const local = (url) => url.startsWith(`${origin}/`) || /^(data|blob):/.test(url);
const wsOrigin = origin.replace(/^http/, 'ws');

const foreignRequests = [];
const pageErrors = [];
const consoleErrors = [];
const operationRequests = [];

const browser = await chromium.launch({
  executablePath: browserPath(),
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});

let exitCode = 0;
let page;
try {
  const context = await browser.newContext({ serviceWorkers: 'block' });
  // Refused rather than merely noted, so nothing leaves even if the check below were wrong.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (local(url)) return route.continue();
    foreignRequests.push(url);
    return route.abort('blockedbyclient');
  });
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
    });
  });

  page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on('request', (request) => {
    if (!local(request.url())) foreignRequests.push(request.url());
    if (request.method() === 'POST' && request.url().startsWith(`${origin}/graphql`)) {
      let body = {};
      try {
        body = request.postDataJSON() ?? {};
      } catch {
        // A body that is not JSON is still a request to check the headers of.
      }
      if (body.operationName !== 'IntrospectionQuery') operationRequests.push(request.headers());
    }
  });
  page.on('websocket', (socket) => {
    if (!socket.url().startsWith(`${wsOrigin}/`)) foreignRequests.push(socket.url());
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });

  await step(`open ${base}/`, async () => {
    const response = await page.goto(`${base}/`, { waitUntil: 'load' });
    if (!response || !response.ok()) throw new Failure(`GET / answered ${response?.status()}`);
    const type = response.headers()['content-type'] ?? '';
    if (!type.startsWith('text/html')) throw new Failure(`GET / is ${type}, not HTML`);
    if (!response.headers()['content-security-policy']) {
      throw new Failure('the page has no Content-Security-Policy');
    }
  });

  await step('GraphiQL renders', async () => {
    await page.locator('.graphiql-container .graphiql-query-editor .CodeMirror').waitFor();
    await page.locator('.graphiql-execute-button').waitFor();
  });

  await step('the docs pane shows the schema from introspection', async () => {
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const explorer = page.locator('.graphiql-doc-explorer');
    await explorer.waitFor();
    await explorer.locator('.graphiql-doc-explorer-type-name', { hasText: /^Query$/ }).first().click();
    await explorer.locator('.graphiql-doc-explorer-title', { hasText: /^Query$/ }).waitFor();
    const fieldNames = explorer.locator('.graphiql-doc-explorer-field-name');
    await fieldNames.first().waitFor();
    const fields = await fieldNames.allTextContents();
    const missing = expectFields.filter((field) => !fields.includes(field));
    if (missing.length) {
      throw new Failure(`Query lacks ${missing.join(', ')}; the docs show ${fields.join(', ')}`);
    }
    return `Query { ${fields.join(', ')} }`;
  });

  await step('an operation runs and its result is shown', async () => {
    await page.evaluate((query) => {
      document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(query);
    }, 'query PlaygroundCheck {\n  __typename\n}\n');
    // GraphiQL picks the operation to send from its parsed document, which trails the editor.
    await page.locator('.graphiql-tab-active [title="PlaygroundCheck"]').waitFor();
    await page.locator('.graphiql-execute-button').click();
    const result = await page.waitForFunction(() => {
      const editor = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror;
      const text = editor?.getValue() ?? '';
      return text.trim() ? text : null;
    });
    const text = await result.jsonValue();
    let response;
    try {
      response = JSON.parse(text);
    } catch {
      throw new Failure(`the result pane holds no JSON: ${text.slice(0, 300)}`);
    }
    if (response?.data?.__typename !== 'Query') {
      throw new Failure(`expected data.__typename = "Query", the result pane shows ${text.slice(0, 500)}`);
    }
    const sent = operationRequests.at(-1);
    if (!sent) throw new Failure('no operation request was seen');
    if (sent['x-tessera-query-plan'] !== '1') {
      throw new Failure('the operation was sent without the default X-Tessera-Query-Plan header');
    }
    return 'data.__typename = "Query"';
  });

  await step('the query plan pane reports on the last operation', async () => {
    await page.getByRole('button', { name: 'Show Query plan' }).click();
    const plan = page.getByTestId('query-plan');
    const missing = page.getByTestId('query-plan-missing');
    await plan.or(missing).first().waitFor();
    return (await plan.count()) ? 'plan shown' : 'the router sent no plan';
  });

  if (subscription) {
    await step('a subscription runs and its events are shown', async () => {
      const sockets = [];
      page.on('websocket', (socket) => sockets.push(socket.url()));
      await page.evaluate((query) => {
        document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(query);
      }, subscription);
      const name = /^\s*subscription\s+(\w+)/.exec(subscription)?.[1];
      if (name) await page.locator(`.graphiql-tab-active [title="${name}"]`).waitFor();
      await page.locator('.graphiql-execute-button').click();
      await page.waitForFunction((text) => {
        const editor = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror;
        return (editor?.getValue() ?? '').includes(text);
      }, expectEvent);
      if (!sockets.some((url) => url.startsWith(`${wsOrigin}/graphql`))) {
        throw new Failure(`the subscription did not use the router's WebSocket (saw ${sockets.join(', ')})`);
      }
      // Stop it, as a user would, before the page goes on.
      await page.locator('.graphiql-execute-button').click();
      return `an event holding "${expectEvent}" over ${wsOrigin}/graphql`;
    });
  }

  await step('a browser asking for /graphql gets the playground', async () => {
    const response = await page.request.get(`${base}/graphql`, {
      headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
    });
    const type = response.headers()['content-type'] ?? '';
    if (!response.ok() || !type.startsWith('text/html')) {
      throw new Failure(`GET /graphql for a browser answered ${response.status()} ${type}`);
    }
  });

  await step('nothing left the origin and nothing was refused', async () => {
    const violations = await page.evaluate(() => window.__cspViolations);
    const problems = [
      ...foreignRequests.map((url) => `request outside ${origin}: ${url}`),
      ...violations.map((violation) => `CSP violation: ${violation}`),
      ...pageErrors.map((error) => `uncaught error: ${error}`),
      ...consoleErrors.map((error) => `console error: ${error}`),
    ];
    if (problems.length) throw new Failure(problems.join('\n  '));
  });

  console.log('playground e2e: passed');
} catch (error) {
  exitCode = 1;
  console.error(`playground e2e: FAILED\n  ${error instanceof Failure ? error.message : error.stack}`);
} finally {
  if (screenshot && page) await page.screenshot({ path: screenshot }).catch(() => {});
  await browser.close();
}
process.exit(exitCode);
