// Shrinks an operation while a predicate still holds: greedy removal of one selection, one
// directive, one optional argument or one input field at a time, and inline fragments replaced
// by their selections, keeping only valid operations (unused fragments and variables are
// dropped after each step).
import graphql from "./graphql.mjs";

const { Kind, parse, print, validate, visit } = graphql;

/** The document without the n-th node that `pick` accepts (visit order), or null if none. */
function without(document, n, pick) {
  let seen = 0;
  let removed = false;
  const out = visit(document, {
    enter(node, key, parent) {
      if (!removed && pick(node, parent) && seen++ === n) {
        removed = true;
        return null;
      }
      return undefined;
    },
  });
  return removed ? out : null;
}

/** The document with the n-th inline fragment replaced by its own selections, or null. */
function unwrapped(document, n) {
  let seen = 0;
  let done = false;
  const out = visit(document, {
    SelectionSet: {
      leave(node) {
        if (done) return undefined;
        const selections = [];
        let changed = false;
        for (const sel of node.selections) {
          if (!done && sel.kind === Kind.INLINE_FRAGMENT && seen++ === n) {
            selections.push(...sel.selectionSet.selections);
            done = changed = true;
          } else {
            selections.push(sel);
          }
        }
        return changed ? { ...node, selections } : undefined;
      },
    },
  });
  return done ? out : null;
}

const removable = [
  (node) => node.kind === Kind.FIELD || node.kind === Kind.INLINE_FRAGMENT || node.kind === Kind.FRAGMENT_SPREAD,
  (node) => node.kind === Kind.DIRECTIVE,
  (node, parent) => node.kind === Kind.ARGUMENT && parent !== undefined,
  (node) => node.kind === Kind.OBJECT_FIELD,
];

/** Drops fragment definitions nothing spreads and variables nothing uses, until stable. */
function tidy(document, variables) {
  for (;;) {
    const spread = new Set();
    const used = new Set();
    visit(document, {
      FragmentSpread: (node) => void spread.add(node.name.value),
      Variable: (node, key, parent) => {
        if (parent?.kind !== Kind.VARIABLE_DEFINITION) used.add(node.name.value);
      },
    });
    const definitions = document.definitions.filter((d) => d.kind !== Kind.FRAGMENT_DEFINITION || spread.has(d.name.value));
    const op = definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
    const varDefs = (op.variableDefinitions ?? []).filter((v) => used.has(v.variable.name.value));
    const changed = definitions.length !== document.definitions.length || varDefs.length !== (op.variableDefinitions ?? []).length;
    document = {
      ...document,
      definitions: definitions.map((d) => (d === op ? { ...op, variableDefinitions: varDefs } : d)),
    };
    if (!changed) break;
  }
  const op = document.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION);
  const names = new Set((op.variableDefinitions ?? []).map((v) => v.variable.name.value));
  const kept = Object.fromEntries(Object.entries(variables ?? {}).filter(([k]) => names.has(k)));
  return { document: parse(print(document)), variables: kept };
}

/**
 * The smallest operation found for which `holds({ query, document, variables, operationName })`
 * resolves true; `budget` bounds the predicate's calls.
 */
export async function minimize(schema, op, holds, budget = 300) {
  let best = { document: op.document, variables: op.variables };
  let calls = 0;
  let progress = true;
  while (progress && calls < budget) {
    progress = false;
    for (const pick of [...removable, "unwrap"]) {
      for (let n = 0; calls < budget; ) {
        const smaller = pick === "unwrap" ? unwrapped(best.document, n) : without(best.document, n, pick);
        if (!smaller) break;
        let candidate;
        try {
          candidate = tidy(smaller, best.variables);
        } catch {
          n++;
          continue;
        }
        if (validate(schema, candidate.document).length) {
          n++;
          continue;
        }
        calls++;
        const query = print(candidate.document);
        if (await holds({ query, document: candidate.document, variables: candidate.variables, operationName: op.operationName })) {
          best = candidate;
          progress = true;
        } else {
          n++;
        }
      }
    }
  }
  return { query: print(best.document), variables: best.variables, calls };
}
