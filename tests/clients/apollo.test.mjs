// Apollo Client over HttpLink: queries and mutations, the normalized cache (one entry per
// entity, whichever query fetched it, updated by a mutation's result), and subscriptions over
// HttpLink's multipart HTTP support, each event on time.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import {
  Events,
  POST_PUBLISHED,
  ROUTER,
  admin,
  assertPost,
  eventually,
  gql as request,
  publish,
  registered,
  untilLive,
} from './lib/platform.mjs';

/**
 * How long to wait for an event. Each post is published only once the previous event has
 * arrived, so an event held back until the next one (or until the stream's 15 s heartbeat)
 * never arrives in time; an event that is not held back arrives in milliseconds. Speed itself
 * is measured by scripts/bench-subscriptions, not asserted here.
 */
const EVENT_WAIT_MS = 5_000;

/**
 * An Apollo client for `token` over HttpLink; `exchanges` records each request's `accept`
 * header and each response's content type.
 */
function apollo(token, exchanges = []) {
  const link = new HttpLink({
    uri: ROUTER,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    fetch: async (url, init) => {
      const response = await fetch(url, init);
      exchanges.push({
        accept: new Headers(init.headers).get('accept'),
        contentType: response.headers.get('content-type'),
      });
      return response;
    },
  });
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

/** `value` without the `__typename` fields Apollo adds to every selection. */
function withoutTypenames(value) {
  return JSON.parse(JSON.stringify(value, (key, v) => (key === '__typename' ? undefined : v)));
}

/** The cache's entries of `typename`, by cache id. */
function entries(client, typename) {
  return Object.keys(client.cache.extract()).filter((key) => key.startsWith(`${typename}:`));
}

const ME = gql`
  query Me {
    me { id displayName }
  }
`;
const USER = gql`
  query UserById($id: ID!) {
    user(id: $id) { id displayName email }
  }
`;
const UPDATE_PROFILE = gql`
  mutation Rename($input: UpdateProfileInput!) {
    updateProfile(input: $input) { id displayName }
  }
`;

describe('Apollo Client', () => {
  let ada;
  before(async () => {
    ada = await registered('Ada');
  });

  test('queries and mutates over HttpLink', async () => {
    const client = apollo(ada.token);
    const created = await client.mutate({
      mutation: gql`
        mutation Draft($input: CreatePostInput!) {
          createPost(input: $input) { id title status }
        }
      `,
      variables: { input: { title: 'Notes from Apollo', body: 'Written with HttpLink.', tags: ['apollo'] } },
    });
    const post = created.data.createPost;
    assert.equal(post.status, 'DRAFT');
    assert.equal(post.title, 'Notes from Apollo');

    const read = await client.query({
      query: gql`
        query Post($id: ID!) {
          post(id: $id) { id title tags { name } author { id displayName } }
        }
      `,
      variables: { id: post.id },
    });
    assert.deepEqual(withoutTypenames(read.data.post), {
      id: post.id,
      title: 'Notes from Apollo',
      tags: [{ name: 'apollo' }],
      author: { id: ada.id, displayName: 'Ada' },
    });
    assert.deepEqual(entries(client, 'Post'), [`Post:${post.id}`], 'one entry for the post, from both operations');
  });

  test('keeps one cache entry per entity and updates it from a mutation result', async () => {
    const grace = await registered('Grace');
    const client = apollo(grace.token);
    await client.query({ query: ME });
    await client.query({ query: USER, variables: { id: grace.id } });
    const cache = client.cache.extract();
    assert.deepEqual(entries(client, 'User'), [`User:${grace.id}`]);
    assert.deepEqual(cache.ROOT_QUERY.me, { __ref: `User:${grace.id}` });
    assert.deepEqual(cache.ROOT_QUERY[`user({"id":"${grace.id}"})`], { __ref: `User:${grace.id}` });
    assert.equal(cache[`User:${grace.id}`].email, grace.email, 'the second query added its field to the one entry');

    // A watcher of the first query sees the mutation's result without another request.
    const seen = new Events();
    const watched = client
      .watchQuery({ query: ME, fetchPolicy: 'cache-only' })
      .subscribe({ next: (result) => seen.push(result.data?.me?.displayName), error: (e) => seen.fail(e) });
    assert.equal((await seen.nextMatching('the cached name', (name) => name === 'Grace')).value, 'Grace');
    await client.mutate({ mutation: UPDATE_PROFILE, variables: { input: { displayName: 'Grace Hopper' } } });
    const renamed = await seen.nextMatching('the renamed user from the cache', (name) => name === 'Grace Hopper');
    assert.equal(renamed.value, 'Grace Hopper');
    watched.unsubscribe();

    assert.equal(client.readQuery({ query: ME }).me.displayName, 'Grace Hopper');
    assert.equal(client.readQuery({ query: USER, variables: { id: grace.id } }).user.displayName, 'Grace Hopper');
    assert.deepEqual(entries(client, 'User'), [`User:${grace.id}`], 'still one entry');
  });

  test('normalizes audit events by id across the log and a user trail', async () => {
    const root = await admin();
    const subject = ada.id;
    // The audit service records events as it consumes them.
    await eventually('audit events about the user', async () => {
      const body = await request(
        'query($f: AuditEventFilter) { auditEvents(filter: $f, first: 5) { nodes { type } } }',
        { f: { subject } },
        root.token,
      );
      return body.data?.auditEvents?.nodes?.length > 0;
    });
    const client = apollo(root.token);
    const log = await client.query({
      query: gql`
        query Log($filter: AuditEventFilter) {
          auditEvents(filter: $filter, first: 20) { nodes { id type subject } }
        }
      `,
      variables: { filter: { subject } },
    });
    const trail = await client.query({
      query: gql`
        query Trail($id: ID!) {
          user(id: $id) { id auditTrail(first: 50) { nodes { id type subject } } }
        }
      `,
      variables: { id: subject },
    });
    const logged = log.data.auditEvents.nodes;
    const trailed = trail.data.user.auditTrail.nodes;
    assert.ok(logged.length > 0, 'the log has events about the user');
    for (const event of [...logged, ...trailed]) {
      assert.equal(typeof event.id, 'string', `an AuditEvent has an id: ${JSON.stringify(event)}`);
      assert.notEqual(event.id, '');
    }
    const ids = new Set(logged.map((e) => `AuditEvent:${e.id}`));
    assert.equal(ids.size, logged.length, 'ids are distinct');
    for (const event of logged) {
      assert.ok(
        trailed.some((t) => t.id === event.id),
        `the trail holds the logged event ${event.id}`,
      );
    }
    const cached = new Set(entries(client, 'AuditEvent'));
    for (const id of ids) assert.ok(cached.has(id), `${id} is a cache entry`);
    assert.equal(cached.size, new Set(trailed.map((e) => e.id)).size, 'one entry per event, from both queries');
  });

  test('receives each multipart subscription event before the next one is published', async (t) => {
    const exchanges = [];
    const client = apollo(ada.token, exchanges);
    const events = new Events();
    const subscription = client
      .subscribe({ query: gql(POST_PUBLISHED), variables: { author: ada.id } })
      .subscribe({
        next: (result) =>
          result.error ? events.fail(result.error) : events.push(withoutTypenames(result.data.postPublished)),
        error: (error) => events.fail(error),
        complete: () => events.fail(new Error('the subscription completed')),
      });
    try {
      await untilLive(ada, events, (post) => post.title);
      const streamed = exchanges.find((e) => e.accept?.includes('multipart/mixed'));
      assert.ok(streamed, `Apollo asked for multipart: ${JSON.stringify(exchanges)}`);
      assert.match(streamed.contentType, /^multipart\/mixed/);

      // Measured from publishPost's response: the post is published (and its event written)
      // before the response leaves blog. From the moment it is sent, a debug build's mutation
      // alone takes 20-50 ms; both figures are reported.
      const delays = [];
      for (let i = 0; i < 5; i += 1) {
        const published = await publish(ada, `Live ${i}`);
        const event = await events.nextMatching(
          `event for "Live ${i}", before the next post is published`,
          (post) => post.title === published.title,
          EVENT_WAIT_MS,
        );
        assertPost(assert, event.value, published, ada);
        delays.push({
          answered: Math.round(event.at - published.answeredAt),
          sent: Math.round(event.at - published.sentAt),
        });
      }
      const figures = delays.map((d) => `${d.answered} ms (${d.sent} ms from sending)`).join(', ');
      t.diagnostic(`event delays: ${figures}`);
    } finally {
      subscription.unsubscribe();
    }
  });
});

