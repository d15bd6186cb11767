/**
 * From a path in the parsed value back to where it is written in the YAML text. Validation knows paths
 * (`workers[1].model`); authors need line:col. A wrong value is shown at the value, an unknown key at the key,
 * and a missing key at the mapping that should hold it, since there is nothing else to point at.
 */
import { type Document, isAlias, isMap, isScalar, isSeq } from "yaml";
import type { PathSegment } from "./issues.js";

function startOf(node: unknown): number | undefined {
  if (typeof node !== "object" || node === null || !("range" in node)) return undefined;
  const range: unknown = node.range;
  return Array.isArray(range) && typeof range[0] === "number" ? range[0] : undefined;
}

// `key:` with nothing after it parses as a zero-width null scalar at the end of the line; its key is a more
// useful place to point at.
function isEmptyValue(node: unknown): boolean {
  return (
    node === null ||
    (isScalar(node) && node.range !== undefined && node.range !== null && node.range[0] === node.range[1])
  );
}

function keyName(key: unknown): string | undefined {
  return isScalar(key) ? String(key.value) : undefined;
}

/**
 * The source offset of the node at `path`: the key itself when `at` is "key", otherwise the value (or its key
 * when the value is empty). When the path leads past the end of what is written, the deepest node that exists
 * is used, which for a missing key is the mapping that lacks it. Aliases are followed to their anchors.
 */
export function offsetOfPath(doc: Document, path: readonly PathSegment[], at: "key" | "value"): number {
  let node: unknown = doc.contents;
  let offset = startOf(node) ?? 0;
  for (const [index, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      // The last pair wins, as in the parsed value, when a key is (wrongly) written twice.
      const pair = node.items.findLast((item) => keyName(item.key) === String(segment));
      if (pair === undefined) return offset;
      const keyStart = startOf(pair.key) ?? offset;
      if (at === "key" && index === path.length - 1) return keyStart;
      node = pair.value;
      offset = isEmptyValue(node) ? keyStart : (startOf(node) ?? keyStart);
    } else if (isSeq(node) && typeof segment === "number") {
      const item: unknown = node.items[segment];
      if (item === undefined) return offset;
      node = item;
      offset = startOf(item) ?? offset;
    } else {
      return offset;
    }
  }
  return offset;
}

/**
 * The path of the mapping key that starts at `offset`, if there is one; used to name the key of a YAML error
 * that comes with a position only (a duplicate key).
 */
export function pathOfKeyAt(doc: Document, offset: number): PathSegment[] | undefined {
  const visit = (node: unknown, path: PathSegment[]): PathSegment[] | undefined => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const name = keyName(pair.key);
        if (name === undefined) continue;
        if (startOf(pair.key) === offset) return [...path, name];
        const found = visit(pair.value, [...path, name]);
        if (found !== undefined) return found;
      }
    } else if (isSeq(node)) {
      for (const [index, item] of node.items.entries()) {
        const found = visit(item, [...path, index]);
        if (found !== undefined) return found;
      }
    }
    return undefined;
  };
  return visit(doc.contents, []);
}
