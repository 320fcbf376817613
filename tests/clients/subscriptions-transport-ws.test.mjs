// subscriptions-transport-ws, the legacy `graphql-ws` subprotocol older Apollo setups still
// speak: subscriptions and queries, with the token in `connectionParams`.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import transport from 'subscriptions-transport-ws';
import WebSocket from 'ws';
import { Events, POST_PUBLISHED, ROUTER_WS, assertPost, publish, registered, untilLive } from './lib/platform.mjs';

const { SubscriptionClient } = transport;

/** A legacy client that connects at once and never reconnects. */
function legacy(connectionParams) {
  return new SubscriptionClient(ROUTER_WS, { connectionParams, reconnect: false }, WebSocket);
}

/** Runs one operation over `client` and returns its only result. */
async function once(client, query, variables = {}) {
  const results = [];
  await new Promise((resolve, reject) => {
    client.request({ query, variables }).subscribe({
      next: (result) => results.push(result),
      error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
      complete: resolve,
    });
  });
  assert.equal(results.length, 1, `one result: ${JSON.stringify(results)}`);
  return results[0];
}

describe('subscriptions-transport-ws', () => {
  let noor;
  before(async () => {
    noor = await registered('Noor');
  });

  test('speaks the legacy graphql-ws subprotocol', async () => {
    const client = legacy({ Authorization: `Bearer ${noor.token}` });
    try {
      await new Promise((resolve, reject) => {
        client.onConnected(resolve);
        client.onError(reject);
      });
      assert.equal(client.client.protocol, 'graphql-ws');
    } finally {
      client.close();
    }
  });

  test('subscribes to posts as they are published', async () => {
    const client = legacy({ Authorization: `Bearer ${noor.token}` });
    const events = new Events();
    const subscription = client.request({ query: POST_PUBLISHED, variables: { author: noor.id } }).subscribe({
      next: (result) => (result.errors ? events.fail(result.errors) : events.push(result.data.postPublished)),
      error: (error) => events.fail(error),
      complete: () => events.fail(new Error('the subscription completed')),
    });
    try {
      await untilLive(noor, events, (post) => post.title);
      for (let i = 0; i < 3; i += 1) {
        const published = await publish(noor, `Legacy ${i}`);
        const event = await events.nextMatching(`event for "${published.title}"`, (p) => p.title === published.title);
        assertPost(assert, event.value, published, noor);
      }
    } finally {
      subscription.unsubscribe();
      client.close();
    }
  });

  test('answers a query with the token from connectionParams { authToken }', async () => {
    const client = legacy({ authToken: noor.token });
    try {
      const result = await once(client, '{ me { id email } }');
      assert.ok(!result.errors, JSON.stringify(result.errors));
      assert.deepEqual(result.data.me, { id: noor.id, email: noor.email });
    } finally {
      client.close();
    }
  });
});
