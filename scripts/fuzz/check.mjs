// What one response must be, whoever sent it: checked against the operation and the API schema.
//
// - HTTP 200 with a JSON object body (the request asks for application/json);
// - `data` has exactly the response keys the operation selects, in selection order, for the
//   runtime type of each object (its `__typename` when selected, otherwise some possible type
//   whose keys match); no null where the type is non-null (null propagation must null the
//   parent instead); leaf values of their type; `__typename` values are possible types;
// - no response key is a router's own (`__tessera…`, `…__req_…`);
// - every error has a message, and `extensions.code` unless a subgraph sent it (known behind
//   the counting proxy; otherwise an error naming its `extensions.service`); an error's path
//   leads through response keys of the operation to a null (the errored field, or a parent
//   nulled by propagation) and names nothing internal; no validation or parse error (the
//   operation is valid, so one means the gateway rejected it or sent a subgraph an invalid
//   query).
import graphql from "./graphql.mjs";

const {
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  getDirectiveValues,
  getVariableValues,
  isEnumType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  typeFromAST,
} = graphql;

/** Names that belong to a router's plan, never to the client's operation. */
const INTERNAL = /__tessera|__req_|^_entities$|^representations$|^_service$/;

export function internalName(segment) {
  return typeof segment === "string" && INTERNAL.test(segment);
}

class Checker {
  constructor(schema, document, variables) {
    this.schema = schema;
    this.problems = [];
    this.fragments = new Map();
    for (const def of document.definitions) {
      if (def.kind === "FragmentDefinition") this.fragments.set(def.name.value, def);
      else if (def.kind === "OperationDefinition") this.operation = def;
    }
    const coerced = getVariableValues(schema, this.operation.variableDefinitions ?? [], variables ?? {});
    this.variables = coerced.coerced ?? {};
  }

  problem(kind, path, message) {
    this.problems.push({ kind, path, message });
  }

  included(node) {
    if (getDirectiveValues(GraphQLSkipDirective, node, this.variables)?.if === true) return false;
    if (getDirectiveValues(GraphQLIncludeDirective, node, this.variables)?.if === false) return false;
    return true;
  }

  applies(condition, objectType) {
    if (!condition) return true;
    const type = typeFromAST(this.schema, condition);
    if (!type) return false;
    if (type === objectType) return true;
    return !isObjectType(type) && this.schema.isSubType(type, objectType);
  }

  /** CollectFields of the spec: response key -> field nodes, in order. */
  collect(objectType, selectionSets, out = new Map(), visited = new Set()) {
    for (const set of selectionSets) {
      for (const sel of set.selections) {
        if (!this.included(sel)) continue;
        if (sel.kind === "Field") {
          const key = sel.alias?.value ?? sel.name.value;
          if (!out.has(key)) out.set(key, []);
          out.get(key).push(sel);
        } else if (sel.kind === "InlineFragment") {
          if (this.applies(sel.typeCondition, objectType)) this.collect(objectType, [sel.selectionSet], out, visited);
        } else {
          const name = sel.name.value;
          if (visited.has(name)) continue;
          visited.add(name);
          const fragment = this.fragments.get(name);
          if (fragment && this.applies(fragment.typeCondition, objectType)) {
            this.collect(objectType, [fragment.selectionSet], out, visited);
          }
        }
      }
    }
    return out;
  }

  value(value, type, fieldNodes, path) {
    if (isNonNullType(type)) {
      if (value === null) {
        this.problem("non-null", path, `null at ${type}`);
        return;
      }
      type = type.ofType;
    }
    if (value === null) return;
    if (value === undefined) {
      this.problem("shape", path, "undefined value");
      return;
    }
    if (isListType(type)) {
      if (!Array.isArray(value)) {
        this.problem("type", path, `${type} answered with ${JSON.stringify(value).slice(0, 60)}`);
        return;
      }
      value.forEach((item, i) => this.value(item, type.ofType, fieldNodes, [...path, i]));
      return;
    }
    if (isLeafType(type)) {
      if (!leafFits(type, value)) this.problem("type", path, `${type.name} answered with ${JSON.stringify(value).slice(0, 60)}`);
      return;
    }
    this.object(value, type, fieldNodes.filter((n) => n.selectionSet).map((n) => n.selectionSet), path);
  }

  object(value, staticType, selectionSets, path) {
    if (typeof value !== "object" || Array.isArray(value)) {
      this.problem("type", path, `${staticType} answered with ${JSON.stringify(value).slice(0, 60)}`);
      return;
    }
    const actual = Object.keys(value);
    let candidates = isObjectType(staticType) ? [staticType] : this.schema.getPossibleTypes(staticType);
    // An interface whose implementations are all hidden (an @interfaceObject's) has no
    // possible type in the API schema: its own fields are what a response can carry.
    if (candidates.length === 0) candidates = [staticType];
    let best = null;
    for (const candidate of candidates) {
      const fields = this.collect(candidate, selectionSets);
      // A cheap filter first: the key set and the selected __typename values.
      const typenameWrong = [...fields].some(
        ([key, nodes]) => nodes[0].name.value === "__typename" && key in value && value[key] !== candidate.name,
      );
      const sameKeys = fields.size === actual.length && actual.every((k) => fields.has(k));
      if (candidates.length > 1 && (typenameWrong || !sameKeys)) continue;
      const saved = this.problems;
      this.problems = [];
      this.fields(value, candidate, fields, path);
      const found = this.problems;
      this.problems = saved;
      if (found.length === 0) return;
      if (!best || found.length < best.length) best = found;
    }
    if (best) {
      this.problems.push(...best);
      return;
    }
    const typename = actual.find((k) => value[k] && typeof value[k] === "string" && this.schema.getType(value[k]));
    this.problem(
      "shape",
      path,
      `keys [${actual.join(", ")}] fit no possible type of ${staticType}` +
        (typename ? ` (${JSON.stringify(value[typename])} among the values)` : ""),
    );
  }

  fields(value, objectType, fields, path) {
    const actual = Object.keys(value);
    const expected = [...fields.keys()];
    const missing = expected.filter((k) => !(k in value));
    const extra = actual.filter((k) => !fields.has(k));
    if (missing.length) this.problem("shape", path, `missing ${missing.join(", ")} on ${objectType}`);
    const leaked = extra.filter(internalName);
    if (leaked.length) this.problem("internal-name", path, `response keys ${leaked.join(", ")} on ${objectType}`);
    if (extra.length > leaked.length) {
      this.problem("shape", path, `unexpected ${extra.filter((k) => !internalName(k)).join(", ")} on ${objectType}`);
    }
    if (!missing.length && !extra.length && actual.some((k, i) => k !== expected[i])) {
      this.problem("order", path, `keys in order [${actual.join(", ")}], selected [${expected.join(", ")}]`);
    }
    for (const [key, nodes] of fields) {
      if (!(key in value)) continue;
      const name = nodes[0].name.value;
      if (name === "__typename") {
        if (value[key] !== objectType.name) {
          this.problem("typename", [...path, key], `__typename ${JSON.stringify(value[key])} on ${objectType}`);
        }
        continue;
      }
      const def = objectType.getFields()[name];
      if (!def) {
        this.problem("shape", [...path, key], `no field ${name} on ${objectType}`);
        continue;
      }
      this.value(value[key], def.type, nodes, [...path, key]);
    }
  }

  errors(errors, data) {
    for (const [i, error] of errors.entries()) {
      const at = ["errors", i];
      if (!error || typeof error !== "object") {
        this.problem("error-format", at, "an error that is not an object");
        continue;
      }
      if (typeof error.message !== "string" || error.message === "") this.problem("error-format", at, "no message");
      // Without the proxy's record, an error that names the subgraph it came from
      // (`extensions.service`) counts as that subgraph's.
      const forwarded = this.forwarded ? this.forwarded.has(error.message) : typeof error.extensions?.service === "string";
      if (typeof error.extensions?.code !== "string" && !forwarded) {
        this.problem("error-code", at, `no extensions.code: ${String(error.message).slice(0, 100)}`);
      }
      // The operation passed graphql-js's validation against this API schema: a validation
      // or parse failure is the gateway's own (or one of the subgraph queries it wrote).
      if (["GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"].includes(error.extensions?.code)) {
        this.problem("validation", at, `${error.extensions.code}${error.extensions.service ? ` from ${error.extensions.service}` : ""}: ${String(error.message).slice(0, 160)}`);
      }
      if (error.path === undefined) continue;
      if (!Array.isArray(error.path) || error.path.some((s) => typeof s !== "string" && !Number.isInteger(s))) {
        this.problem("error-path", at, `malformed path ${JSON.stringify(error.path)}`);
        continue;
      }
      if (error.path.some(internalName)) {
        this.problem("internal-name", at, `path ${JSON.stringify(error.path)}`);
        continue;
      }
      let current = data;
      let explained = false;
      for (const segment of error.path) {
        if (current === null) {
          explained = true;
          break;
        }
        const next =
          typeof segment === "number"
            ? Array.isArray(current)
              ? current[segment]
              : undefined
            : current && typeof current === "object" && !Array.isArray(current)
              ? current[segment]
              : undefined;
        if (next === undefined) {
          this.problem("error-path", at, `path ${JSON.stringify(error.path)} leaves the response at ${JSON.stringify(segment)}`);
          current = undefined;
          break;
        }
        current = next;
      }
      if (!explained && current !== undefined && current !== null) {
        this.problem("error-path", at, `path ${JSON.stringify(error.path)} points at a value, not a null`);
      }
    }
  }
}

function leafFits(type, value) {
  if (isEnumType(type)) return typeof value === "string" && type.getValue(value) !== undefined;
  switch (type.name) {
    case "Int":
      return Number.isInteger(value);
    case "Float":
      return typeof value === "number";
    case "String":
    case "ID":
      return typeof value === "string";
    case "Boolean":
      return typeof value === "boolean";
    default:
      return value !== undefined;
  }
}

/**
 * The problems of one response to `op` ({ document, variables }) as [{ kind, path, message }];
 * `response` is { status, body, contentType } or { transport } for a failed request;
 * `forwarded`, when known, the messages of the errors the subgraphs answered with, which need
 * no code of the gateway's.
 */
export function check(schema, op, response, forwarded) {
  if (response.transport) return [{ kind: "transport", path: [], message: response.transport }];
  const problems = [];
  if (response.status !== 200) problems.push({ kind: "http", path: [], message: `HTTP ${response.status}` });
  const body = response.body;
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    problems.push({ kind: "http", path: [], message: `not a JSON object: ${String(response.text).slice(0, 100)}` });
    return problems;
  }
  const checker = new Checker(schema, op.document, op.variables);
  checker.forwarded = forwarded;
  const errors = body.errors ?? [];
  if (!Array.isArray(errors)) {
    checker.problem("error-format", ["errors"], "errors is not a list");
  } else {
    if (body.errors !== undefined && errors.length === 0) checker.problem("error-format", ["errors"], "an empty errors list");
    checker.errors(errors, body.data);
  }
  if (body.data === undefined || body.data === null) {
    if (!errors.length) checker.problem("no-data", [], `data is ${body.data} and there is no error`);
  } else {
    const root = checker.operation.operation === "mutation" ? schema.getMutationType() : schema.getQueryType();
    checker.object(body.data, root, [checker.operation.selectionSet], []);
  }
  return [...problems, ...checker.problems];
}
