// graphql-sse (GraphQL over Server-Sent Events) in both of its modes: distinct connections (one
// streamed POST per operation) and single connection (a PUT reserves a stream, a GET reads it,
// operations are POSTed to it and DELETEd to stop).

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-sse';
import { Events, POST_PUBLISHED, ROUTER, assertPost, publish, registered, untilLive } from './lib/platform.mjs';

/** A graphql-sse client for `user` in the given mode; `sent` records each request's method. */
function sse(user, singleConnection, sent) {
  return createClient({
    url: ROUTER,
    singleConnection,
    retryAttempts: 0,
    headers: { authorization: `Bearer ${user.token}` },
    fetchFn: (url, init) => {
      sent.push({ method: init.method, accept: new Headers(init.headers).get('accept') });
      return fetch(url, init);
    },
  });
}

/** Runs one operation and returns its only result. */
async function once(client, query, variables = {}) {
  const results = [];
  await new Promise((resolve, reject) => {
    client.subscribe({ query, variables }, { next: (r) => results.push(r), error: reject, complete: resolve });
  });
  assert.equal(results.length, 1, `one result: ${JSON.stringify(results)}`);
  return results[0];
}

/** Subscribes `client` to `user`'s posts and checks three published ones arrive in order. */
async function streamsPosts(client, user, label) {
  const events = new Events();
  const unsubscribe = client.subscribe(
    { query: POST_PUBLISHED, variables: { author: user.id } },
    {
      next: (result) => (result.errors ? events.fail(result.errors) : events.push(result.data.postPublished)),
      error: (error) => events.fail(error instanceof Error ? error : new Error(String(error?.status ?? error))),
      complete: () => events.fail(new Error('the subscription completed')),
    },
  );
  try {
    await untilLive(user, events, (post) => post.title);
    for (let i = 0; i < 3; i += 1) {
      const published = await publish(user, `${label} ${i}`);
      const event = await events.nextMatching(`event for "${published.title}"`, (p) => p.title === published.title);
      assertPost(assert, event.value, published, user);
    }
  } finally {
    unsubscribe();
  }
}

describe('graphql-sse', () => {
  let omar;
  before(async () => {
    omar = await registered('Omar');
  });

  describe('distinct connections mode', () => {
    test('subscribes to posts as they are published', async () => {
      const sent = [];
      const client = sse(omar, false, sent);
      try {
        await streamsPosts(client, omar, 'Streamed');
        assert.ok(
          sent.some((r) => r.method === 'POST' && r.accept?.includes('text/event-stream')),
          `each operation is a streamed POST: ${JSON.stringify(sent)}`,
        );
      } finally {
        client.dispose();
      }
    });

    test('answers a query as a stream of one result', async () => {
      const client = sse(omar, false, []);
      try {
        const result = await once(client, '{ me { id displayName } }');
        assert.ok(!result.errors, JSON.stringify(result.errors));
        assert.deepEqual(result.data.me, { id: omar.id, displayName: 'Omar' });
      } finally {
        client.dispose();
      }
    });
  });

  describe('single connection mode', () => {
    test('subscribes to posts through a reserved stream', async () => {
      const sent = [];
      const client = sse(omar, true, sent);
      try {
        await streamsPosts(client, omar, 'Reserved');
        assert.deepEqual(
          sent.slice(0, 2).map((r) => r.method),
          ['PUT', 'GET'],
          `a reservation, then its stream: ${JSON.stringify(sent)}`,
        );
      } finally {
        client.dispose();
      }
    });

    test('answers a query through the reserved stream', async () => {
      const sent = [];
      const client = sse(omar, true, sent);
      try {
        const result = await once(client, '{ me { id displayName } }');
        assert.ok(!result.errors, JSON.stringify(result.errors));
        assert.deepEqual(result.data.me, { id: omar.id, displayName: 'Omar' });
        assert.equal(sent[0].method, 'PUT');
      } finally {
        client.dispose();
      }
    });
  });
});
