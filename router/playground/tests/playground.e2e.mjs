// Drives the playground in headless Chromium against a running router:
//
//   node tests/playground.e2e.mjs http://127.0.0.1:8080 [--expect-field NAME]...
//     [--plan-query QUERY] [--subscription QUERY --expect-event TEXT] [--screenshot FILE]
//
// It opens the page, waits for GraphiQL, checks that the docs pane shows the Query type's fields
// (which only works once introspection succeeded) and that its search can be typed into and
// cleared, runs an operation, checks the result pane and the query plan pane, optionally runs
// QUERY (named, planned with a line longer than the pane is wide) and checks that its whole plan
// is shown, wrapped within the pane, optionally runs a subscription (over the router's
// WebSocket) until an event holding TEXT is shown and checks what the plan pane says of it, and
// checks that the browser never reached beyond the router's origin, hit no CSP violation and
// logged no error.
// The browser is TESSERA_CHROMIUM, or whatever scripts/ensure-browser finds.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const STEP_TIMEOUT_MS = 30_000;
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function usage(message) {
  console.error(
    `${message}\nusage: playground.e2e.mjs BASE_URL [--expect-field NAME]... [--plan-query QUERY] [--subscription QUERY --expect-event TEXT] [--screenshot FILE]`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  let base;
  let screenshot;
  let subscription;
  let expectEvent;
  let planQuery;
  const expectFields = [];
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--expect-field') {
      if (!argv[i + 1]) usage('--expect-field needs a field name');
      expectFields.push(argv[(i += 1)]);
    } else if (argv[i] === '--plan-query') {
      if (!argv[i + 1]) usage('--plan-query needs an operation');
      planQuery = argv[(i += 1)];
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
  if (planQuery && !operationName(planQuery)) usage('--plan-query needs a named operation');
  return { base: base.replace(/\/+$/, ''), origin, expectFields, planQuery, subscription, expectEvent, screenshot };
}

function browserPath() {
  if (process.env.TESSERA_CHROMIUM) return process.env.TESSERA_CHROMIUM;
  return execFileSync(path.join(repoRoot, 'scripts/ensure-browser'), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

class Failure extends Error {}

function operationName(document) {
  return /^\s*(?:query|mutation|subscription)\s+(\w+)/.exec(document)?.[1];
}

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

const { base, origin, expectFields, planQuery, subscription, expectEvent, screenshot } = parseArgs(
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

  await step('the docs search can be typed into and cleared', async () => {
    const errorsBefore = pageErrors.length + consoleErrors.length;
    const search = page.locator('.graphiql-doc-explorer-search input');
    await search.click();
    await search.fill(expectFields[0] ?? 'Query');
    await page.locator('.graphiql-doc-explorer-search [role="option"]').first().waitFor();
    // Cleared at once, then by deleting what was typed: each empties the combobox.
    await search.fill('');
    await search.pressSequentially('ty');
    await search.press('Backspace');
    await search.press('Backspace');
    await search.press('Escape');
    // The search reacts after a short debounce; give it time to fail.
    await page.waitForTimeout(500);
    const errors = [...pageErrors, ...consoleErrors].slice(errorsBefore);
    if (errors.length) throw new Failure(`clearing the search logged: ${errors.join('; ')}`);
    if ((await search.inputValue()) !== '') throw new Failure('the search input was not cleared');
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

  // The pane's button toggles it: open it only when it is closed.
  const showPlanPane = async () => {
    const show = page.getByRole('button', { name: 'Show Query plan' });
    if (await show.count()) await show.click();
  };

  const run = async (operation) => {
    await page.evaluate((text) => {
      document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(text);
    }, operation);
    const name = operationName(operation);
    if (name) await page.locator(`.graphiql-tab-active [title="${name}"]`).waitFor();
    await page.locator('.graphiql-execute-button').click();
  };

  await step('the query plan pane reports on the last operation', async () => {
    await showPlanPane();
    const plan = page.getByTestId('query-plan');
    const missing = page.getByTestId('query-plan-missing');
    await plan.or(missing).first().waitFor();
    return (await plan.count()) ? 'plan shown' : 'the router sent no plan';
  });

  if (planQuery) {
    await step('a long plan is shown whole, wrapped within the pane', async () => {
      await run(planQuery);
      const response = await page.waitForFunction(() => {
        const text = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '';
        try {
          const parsed = JSON.parse(text);
          return parsed?.extensions?.queryPlanText?.includes('Fetch') ? parsed : null;
        } catch {
          return null;
        }
      });
      const expected = (await response.jsonValue()).extensions.queryPlanText;
      await showPlanPane();
      const shown = page.getByTestId('query-plan-text');
      await page.waitForFunction((text) => {
        const lines = document.querySelectorAll('[data-testid="query-plan-text"] .tessera-query-plan-line');
        return [...lines].map((line) => line.textContent).join('\n') === text;
      }, expected);
      const layout = await shown.evaluate((element) => {
        const pane = element.closest('.graphiql-plugin');
        const lines = [...element.querySelectorAll('.tessera-query-plan-line')];
        const heights = lines.map((line) => line.getBoundingClientRect().height);
        const single = Math.min(...heights);
        return {
          wrapped: heights.filter((height) => height > single * 1.5).length,
          cut: [pane, element, ...lines].filter((e) => e.scrollWidth > e.clientWidth + 1).length,
          paneWidth: pane.clientWidth,
        };
      });
      if (!layout.wrapped) {
        throw new Failure(`no line of the plan is longer than the pane (${layout.paneWidth}px): use a longer --plan-query`);
      }
      if (layout.cut) throw new Failure(`${layout.cut} elements of the plan pane overflow it horizontally`);
      return `${layout.wrapped} long lines wrapped in ${layout.paneWidth}px`;
    });
  }

  if (subscription) {
    await step('a subscription runs and its events are shown', async () => {
      const sockets = [];
      page.on('websocket', (socket) => sockets.push(socket.url()));
      await run(subscription);
      await page.waitForFunction((text) => {
        const editor = document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror;
        return (editor?.getValue() ?? '').includes(text);
      }, expectEvent);
      if (!sockets.some((url) => url.startsWith(`${wsOrigin}/graphql`))) {
        throw new Failure(`the subscription did not use the router's WebSocket (saw ${sockets.join(', ')})`);
      }
      // The plan pane speaks of the subscription: its events carry no plan (or show it if one
      // does), and asking for the header, which was sent, would be wrong.
      await showPlanPane();
      const note = page.getByTestId('query-plan-subscription').or(page.getByTestId('query-plan'));
      await note.first().waitFor();
      if (await page.getByTestId('query-plan-missing').count()) {
        throw new Failure('the plan pane asks for the plan header during a subscription');
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
