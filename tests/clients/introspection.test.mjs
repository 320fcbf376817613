// graphql-js, as schema tools (codegen, GraphiQL, IDE plugins) use it: the full introspection
// query with every option, a client schema built from the answer, and its SDL.

import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildClientSchema, getIntrospectionQuery, parse, printSchema, validate } from 'graphql';
import { POST_PUBLISHED, gql } from './lib/platform.mjs';

/** Every option graphql-js has, as GraphiQL and codegen tools turn them on. */
const OPTIONS = {
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
};

/** The names of `type`'s fields. */
function fields(type) {
  return Object.keys(type.getFields());
}

describe('graphql-js', () => {
  let full;
  let schema;
  before(async () => {
    full = await gql(getIntrospectionQuery(OPTIONS));
    // The checks after the first read the schema however the router can introspect it, so
    // that one missing introspection field fails one test rather than all of them.
    const answer = full.errors ? await gql(getIntrospectionQuery({ ...OPTIONS, oneOf: false })) : full;
    assert.ok(!answer.errors, `introspection answered with errors: ${JSON.stringify(answer.errors)}`);
    schema = buildClientSchema(answer.data);
  });

  test('answers the full introspection query, every option on', () => {
    assert.ok(!full.errors, `introspection answered with errors: ${JSON.stringify(full.errors)}`);
    const built = buildClientSchema(full.data);
    const inputs = full.data.__schema.types.filter((type) => type.kind === 'INPUT_OBJECT');
    assert.ok(inputs.length > 0);
    for (const input of inputs) {
      assert.equal(typeof input.isOneOf, 'boolean', `${input.name}.isOneOf`);
    }
    assert.equal(built.getType('SignUpInput').isOneOf, false);
  });

  test('introspects the root fields of every service', () => {
    const query = fields(schema.getQueryType());
    for (const name of ['me', 'user', 'users', 'post', 'posts', 'searchPosts', 'roles', 'can', 'plans', 'invoice', 'auditEvents', 'sessions']) {
      assert.ok(query.includes(name), `Query.${name} in ${query.join(', ')}`);
    }
    const mutation = fields(schema.getMutationType());
    for (const name of ['signUp', 'login', 'refreshToken', 'logout', 'updateProfile', 'createPost', 'publishPost', 'createRole', 'grantRole', 'subscribeToPlan', 'payInvoice']) {
      assert.ok(mutation.includes(name), `Mutation.${name} in ${mutation.join(', ')}`);
    }
    const subscription = fields(schema.getSubscriptionType());
    for (const name of ['postPublished', 'commentAdded', 'invoiceUpdated', 'auditEventRecorded']) {
      assert.ok(subscription.includes(name), `Subscription.${name} in ${subscription.join(', ')}`);
    }
  });

  test('introspects the entities with their ids and descriptions', () => {
    for (const name of ['User', 'Post', 'Comment', 'Role', 'Invoice', 'AuditEvent']) {
      const type = schema.getType(name);
      assert.ok(type, `type ${name}`);
      assert.ok(fields(type).includes('id'), `${name}.id, for clients' caches`);
    }
    const user = fields(schema.getType('User'));
    for (const name of ['email', 'displayName', 'roles', 'posts', 'invoices', 'auditTrail']) {
      assert.ok(user.includes(name), `User.${name}, from the service that owns it`);
    }
    assert.match(schema.getType('Post').getFields().slug.description ?? '', /Unique/);
  });

  test('keeps federation machinery out of the API schema', () => {
    assert.ok(!fields(schema.getQueryType()).some((name) => name.startsWith('_')), 'no _entities or _service');
    const types = Object.keys(schema.getTypeMap());
    assert.deepEqual(
      types.filter((name) => name.startsWith('join__') || name.startsWith('link__') || name === '_Entity'),
      [],
    );
  });

  test('prints the schema as SDL that reads back', () => {
    const sdl = printSchema(schema);
    assert.match(sdl, /^type Query \{/m);
    assert.match(sdl, /^type Subscription \{/m);
    assert.match(sdl, /^\s+postPublished\(authorId: ID\): Post!$/m);
    assert.match(sdl, /^input SignUpInput \{/m);
  });

  test("validates the suite's own operations against the built schema", () => {
    const operations = [
      POST_PUBLISHED,
      'mutation { signUp(input: { email: "a@example.com", password: "x", displayName: "A" }) { accessToken refreshToken user { id email displayName } } }',
      '{ me { id email displayName posts(first: 5) { nodes { id title } } } }',
    ];
    for (const operation of operations) {
      assert.deepEqual(validate(schema, parse(operation)).map(String), [], operation);
    }
  });
});
