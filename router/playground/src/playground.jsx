// The playground page: GraphiQL against the router's own /graphql endpoint, with everything it
// needs bundled so that it runs with no access beyond the router's origin.
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import 'graphiql/style.css';
import './playground.css';

import { queryPlanPlugin, recordingQueryPlans } from './query-plan.jsx';

const root = document.getElementById('graphiql');
// The endpoint comes from the page rather than the bundle so the server can place the page at
// any path; it resolves against the page's own origin.
const endpoint = new URL(root.dataset.endpoint || '/graphql', window.location.href);
const subscriptionEndpoint = new URL(endpoint);
subscriptionEndpoint.protocol = endpoint.protocol === 'https:' ? 'wss:' : 'ws:';

const fetcher = recordingQueryPlans(
  createGraphiQLFetcher({
    url: endpoint.href,
    // graphql-transport-ws on the same URL: the router upgrades /graphql for WebSocket clients.
    subscriptionUrl: subscriptionEndpoint.href,
  }),
);

const defaultQuery = `# Tessera playground
#
# Run an operation with Ctrl-Enter. The book icon opens the
# schema docs; the plan icon shows how the router planned the
# last query or mutation (while the header
# X-Tessera-Query-Plan: 1 is set in the Headers editor below).

query Example {
  __typename
}
`;

const defaultHeaders = JSON.stringify({ 'X-Tessera-Query-Plan': '1' }, null, 2);

createRoot(root).render(
  <GraphiQL
    fetcher={fetcher}
    plugins={[queryPlanPlugin]}
    defaultQuery={defaultQuery}
    defaultHeaders={defaultHeaders}
    defaultEditorToolsVisibility="headers"
  >
    <GraphiQL.Logo>Tessera</GraphiQL.Logo>
  </GraphiQL>,
);
