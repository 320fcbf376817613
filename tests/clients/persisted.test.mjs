// Persisted documents and automatic persisted queries with Apollo Client's PersistedQueryLink
// and Relay-style ids, and batches with Apollo Client's BatchHttpLink:
//
// - APQ on the platform's router: the first client's hash misses, the link sends the text,
//   the next client's hash alone is enough.
// - Two routers sharing one Redis (TESSERA_APQ_ROUTER_URLS): a document registered through
//   one runs by hash through the other.
// - A safelist router (TESSERA_SAFELIST_ROUTER_URL) whose Apollo manifest this suite writes
//   (TESSERA_SAFELIST_MANIFEST) and the router re-reads: listed documents run, others are
//   refused with PERSISTED_QUERY_NOT_IN_LIST.
// - A log-mode router (TESSERA_LOG_ROUTER_URL) with a Relay manifest (TESSERA_LOG_MANIFEST):
//   Relay's `doc_id` runs the listed text, and documents outside the list still run.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { BatchHttpLink } from '@apollo/client/link/batch-http';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { ROUTER, eventually } from './lib/platform.mjs';

const sha256 = (text) => createHash('sha256').update(text).digest('hex');

/** Every request a client sends and what came back, in order. */
function recording(exchanges) {
  return async (url, init) => {
    const response = await fetch(url, init);
    const body = await response.clone().text();
    exchanges.push({ request: JSON.parse(init.body ?? 'null'), status: response.status, body: JSON.parse(body) });
    return response;
  };
}

/** An Apollo client sending hashes first, over `uri`. */
function persisted(uri, exchanges) {
  const link = new PersistedQueryLink({ sha256 }).concat(
    new HttpLink({ uri, fetch: recording(exchanges) }),
  );
  return new ApolloClient({ link, cache: new InMemoryCache() });
}

/** A post no one wrote: the query reaches the subgraphs (a root `__typename` alone would be
 * answered from Apollo's cache) and its answer is `null`. */
const NOBODY = '00000000-0000-4000-8000-000000000000';

/**
 * A query no other run of the suite sends, so that no router has seen it; its one field is
 * aliased to `answer`'s random name.
 */
function fresh(name) {
  const alias = `t${sha256(`${name}${Math.random()}`).slice(0, 12)}`;
  return gql(`query ${name} { ${alias}: post(id: "${NOBODY}") { id } }`);
}

const LISTED = gql`
  query Listed {
    post(id: "00000000-0000-4000-8000-000000000000") {
      id
    }
  }
`;

describe('automatic persisted queries', () => {
  test('a miss is answered PERSISTED_QUERY_NOT_FOUND, the link sends the text, the next client sends only the hash', async () => {
    const query = fresh('Apq');
    const first = [];
    const { data } = await persisted(ROUTER, first).query({ query });
    assert.deepEqual(Object.values(data), [null]);
    assert.equal(first.length, 2, JSON.stringify(first));
    assert.equal(first[0].request.query, undefined, 'the first request carries only the hash');
    assert.equal(first[0].body.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
    // The text Apollo sends (its cache adds __typename), under that text's hash.
    assert.match(first[1].request.query, /query Apq/);
    assert.equal(first[1].request.extensions.persistedQuery.sha256Hash, sha256(first[1].request.query));

    const second = [];
    await persisted(ROUTER, second).query({ query });
    assert.equal(second.length, 1, JSON.stringify(second));
    assert.equal(second[0].request.query, undefined);
    assert.equal(second[0].status, 200);
  });

  test('two routers sharing a Redis share what clients registered', { skip: !process.env.TESSERA_APQ_ROUTER_URLS }, async () => {
    const [one, two] = process.env.TESSERA_APQ_ROUTER_URLS.split(',');
    const query = fresh('Shared');
    const registering = [];
    await persisted(one, registering).query({ query });
    assert.equal(registering.length, 2);
    const other = [];
    const { data } = await persisted(two, other).query({ query });
    assert.deepEqual(Object.values(data), [null]);
    assert.equal(other.length, 1, `the second router knew the hash: ${JSON.stringify(other)}`);
  });
});

describe('persisted document lists', () => {
  test('a safelist refuses what is not listed, re-reads its manifest, then runs it by hash', { skip: !process.env.TESSERA_SAFELIST_ROUTER_URL }, async () => {
    const uri = process.env.TESSERA_SAFELIST_ROUTER_URL;
    const code = (error) =>
      error.errors?.[0]?.extensions?.code ?? JSON.parse(error.bodyText ?? '{}').errors?.[0]?.extensions?.code;
    // Not listed yet: the hash misses, and the text the link sends next is refused.
    const attempt = [];
    await assert.rejects(persisted(uri, attempt).query({ query: LISTED }), (error) => {
      assert.equal(code(error), 'PERSISTED_QUERY_NOT_IN_LIST', String(error));
      return true;
    });
    assert.equal(attempt.length, 2, JSON.stringify(attempt));
    assert.equal(attempt[0].body.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND');
    assert.equal(attempt[1].body.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_IN_LIST');

    // The manifest a build would write: exactly what the client sends, under its hash.
    const sent = attempt[1].request;
    const id = sent.extensions.persistedQuery.sha256Hash;
    assert.equal(id, sha256(sent.query));
    writeFileSync(
      process.env.TESSERA_SAFELIST_MANIFEST,
      JSON.stringify({
        format: 'apollo-persisted-query-manifest',
        version: 1,
        operations: [{ id, name: 'Listed', type: 'query', body: sent.query }],
      }),
    );
    // The router looks at the file every 50 ms.
    await eventually('the safelist router to read the new manifest', async () => {
      const response = await fetch(uri, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ documentId: `sha256:${id}` }),
      });
      return response.status === 200;
    });
    const listed = [];
    const { data } = await persisted(uri, listed).query({ query: LISTED });
    assert.equal(data.post, null);
    assert.equal(listed.length, 1, 'a listed document runs by its hash alone');
    assert.equal(listed[0].request.query, undefined);

    const unlisted = [];
    await assert.rejects(persisted(uri, unlisted).query({ query: fresh('Unlisted') }), (error) => {
      assert.equal(code(error), 'PERSISTED_QUERY_NOT_IN_LIST', String(error));
      return true;
    });
  });

  test("log mode runs Relay's doc_id from its manifest and whatever else is sent", { skip: !process.env.TESSERA_LOG_ROUTER_URL }, async () => {
    const uri = process.env.TESSERA_LOG_ROUTER_URL;
    writeFileSync(
      process.env.TESSERA_LOG_MANIFEST,
      JSON.stringify({ 'relay-7f3a': `query RelayDoc { post(id: "${NOBODY}") { id } }` }),
    );
    const send = (body) =>
      fetch(uri, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify(body),
      }).then((r) => r.json());
    await eventually('the log-mode router to read the new manifest', async () => {
      const body = await send({ doc_id: 'relay-7f3a', variables: {} });
      return body.data !== undefined && body.data.post === null && !body.errors;
    });
    const { data } = await persisted(uri, []).query({ query: fresh('Logged') });
    assert.deepEqual(Object.values(data), [null]);
  });
});

describe('batching', () => {
  test("BatchHttpLink's operations go out in one request and come back each with its own result", async () => {
    const requests = [];
    const link = new BatchHttpLink({
      uri: ROUTER,
      batchMax: 5,
      batchInterval: 20,
      fetch: async (url, init) => {
        requests.push(JSON.parse(init.body));
        return fetch(url, init);
      },
    });
    const client = new ApolloClient({ link, cache: new InMemoryCache() });
    const [found, invalid] = await Promise.allSettled([
      client.query({ query: gql(`query A { post(id: "${NOBODY}") { id } }`) }),
      client.query({ query: gql`query B { postsThatDoNotExist { id } }` }),
    ]);
    assert.equal(requests.length, 1, 'one HTTP request');
    assert.equal(requests[0].length, 2, 'holding both operations');
    assert.equal(found.status, 'fulfilled');
    assert.equal(found.value.data.post, null);
    assert.equal(invalid.status, 'rejected');
    assert.equal(invalid.reason.errors[0].extensions.code, 'GRAPHQL_VALIDATION_FAILED');
  });
});
