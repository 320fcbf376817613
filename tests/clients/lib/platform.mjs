// What every client test shares: where the router is, users signed up through it, posts
// published through it (the events subscriptions receive), and waiting for events with an
// upper bound instead of sleeping.
//
// The platform test (tests/it/clients.rs) starts the platform as `tessera dev` does and sets
// TESSERA_ROUTER_URL and an administrator's TESSERA_ADMIN_EMAIL and TESSERA_ADMIN_PASSWORD.
// Without them the suite speaks to `tessera dev` on its standard port.

import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/** The router's GraphQL endpoint over HTTP. */
export const ROUTER = process.env.TESSERA_ROUTER_URL ?? 'http://127.0.0.1:8080/graphql';
/** The same endpoint for WebSocket clients. */
export const ROUTER_WS = ROUTER.replace(/^http/, 'ws');

export const PASSWORD = 'correct horse battery staple';

/** A post as every subscription in the suite selects it: blog's fields and identity's. */
export const POST_PUBLISHED = `subscription PostPublished($author: ID) {
  postPublished(authorId: $author) { id title status author { id displayName } }
}`;

/** The longest any single step may take before a test gives up with a message. */
export const STEP_MS = 10_000;

/** POSTs a GraphQL request as JSON and returns the response body. */
export async function gql(query, variables = {}, token) {
  const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(ROUTER, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`${query}: HTTP ${response.status} answered with a body that is not JSON: ${text}`);
  }
}

/** Like `gql`, but throws with the whole body unless the response has data and no errors. */
export async function ok(query, variables = {}, token) {
  const body = await gql(query, variables, token);
  if (body.errors || !body.data) {
    throw new Error(`${query} answered with errors: ${JSON.stringify(body)}`);
  }
  return body.data;
}

/** A fresh address, so that test files never share an account. */
export function uniqueEmail(name) {
  return `${name.toLowerCase()}-${randomUUID()}@clients.example.com`;
}

/**
 * Signs `name` up through the router and waits until identity knows the user (it learns of
 * sign-ups through events), so that `me` and `author { displayName }` resolve.
 */
export async function registered(name) {
  const email = uniqueEmail(name);
  const data = await ok(
    'mutation SignUp($input: SignUpInput!) { signUp(input: $input) { accessToken refreshToken user { id } } }',
    { input: { email, password: PASSWORD, displayName: name } },
  );
  const user = {
    email,
    displayName: name,
    id: data.signUp.user.id,
    token: data.signUp.accessToken,
  };
  await eventually(`identity to know ${email}`, async () => {
    const me = await gql('{ me { id } }', {}, user.token);
    return me.data?.me?.id === user.id;
  });
  return user;
}

/** Logs in through the router (the token carries the scopes auth grants the account). */
export async function login(email, password) {
  const data = await ok(
    'mutation Login($input: LoginInput!) { login(input: $input) { accessToken user { id } } }',
    { input: { email, password } },
  );
  return { email, id: data.login.user.id, token: data.login.accessToken };
}

/** The platform's administrator, whose token carries `audit:read`. */
export async function admin() {
  const email = process.env.TESSERA_ADMIN_EMAIL;
  const password = process.env.TESSERA_ADMIN_PASSWORD;
  if (!email || !password) {
    throw new Error('set TESSERA_ADMIN_EMAIL and TESSERA_ADMIN_PASSWORD to an administrator of the platform');
  }
  return login(email, password);
}

/**
 * Creates and publishes a post by `user`; `sentAt` is when the publishing mutation was sent
 * and `answeredAt` when its response arrived (`performance.now()` milliseconds).
 */
export async function publish(user, title) {
  const created = await ok(
    'mutation Create($input: CreatePostInput!) { createPost(input: $input) { id } }',
    { input: { title, body: `${title}, live.`, tags: ['live'] } },
    user.token,
  );
  const id = created.createPost.id;
  const sentAt = performance.now();
  const published = await ok('mutation Publish($id: ID!) { publishPost(id: $id) { id status } }', { id }, user.token);
  const answeredAt = performance.now();
  if (published.publishPost.status !== 'PUBLISHED') {
    throw new Error(`publishPost left ${id} ${published.publishPost.status}`);
  }
  return { id, title, sentAt, answeredAt };
}

/** Retries `check` until it returns something truthy, for at most `ms`. */
export async function eventually(what, check, ms = STEP_MS) {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (performance.now() > deadline) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * What a subscription delivered, in order, each with the moment it arrived. Clients push into
 * it from their callbacks; tests wait for the next item with an upper bound.
 */
export class Events {
  #items = [];
  #waiting = [];
  #failure;

  /** An event (or any value) arrived. */
  push(value) {
    const item = { value, at: performance.now() };
    const waiter = this.#waiting.shift();
    if (waiter) waiter.resolve(item);
    else this.#items.push(item);
  }

  /** The stream failed or ended early: every later wait fails with `error`. */
  fail(error) {
    this.#failure = error instanceof Error ? error : new Error(JSON.stringify(error));
    for (const waiter of this.#waiting.splice(0)) waiter.reject(this.#failure);
  }

  /** The next item `{ value, at }`, or a rejection naming `what` after `ms`. */
  next(what, ms = STEP_MS) {
    const item = this.#items.shift();
    if (item) return Promise.resolve(item);
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      const timer = setTimeout(() => {
        this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
        reject(new Error(`no ${what} within ${Math.round(ms)} ms`));
      }, ms);
      waiter.resolve = (value) => {
        clearTimeout(timer);
        resolve(value);
      };
      waiter.reject = (error) => {
        clearTimeout(timer);
        reject(error);
      };
      this.#waiting.push(waiter);
    });
  }

  /** The next item whose value satisfies `matches`, dropping the ones before it. */
  async nextMatching(what, matches, ms = STEP_MS) {
    const deadline = performance.now() + ms;
    for (;;) {
      const item = await this.next(what, Math.max(1, deadline - performance.now()));
      if (matches(item.value)) return item;
    }
  }
}

/**
 * A subscription reaches the subgraph asynchronously, after the client's request is answered:
 * publishes warm-up posts by `user`, one at a time, until `events` receives one, so that every
 * post published afterwards is known to be delivered. Returns the warm-up event.
 */
export async function untilLive(user, events, titleOf, ms = STEP_MS) {
  const deadline = performance.now() + ms;
  for (let attempt = 0; ; attempt += 1) {
    await publish(user, `Warm-up ${attempt}`);
    try {
      return await events.nextMatching(
        'warm-up event',
        (value) => titleOf(value)?.startsWith('Warm-up '),
        Math.min(500, Math.max(1, deadline - performance.now())),
      );
    } catch (error) {
      if (!error.message.startsWith('no warm-up event') || performance.now() > deadline) {
        throw new Error(`the subscription never delivered a post within ${ms} ms: ${error.message}`);
      }
    }
  }
}

/** Asserts a `postPublished` payload is the post `published` by `author`. */
export function assertPost(assert, post, published, author) {
  assert.deepEqual(post, {
    id: published.id,
    title: published.title,
    status: 'PUBLISHED',
    author: { id: author.id, displayName: author.displayName },
  });
}
