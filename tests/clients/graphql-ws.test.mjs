// graphql-ws (the graphql-transport-ws protocol): subscriptions and queries over one socket,
// the caller's token in `connectionParams` in each shape clients send it, and the close
// handshake.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { Events, POST_PUBLISHED, ROUTER_WS, STEP_MS, assertPost, publish, registered, untilLive } from './lib/platform.mjs';

/** A graphql-ws client that gives up instead of retrying, so failures show at once. */
function socket(connectionParams, on = {}) {
  return createClient({ url: ROUTER_WS, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, on });
}

/** Runs one operation over `client` and returns its only result. */
async function once(client, query, variables = {}) {
  const results = [];
  await new Promise((resolve, reject) => {
    client.subscribe({ query, variables }, {
      next: (result) => results.push(result),
      error: (error) => reject(error instanceof Error ? error : new Error(`closed: ${error.code} ${error.reason}`)),
      complete: resolve,
    });
  });
  assert.equal(results.length, 1, `one result: ${JSON.stringify(results)}`);
  return results[0];
}

/** The event that closed `client`'s socket; `closed` is its promise from `on.closed`. */
function closeEvents() {
  let settle;
  const closed = new Promise((resolve) => {
    settle = resolve;
  });
  return { on: { closed: (event) => settle(event) }, closed };
}

describe('graphql-ws', () => {
  let mei;
  before(async () => {
    mei = await registered('Mei');
  });

  test('subscribes to posts as they are published', async () => {
    const client = socket({ Authorization: `Bearer ${mei.token}` });
    const events = new Events();
    const unsubscribe = client.subscribe(
      { query: POST_PUBLISHED, variables: { author: mei.id } },
      {
        next: (result) => (result.errors ? events.fail(result.errors) : events.push(result.data.postPublished)),
        error: (error) => events.fail(error),
        complete: () => events.fail(new Error('the subscription completed')),
      },
    );
    try {
      await untilLive(mei, events, (post) => post.title);
      for (let i = 0; i < 3; i += 1) {
        const published = await publish(mei, `Socket ${i}`);
        const event = await events.nextMatching(`event for "${published.title}"`, (p) => p.title === published.title);
        assertPost(assert, event.value, published, mei);
      }
    } finally {
      unsubscribe();
      await client.dispose();
    }
  });

  test('answers queries over the socket', async () => {
    const client = socket({ Authorization: `Bearer ${mei.token}` });
    try {
      const result = await once(client, 'query Post($id: ID!) { post(id: $id) { id title author { displayName } } }', {
        id: (await publish(mei, 'Over the socket')).id,
      });
      assert.ok(!result.errors, JSON.stringify(result.errors));
      assert.equal(result.data.post.title, 'Over the socket');
      assert.equal(result.data.post.author.displayName, 'Mei');
    } finally {
      await client.dispose();
    }
  });

  const shapes = {
    '{ Authorization: "Bearer …" }': (token) => ({ Authorization: `Bearer ${token}` }),
    '{ headers: { Authorization } }': (token) => ({ headers: { Authorization: `Bearer ${token}` } }),
    '{ authToken }': (token) => ({ authToken: token }),
    '{ token }': (token) => ({ token }),
  };
  for (const [shape, params] of Object.entries(shapes)) {
    test(`reads the token from connectionParams ${shape}`, async () => {
      const client = socket(params(mei.token));
      try {
        const result = await once(client, '{ me { id email } }');
        assert.ok(!result.errors, JSON.stringify(result.errors));
        assert.deepEqual(result.data.me, { id: mei.id, email: mei.email }, 'the caller is the token holder');
      } finally {
        await client.dispose();
      }
    });
  }

  test('refuses a forged token in connectionParams with 4403', async () => {
    const { on, closed } = closeEvents();
    const client = socket({ Authorization: 'Bearer not.a.token' }, on);
    await assert.rejects(once(client, '{ me { id } }'));
    const event = await closed;
    assert.equal(event.code, 4403, `closed with ${event.code} ${event.reason}`);
    await client.dispose();
  });

  test("answers the client's close with the client's code", async () => {
    const { on, closed } = closeEvents();
    let connected;
    const ready = new Promise((resolve) => {
      connected = resolve;
    });
    const client = createClient({
      url: ROUTER_WS,
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: `Bearer ${mei.token}` },
      lazy: false,
      retryAttempts: 0,
      on: { ...on, connected },
    });
    await ready;
    await client.dispose();
    const event = await Promise.race([
      closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no close within ${STEP_MS} ms`)), STEP_MS).unref()),
    ]);
    assert.equal(event.code, 1000, `the router answered the close handshake (1006 means it dropped the connection): got ${event.code}`);
    assert.equal(event.wasClean, true);
  });
});
