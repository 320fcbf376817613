// The "Query plan" pane. The router attaches the plan to `extensions.queryPlan` (and a readable
// rendering to `extensions.queryPlanText`) when a query or mutation carries
// `X-Tessera-Query-Plan: 1`; the fetcher is wrapped so the pane can show the plan of the last
// operation without the user digging through the response JSON. Subscriptions run over the
// WebSocket, whose events carry no plan: the pane says so rather than ask for the header (and
// shows a plan should an event carry one).
import { useSyncExternalStore } from 'react';
import { getOperationAST, parse } from 'graphql';

const INTROSPECTION = 'IntrospectionQuery';

let lastPlan = { state: 'none' };
const listeners = new Set();

function publish(plan) {
  lastPlan = plan;
  for (const listener of listeners) listener();
}

function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function recordFrom(payload) {
  // Incremental delivery yields arrays of parts; the plan rides on the first part that has one.
  const parts = Array.isArray(payload) ? payload : [payload];
  for (const part of parts) {
    const extensions = part && part.extensions;
    if (extensions && (extensions.queryPlan !== undefined || extensions.queryPlanText !== undefined)) {
      publish({ state: 'plan', plan: extensions.queryPlan, text: extensions.queryPlanText });
      return;
    }
  }
}

async function* recordingIterator(iterable) {
  for await (const payload of iterable) {
    recordFrom(payload);
    yield payload;
  }
}

/** The type of the operation `params` runs, if the document says. */
function operationType(params, options) {
  try {
    const document = options?.documentAST ?? parse(params.query);
    return getOperationAST(document, params.operationName ?? undefined)?.operation;
  } catch {
    return undefined;
  }
}

export function recordingQueryPlans(fetcher) {
  return async (params, options) => {
    const result = await fetcher(params, options);
    if (params.operationName === INTROSPECTION) return result;
    publish({ state: operationType(params, options) === 'subscription' ? 'subscription' : 'missing' });
    if (result && typeof result[Symbol.asyncIterator] === 'function') {
      return recordingIterator(result);
    }
    recordFrom(result);
    return result;
  };
}

function QueryPlanIcon() {
  return (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden="true">
      <rect x="3" y="3" width="7" height="5" rx="1" />
      <rect x="14" y="10" width="7" height="5" rx="1" />
      <rect x="14" y="17" width="7" height="4" rx="1" />
      <path d="M6.5 8v4.5H14M6.5 12.5V19H14" />
    </svg>
  );
}

/**
 * Plan text as lines that wrap within the pane, each continuing under its own indentation, so
 * that a long line (a subgraph operation) is never cut off.
 */
function PlanText({ text, testId }) {
  return (
    <div className="tessera-query-plan" data-testid={testId}>
      {text.split('\n').map((line, index) => {
        const hang = line.length - line.trimStart().length + 2;
        return (
          <div
            // The lines of one text never move: their position is their identity.
            key={index}
            className="tessera-query-plan-line"
            style={{ paddingLeft: `${hang}ch`, textIndent: `-${hang}ch` }}
          >
            {line || ' '}
          </div>
        );
      })}
    </div>
  );
}

function QueryPlanContent() {
  const current = useSyncExternalStore(subscribe, () => lastPlan);
  let body;
  switch (current.state) {
    case 'plan':
      body = (
        <div data-testid="query-plan">
          {typeof current.text === 'string' && <PlanText text={current.text} testId="query-plan-text" />}
          {current.plan !== undefined && (
            <details className="tessera-query-plan-json" open={typeof current.text !== 'string'}>
              <summary>As JSON</summary>
              <PlanText text={JSON.stringify(current.plan, null, 2)} testId="query-plan-json" />
            </details>
          )}
        </div>
      );
      break;
    case 'missing':
      body = (
        <p className="tessera-query-plan-note" data-testid="query-plan-missing">
          The last response carried no query plan. Send the header{' '}
          <code>X-Tessera-Query-Plan: 1</code> (Headers editor) to get one.
        </p>
      );
      break;
    case 'subscription':
      body = (
        <p className="tessera-query-plan-note" data-testid="query-plan-subscription">
          Query plans are shown for queries and mutations. A subscription's events arrive over the
          router's WebSocket without one.
        </p>
      );
      break;
    default:
      body = (
        <p className="tessera-query-plan-note" data-testid="query-plan-none">
          Run an operation to see how the router plans it across subgraphs.
        </p>
      );
  }
  return (
    <div>
      <div className="graphiql-doc-explorer-title">Query plan</div>
      {body}
    </div>
  );
}

export const queryPlanPlugin = {
  title: 'Query plan',
  icon: QueryPlanIcon,
  content: QueryPlanContent,
};
