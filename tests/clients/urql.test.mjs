// urql's core client with its defaults: queries go by GET while the URL stays short
// (`preferGetMethod: 'within-url-limit'`), mutations by POST with JSON.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, cacheExchange, fetchExchange, gql } from '@urql/core';
import { ROUTER, registered } from './lib/platform.mjs';

/**
 * A urql client as its documentation sets one up, with `headers` on every request; `sent`
 * records each request's method, URL and headers.
 */
function urql(headers, sent = []) {
  return new Client({
    url: ROUTER,
    exchanges: [cacheExchange, fetchExchange],
    fetchOptions: () => ({ headers }),
    fetch: (url, init) => {
      sent.push({ method: init.method ?? 'GET', url: String(url), headers: new Headers(init.headers) });
      return fetch(url, init);
    },
  });
}

const ME = gql`
  query Me {
    me { id email displayName }
  }
`;
const POSTS = gql`
  query Posts {
    posts(first: 1) { pageInfo { hasNextPage } }
  }
`;

describe('urql', () => {
  let lin;
  before(async () => {
    lin = await registered('Lin');
  });

  test('queries by GET, its default, with an Authorization header', async () => {
    const sent = [];
    const client = urql({ authorization: `Bearer ${lin.token}` }, sent);
    const result = await client.query(ME, {}).toPromise();
    assert.equal(sent.length, 1);
    assert.equal(sent[0].method, 'GET', 'urql sends a short query by GET');
    assert.match(sent[0].url, /[?&]query=/);
    assert.equal(sent[0].headers.get('content-type'), null, 'a GET has no content type');
    assert.ok(!result.error, `no error: ${result.error}`);
    assert.deepEqual(result.data.me, { __typename: 'User', id: lin.id, email: lin.email, displayName: 'Lin' });
  });

  test('mutates by POST with JSON', async () => {
    const sent = [];
    const client = urql({ authorization: `Bearer ${lin.token}` }, sent);
    const result = await client
      .mutation(
        gql`
          mutation Rename($input: UpdateProfileInput!) {
            updateProfile(input: $input) { id displayName }
          }
        `,
        { input: { displayName: 'Lin Yu' } },
      )
      .toPromise();
    assert.equal(sent[0].method, 'POST');
    assert.equal(sent[0].headers.get('content-type'), 'application/json');
    assert.ok(!result.error, `no error: ${result.error}`);
    assert.deepEqual(result.data.updateProfile, { __typename: 'User', id: lin.id, displayName: 'Lin Yu' });
  });

  test('an anonymous GET needs a header a browser would preflight, as CSRF prevention asks', async () => {
    // Nothing in urql's bare GET shows that a browser asked first, so the router refuses it.
    const refused = await urql({}).query(POSTS, {}).toPromise();
    assert.equal(refused.data, undefined);
    assert.equal(
      refused.error?.graphQLErrors?.[0]?.extensions?.code,
      'CSRF_PREVENTED',
      `refused as a possible forgery: ${refused.error}`,
    );
    const sent = [];
    const answered = await urql({ 'apollo-require-preflight': 'true' }, sent).query(POSTS, {}).toPromise();
    assert.equal(sent[0].method, 'GET');
    assert.ok(!answered.error, `no error: ${answered.error}`);
    assert.equal(typeof answered.data.posts.pageInfo.hasNextPage, 'boolean');
  });
});
