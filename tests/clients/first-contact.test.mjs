// The first thing a new client does through the router: sign up, log in, ask who it is.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PASSWORD, eventually, gql, login, ok, uniqueEmail } from './lib/platform.mjs';

/** `value` as a GraphQL string literal. */
const literal = (value) => JSON.stringify(value);

describe('first contact', () => {
  test('signUp returns the tokens and the new user', async () => {
    const email = uniqueEmail('Kay');
    const body = await gql(`mutation {
      signUp(input: { email: ${literal(email)}, password: ${literal(PASSWORD)}, displayName: "Kay" }) {
        accessToken refreshToken user { id email displayName }
      }
    }`);
    assert.ok(!body.errors, `no errors: ${JSON.stringify(body)}`);
    const payload = body.data?.signUp;
    assert.ok(payload, `data.signUp: ${JSON.stringify(body)}`);
    assert.match(payload.accessToken, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
    assert.ok(payload.refreshToken.length > 0);
    assert.equal(typeof payload.user.id, 'string');
    assert.equal(payload.user.email, email);
    assert.equal(payload.user.displayName, 'Kay');
  });
});

describe('a returning user', () => {
  const email = uniqueEmail('Lou');
  let id;
  before(async () => {
    const data = await ok(
      'mutation($input: SignUpInput!) { signUp(input: $input) { user { id } } }',
      { input: { email, password: PASSWORD, displayName: 'Lou' } },
    );
    id = data.signUp.user.id;
  });

  test('login returns a token and the user', async () => {
    const body = await gql(`mutation {
      login(input: { email: ${literal(email)}, password: ${literal(PASSWORD)} }) {
        accessToken user { id email displayName }
      }
    }`);
    assert.ok(!body.errors, `no errors: ${JSON.stringify(body)}`);
    const payload = body.data?.login;
    assert.ok(payload, `data.login: ${JSON.stringify(body)}`);
    assert.match(payload.accessToken, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
    assert.deepEqual(payload.user, { id, email, displayName: 'Lou' });
  });

  test("me answers with the login token's user", async () => {
    const { token } = await login(email, PASSWORD);
    // Identity learns of the account through events; `me` answers once it has.
    const me = await eventually('me to answer', async () => {
      const answer = await gql('{ me { id email displayName emailVerified } }', {}, token);
      assert.ok(!answer.errors, `no errors: ${JSON.stringify(answer)}`);
      return answer.data.me;
    });
    assert.deepEqual(me, { id, email, displayName: 'Lou', emailVerified: false });
  });

  test('a wrong password is refused with a stable code', async () => {
    const body = await gql(`mutation {
      login(input: { email: ${literal(email)}, password: "not the password" }) { accessToken }
    }`);
    assert.equal(body.data, null);
    assert.equal(body.errors?.[0]?.extensions?.code, 'INVALID_CREDENTIALS', JSON.stringify(body));
  });
});
