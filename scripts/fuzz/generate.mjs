// Random valid operations over an API schema. Everything comes from one seeded generator per
// (seed, target, index), so one case can be regenerated alone from those three values.
//
// The generator keeps, for every merged selection level, the response keys already chosen, with
// the field, arguments and type behind each: a key is either the same field again (its
// sub-selections merge into the same level) or a new key. That is what the "fields can merge"
// rule of the spec asks for, so most operations are valid by construction; each one is still
// validated by graphql-js, and a failed attempt is retried with the generator's next values.
import graphql from "./graphql.mjs";

const {
  GraphQLNonNull,
  getNamedType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isUnionType,
  parse,
  print,
  validate,
} = graphql;

/** FNV-1a over the text, as the seed of mulberry32. */
function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export class Rng {
  constructor(seedText) {
    this.state = hash(seedText);
  }
  next() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n) {
    return Math.floor(this.next() * n);
  }
  chance(p) {
    return this.next() < p;
  }
  pick(items) {
    return items[this.int(items.length)];
  }
  /** `choices` is a list of [weight, value]. */
  weighted(choices) {
    const total = choices.reduce((sum, [w]) => sum + w, 0);
    let r = this.next() * total;
    for (const [w, value] of choices) {
      if ((r -= w) < 0) return value;
    }
    return choices[choices.length - 1][1];
  }
}

export const DEFAULT_LIMITS = {
  depth: 5,
  width: 4,
  fragmentNesting: 3,
  selections: 60,
  attempts: 8,
  mutations: false,
};

const DEFAULT_VALUES = {
  strings: ["1", "2", "3", "a", "b", "hello", "", "x1", "2024-01-01T00:00:00Z"],
  ints: [0, 1, 2, 3, 5, 10, -1],
  floats: [0, 0.5, 1.5, 2, 10.25],
};

/** Argument and variable values seen in a suite's own cases (ids that resolve to something). */
export function valuesFromCases(cases) {
  const strings = new Set(DEFAULT_VALUES.strings);
  const ints = new Set(DEFAULT_VALUES.ints);
  const floats = new Set(DEFAULT_VALUES.floats);
  const visit = (value) => {
    if (typeof value === "string") {
      if (value.length <= 40 && !value.includes("\n")) strings.add(value);
    } else if (typeof value === "number") {
      (Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? ints : floats).add(value);
    } else if (Array.isArray(value)) {
      value.forEach(visit);
    } else if (value && typeof value === "object") {
      Object.values(value).forEach(visit);
    }
  };
  for (const c of cases) {
    visit(c.expected?.data);
    visit(c.variables);
    // String literals in the case's query: arguments such as `product(id: "p1")`.
    for (const m of String(c.query ?? "").matchAll(/"([^"\\\n]{1,40})"/g)) strings.add(m[1]);
  }
  const sorted = (set) => [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { strings: sorted(strings), ints: sorted(ints), floats: sorted(floats) };
}

class Builder {
  constructor(schema, rng, values, limits) {
    this.schema = schema;
    this.rng = rng;
    this.values = values ?? DEFAULT_VALUES;
    this.limits = limits;
    this.variables = []; // "$name: Type = default"
    this.variableValues = {};
    this.variableNames = new Set();
    this.fragments = []; // { name, on, text, done }
    this.aliasCount = 0;
    this.selectionCount = 0;
  }

  // --- values --------------------------------------------------------------------------------

  scalarLiteral(type) {
    const { rng, values } = this;
    switch (type.name) {
      case "Int":
        return String(rng.pick(values.ints));
      case "Float":
        return String(rng.chance(0.5) ? rng.pick(values.ints) : rng.pick(values.floats));
      case "Boolean":
        return rng.chance(0.5) ? "true" : "false";
      case "ID":
        // An integer literal is a valid ID input.
        return rng.chance(0.2) ? String(Math.abs(rng.pick(values.ints))) : JSON.stringify(rng.pick(values.strings));
      default:
        return JSON.stringify(rng.pick(values.strings));
    }
  }

  scalarJson(type) {
    const { rng, values } = this;
    switch (type.name) {
      case "Int":
        return rng.pick(values.ints);
      case "Float":
        return rng.chance(0.5) ? rng.pick(values.ints) : rng.pick(values.floats);
      case "Boolean":
        return rng.chance(0.5);
      case "ID":
        return rng.chance(0.2) ? Math.abs(rng.pick(values.ints)) : rng.pick(values.strings);
      default:
        return rng.pick(values.strings);
    }
  }

  /** A GraphQL literal of `type`; `depth` bounds nested input objects. */
  literal(type, depth = 0, nonNull = false) {
    const { rng } = this;
    if (isNonNullType(type)) return this.literal(type.ofType, depth, true);
    if (!nonNull && rng.chance(0.06)) return "null";
    if (isListType(type)) {
      // A single value where a list is expected is coerced to a one-item list.
      if (rng.chance(0.25)) return this.literal(type.ofType, depth + 1);
      const items = Array.from({ length: rng.int(3) }, () => this.literal(type.ofType, depth + 1));
      return `[${items.join(", ")}]`;
    }
    if (isEnumType(type)) return rng.pick(type.getValues()).name;
    if (isInputObjectType(type)) {
      const fields = Object.values(type.getFields());
      if (type.isOneOf) {
        const f = rng.pick(fields);
        return `{${f.name}: ${this.literal(f.type, depth + 1, true)}}`;
      }
      const parts = [];
      for (const f of fields) {
        const required = isNonNullType(f.type) && f.defaultValue === undefined;
        if (required || (depth < 3 && rng.chance(0.4))) parts.push(`${f.name}: ${this.literal(f.type, depth + 1)}`);
      }
      return `{${parts.join(", ")}}`;
    }
    return this.scalarLiteral(type);
  }

  /** A JSON variable value of `type`. */
  json(type, depth = 0, nonNull = false) {
    const { rng } = this;
    if (isNonNullType(type)) return this.json(type.ofType, depth, true);
    if (!nonNull && rng.chance(0.06)) return null;
    if (isListType(type)) {
      if (rng.chance(0.2)) return this.json(type.ofType, depth + 1);
      return Array.from({ length: rng.int(3) }, () => this.json(type.ofType, depth + 1));
    }
    if (isEnumType(type)) return rng.pick(type.getValues()).name;
    if (isInputObjectType(type)) {
      const fields = Object.values(type.getFields());
      const out = {};
      if (type.isOneOf) {
        const f = rng.pick(fields);
        out[f.name] = this.json(f.type, depth + 1, true);
        return out;
      }
      for (const f of fields) {
        const required = isNonNullType(f.type) && f.defaultValue === undefined;
        if (required || (depth < 3 && rng.chance(0.4))) out[f.name] = this.json(f.type, depth + 1);
      }
      return out;
    }
    return this.scalarJson(type);
  }

  /** Declares a variable for a position of `type` and returns `$name`. */
  variable(type, argName) {
    const { rng } = this;
    // Clients often name a variable after its argument; `representations` is the variable a
    // router sends with its entity fetches, so a client's must not be confused with it.
    let name = rng.weighted([
      [0.3, argName],
      [0.05, "representations"],
      [0.65, null],
    ]);
    if (!name || this.variableNames.has(name)) name = `v${this.variables.length}`;
    this.variableNames.add(name);
    let declared = String(type);
    let defaultText = "";
    let send = true;
    if (!isNonNullType(type)) {
      const roll = rng.next();
      if (roll < 0.2) {
        // A non-null variable may flow into a nullable position.
        declared = `${declared}!`;
      } else if (roll < 0.4) {
        defaultText = ` = ${this.literal(new GraphQLNonNull(type))}`;
        send = rng.chance(0.5);
      } else if (roll < 0.55) {
        send = false;
      }
    }
    this.variables.push(`$${name}: ${declared}${defaultText}`);
    if (send) this.variableValues[name] = this.json(declared.endsWith("!") ? new GraphQLNonNull(getNullable(type)) : type);
    return `$${name}`;
  }

  argument(type, name) {
    return this.rng.chance(0.35) ? this.variable(type, name) : this.literal(type);
  }

  directives() {
    const { rng } = this;
    if (!rng.chance(0.12)) return "";
    const one = (name) => {
      let condition;
      const roll = rng.next();
      if (roll < 0.5) {
        condition = rng.chance(0.5) ? "true" : "false";
      } else {
        const varName = `s${this.variables.length}`;
        this.variableNames.add(varName);
        if (roll < 0.8) {
          this.variables.push(`$${varName}: Boolean!`);
          this.variableValues[varName] = rng.chance(0.5);
        } else {
          // A nullable variable with a default may be used where Boolean! is expected.
          this.variables.push(`$${varName}: Boolean = ${rng.chance(0.5)}`);
          if (rng.chance(0.5)) this.variableValues[varName] = rng.chance(0.5);
        }
        condition = `$${varName}`;
      }
      return ` @${name}(if: ${condition})`;
    };
    if (rng.chance(0.1)) return one("skip") + one("include");
    return one(rng.chance(0.5) ? "skip" : "include");
  }

  // --- selections ----------------------------------------------------------------------------

  freshAlias(scope) {
    let alias;
    do alias = `a${this.aliasCount++}`;
    while (scope.has(alias));
    return alias;
  }

  /** The type conditions a fragment inside a selection on `type` may name. */
  conditions(type) {
    const { schema } = this;
    const out = new Set([type.name]);
    if (isObjectType(type)) {
      for (const i of type.getInterfaces()) out.add(i.name);
      for (const t of Object.values(schema.getTypeMap())) {
        if (isUnionType(t) && t.getTypes().includes(type)) out.add(t.name);
      }
    } else {
      for (const t of schema.getPossibleTypes(type)) out.add(t.name);
      if (isInterfaceType(type)) {
        for (const i of schema.getImplementations(type).interfaces) out.add(i.name);
        for (const i of type.getInterfaces()) out.add(i.name);
      }
    }
    return [...out];
  }

  typename(scope) {
    let key = "__typename";
    let alias = "";
    if (this.rng.chance(0.2) || (scope.has(key) && scope.get(key).field !== "__typename")) {
      alias = this.freshAlias(scope);
      key = alias;
    }
    scope.set(key, { field: "__typename", args: "", type: "String!", children: new Map() });
    return `${alias ? `${alias}: ` : ""}__typename${this.directives()}`;
  }

  field(type, depth, scope) {
    const { rng, limits } = this;
    let fields = Object.values(type.getFields()).filter((f) => !f.name.startsWith("__"));
    if (depth >= limits.depth || this.selectionCount >= limits.selections) {
      fields = fields.filter((f) => isLeafType(getNamedType(f.type)));
    }
    if (fields.length === 0) return this.typename(scope);
    const f = rng.pick(fields);
    const args = [];
    for (const arg of f.args) {
      const required = isNonNullType(arg.type) && arg.defaultValue === undefined;
      if (required || rng.chance(0.3)) args.push(`${arg.name}: ${this.argument(arg.type, arg.name)}`);
    }
    const argsText = args.length ? `(${args.join(", ")})` : "";
    const typeText = String(f.type);

    let alias = "";
    if (rng.chance(0.25)) {
      // Half of the aliases reuse the name of another field of the type (`id: name`).
      const others = Object.keys(type.getFields()).filter((n) => n !== f.name && !n.startsWith("__"));
      alias = others.length && rng.chance(0.5) ? rng.pick(others) : this.freshAlias(scope);
    }
    let key = alias || f.name;
    let entry = scope.get(key);
    if (entry && !(entry.field === f.name && entry.args === argsText && entry.type === typeText)) {
      alias = this.freshAlias(scope);
      key = alias;
      entry = undefined;
    }
    if (!entry) {
      entry = { field: f.name, args: argsText, type: typeText, children: new Map() };
      scope.set(key, entry);
    }
    const named = getNamedType(f.type);
    const sub = isCompositeType(named) ? ` { ${this.selections(named, depth + 1, entry.children, 0).join(" ")} }` : "";
    return `${alias ? `${alias}: ` : ""}${f.name}${argsText}${this.directives()}${sub}`;
  }

  inlineFragment(type, depth, scope, nesting) {
    const { rng, schema } = this;
    const condition = rng.chance(0.15) ? null : rng.pick(this.conditions(type));
    const on = condition ? schema.getType(condition) : type;
    const body = this.selections(on, depth, scope, nesting + 1);
    return `...${condition ? ` on ${condition}` : ""}${this.directives()} { ${body.join(" ")} }`;
  }

  namedFragment(type, depth, scope, nesting) {
    const { rng, schema } = this;
    const conditions = this.conditions(type);
    const reusable = this.fragments.filter((f) => f.done && conditions.includes(f.on));
    if (reusable.length && rng.chance(0.2)) return `...${rng.pick(reusable).name}${this.directives()}`;
    const fragment = { name: `F${this.fragments.length}`, on: rng.pick(conditions), text: "", done: false };
    this.fragments.push(fragment);
    const body = this.selections(schema.getType(fragment.on), depth, scope, nesting + 1);
    fragment.text = `fragment ${fragment.name} on ${fragment.on} { ${body.join(" ")} }`;
    fragment.done = true;
    return `...${fragment.name}${this.directives()}`;
  }

  selections(type, depth, scope, nesting) {
    const { rng, limits } = this;
    const out = [];
    const count = 1 + rng.int(limits.width);
    const hasFields = !isUnionType(type);
    const canNest = nesting < limits.fragmentNesting && this.selectionCount < limits.selections;
    for (let i = 0; i < count; i++) {
      this.selectionCount++;
      const kind = rng.weighted([
        [hasFields ? 8 : 0, "field"],
        [canNest ? (hasFields ? 1.5 : 5) : 0, "inline"],
        [canNest ? (hasFields ? 1 : 3) : 0, "named"],
        [0.6, "typename"],
      ]);
      if (kind === "field") out.push(this.field(type, depth, scope));
      else if (kind === "inline") out.push(this.inlineFragment(type, depth, scope, nesting));
      else if (kind === "named") out.push(this.namedFragment(type, depth, scope, nesting));
      else out.push(this.typename(scope));
    }
    return out;
  }

  operation(index) {
    const { schema, rng, limits } = this;
    const mutation = limits.mutations && schema.getMutationType() && rng.chance(0.2);
    const root = mutation ? schema.getMutationType() : schema.getQueryType();
    const body = this.selections(root, 1, new Map(), 0);
    const keyword = mutation ? "mutation" : "query";
    const named = rng.chance(0.5);
    const vars = this.variables.length ? `(${this.variables.join(", ")})` : "";
    const head = named || vars ? `${keyword} ${named ? `Op${index}` : ""}${vars}` : rng.chance(0.5) ? keyword : "";
    const text = [`${head} { ${body.join(" ")} }`, ...this.fragments.map((f) => f.text)].join("\n");
    return { text, operationName: named ? `Op${index}` : undefined, variables: this.variableValues };
  }
}

function getNullable(type) {
  return isNonNullType(type) ? type.ofType : type;
}

/**
 * Operation `index` for `target` under `seed`: { query, variables, operationName, attempts },
 * with `query: null` when no attempt validated; `invalid` holds the rejected attempts' first
 * validation messages.
 */
export function generate(schema, { seed, target, index, values, limits = DEFAULT_LIMITS }) {
  const rng = new Rng(`${seed}/${target}/${index}`);
  // One operation in seven goes four levels deeper and only two wide: long entity chains.
  const shape = rng.chance(1 / 7) ? { ...limits, depth: limits.depth + 4, width: 2 } : limits;
  const invalid = [];
  for (let attempt = 0; attempt < limits.attempts; attempt++) {
    const builder = new Builder(schema, rng, values, shape);
    const op = builder.operation(index);
    let document;
    try {
      document = parse(op.text);
    } catch (err) {
      invalid.push(`syntax: ${err.message}`);
      continue;
    }
    const errors = validate(schema, document);
    if (errors.length) {
      invalid.push(errors[0].message);
      continue;
    }
    return {
      query: print(document),
      document,
      variables: op.variables,
      operationName: op.operationName,
      invalid,
    };
  }
  return { query: null, invalid };
}

