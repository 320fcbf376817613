// How two gateways' responses to one operation differ.

/** JSON equality with object keys in any order. */
export function jsonEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
}

export function errorPaths(body) {
  const errors = Array.isArray(body?.errors) ? body.errors : [];
  return [...new Set(errors.map((e) => JSON.stringify(e?.path ?? null)))].sort();
}

const hasErrors = (body) => Array.isArray(body?.errors) && body.errors.length > 0;

/**
 * The categories in which `ours` and `theirs` ({ status, body, text } or { transport }) differ:
 * transport, 5xx, status, data, key-order, errors-presence, error-paths.
 */
export function differences(ours, theirs) {
  const out = [];
  if (ours.transport || theirs.transport) {
    out.push("transport");
    return out;
  }
  if (ours.status >= 500 || theirs.status >= 500) out.push("5xx");
  if (ours.status !== theirs.status) out.push("status");
  const a = ours.body?.data ?? null;
  const b = theirs.body?.data ?? null;
  if (!jsonEqual(a, b)) out.push("data");
  else if (JSON.stringify(a) !== JSON.stringify(b)) out.push("key-order");
  if (hasErrors(ours.body) !== hasErrors(theirs.body)) out.push("errors-presence");
  else if (hasErrors(ours.body) && errorPaths(ours.body).join() !== errorPaths(theirs.body).join()) out.push("error-paths");
  return out;
}
