/**
 * `$ref` resolution inside one schema document: JSON pointers (`#/$defs/x`, `#/properties/a/items`, `#`),
 * `$anchor`s and `$id`s of embedded resources (relative and absolute, with their own base URIs). A reference
 * that leaves the document (another file, a URL) cannot be followed offline and is reported as such.
 *
 * It also finds which referenced schemas are recursive (members of a cycle of references), so the compiler
 * can bound recursion depth while expanding every other shared definition once.
 */
import type { JsonValue } from "../../types.js";
import { isObject } from "../jsonShapes.js";

/** A schema found by reference: the node and its canonical JSON pointer in the document (`#/…`). */
export interface Resolved {
  readonly schema: JsonValue;
  readonly pointer: string;
}

const DOCUMENT_BASE = "edgecrew:/schema.json";

function escapePointer(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** A JSON pointer one level down. */
export function childPointer(pointer: string, ...tokens: (string | number)[]): string {
  return tokens.reduce<string>((out, token) => `${out}/${escapePointer(String(token))}`, pointer);
}

function stripFragment(uri: string): string {
  const hash = uri.indexOf("#");
  return hash < 0 ? uri : uri.slice(0, hash);
}

function resolveUri(ref: string, base: string): string | undefined {
  try {
    return new URL(ref, base).href;
  } catch {
    return undefined;
  }
}

/** Every schema of a document by pointer, its base URI, and the resources and anchors that `$ref`s can name. */
export class RefIndex {
  readonly root: JsonValue;
  readonly #nodes = new Map<string, JsonValue>();
  readonly #bases = new Map<string, string>();
  /** Resource URI (no fragment) → pointer of the resource root. */
  readonly #resources = new Map<string, string>();
  /** `uri#anchor` → pointer. */
  readonly #anchors = new Map<string, string>();
  /** Referenced pointers that sit on a cycle of references. */
  readonly #recursive = new Set<string>();
  /** For each recursive pointer, the members of its cycle (strongly connected component). */
  readonly #cycles = new Map<string, readonly string[]>();

  constructor(root: JsonValue) {
    this.root = root;
    this.#walk(root, "#", DOCUMENT_BASE);
    this.#resources.set(DOCUMENT_BASE, "#");
    this.#findCycles();
  }

  /** The schema at a canonical pointer. */
  node(pointer: string): JsonValue | undefined {
    return this.#nodes.get(pointer);
  }

  /**
   * Resolves `ref` as written in the schema at `from` (its pointer). Returns the target, or a reason when the
   * reference cannot be followed (it points nowhere, or outside the document).
   */
  resolve(ref: string, from: string): Resolved | { readonly error: string } {
    const base = this.#bases.get(from) ?? DOCUMENT_BASE;
    const absolute = resolveUri(ref, base);
    if (absolute === undefined) return { error: `$ref ${JSON.stringify(ref)} is not a valid URI reference` };
    const resource = stripFragment(absolute);
    const rootPointer = this.#resources.get(resource);
    if (rootPointer === undefined) {
      return {
        error: `$ref ${JSON.stringify(ref)} points outside this schema (${resource}); it cannot be resolved offline`,
      };
    }
    const hash = absolute.indexOf("#");
    const fragment = hash < 0 ? "" : decodeURIComponent(absolute.slice(hash + 1));
    if (fragment === "" || fragment.startsWith("/")) {
      const pointer = rootPointer + fragment;
      const tokens = fragment === "" ? [] : fragment.slice(1).split("/");
      let node: JsonValue | undefined = this.#nodes.get(rootPointer);
      let canonical = rootPointer;
      for (const raw of tokens) {
        const token = raw.replace(/~1/g, "/").replace(/~0/g, "~");
        if (Array.isArray(node)) node = node[Number(token)];
        else if (isObject(node)) node = node[token];
        else node = undefined;
        canonical = childPointer(canonical, token);
        if (node === undefined)
          return { error: `$ref ${JSON.stringify(ref)} points to nothing (${pointer})` };
      }
      return { schema: node as JsonValue, pointer: canonical };
    }
    const anchored = this.#anchors.get(`${resource}#${fragment}`);
    if (anchored === undefined)
      return { error: `$ref ${JSON.stringify(ref)} names an anchor that does not exist` };
    return { schema: this.#nodes.get(anchored) as JsonValue, pointer: anchored };
  }

  /** Whether the schema at `pointer` can reach itself through references. */
  isRecursive(pointer: string): boolean {
    return this.#recursive.has(pointer);
  }

  /** The pointers of the reference cycle `pointer` belongs to (empty when it is not recursive). */
  cycleOf(pointer: string): readonly string[] {
    return this.#cycles.get(pointer) ?? [];
  }

  #walk(node: JsonValue, pointer: string, parentBase: string): void {
    this.#nodes.set(pointer, node);
    if (Array.isArray(node)) {
      node.forEach((item, index) => {
        this.#walk(item, childPointer(pointer, index), parentBase);
      });
      return;
    }
    if (!isObject(node)) return;
    let base = parentBase;
    if (typeof node.$id === "string") {
      const [resource, anchor] = splitId(node.$id, parentBase);
      if (resource !== undefined) {
        base = resource;
        if (!this.#resources.has(resource)) this.#resources.set(resource, pointer);
      }
      // draft-06/07 plain-name fragments in `$id` are anchors.
      if (anchor !== undefined) this.#anchors.set(`${base}#${anchor}`, pointer);
    }
    this.#bases.set(pointer, base);
    if (typeof node.$anchor === "string") this.#anchors.set(`${base}#${node.$anchor}`, pointer);
    if (typeof node.$dynamicAnchor === "string") {
      const key = `${base}#${node.$dynamicAnchor}`;
      if (!this.#anchors.has(key)) this.#anchors.set(key, pointer);
    }
    for (const [key, value] of Object.entries(node)) {
      // Values of these keywords are data, not schemas: a `$ref` key inside them is not a reference.
      if (key === "enum" || key === "const" || key === "default" || key === "examples") continue;
      this.#walk(value, childPointer(pointer, key), base);
    }
  }

  /** The `$ref` targets referenced from within the subtree at `pointer` (not from inside nested data). */
  #refsUnder(pointer: string): string[] {
    const out: string[] = [];
    const prefix = `${pointer}/`;
    for (const [candidate, node] of this.#nodes) {
      if (candidate !== pointer && !candidate.startsWith(prefix)) continue;
      if (!isObject(node) || typeof node.$ref !== "string") continue;
      const target = this.resolve(node.$ref, candidate);
      if ("pointer" in target) out.push(target.pointer);
    }
    return out;
  }

  #findCycles(): void {
    const targets = new Set<string>();
    for (const [pointer, node] of this.#nodes) {
      if (!isObject(node) || typeof node.$ref !== "string") continue;
      const target = this.resolve(node.$ref, pointer);
      if ("pointer" in target) targets.add(target.pointer);
    }
    if (targets.size === 0) return;
    const edges = new Map<string, string[]>();
    for (const target of targets) edges.set(target, this.#refsUnder(target));
    // Tarjan's strongly connected components over the reference graph.
    let counter = 0;
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const visit = (node: string): void => {
      index.set(node, counter);
      low.set(node, counter);
      counter++;
      stack.push(node);
      onStack.add(node);
      for (const next of edges.get(node) ?? []) {
        if (!index.has(next)) {
          visit(next);
          low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
        } else if (onStack.has(next)) {
          low.set(node, Math.min(low.get(node) as number, index.get(next) as number));
        }
      }
      if (low.get(node) !== index.get(node)) return;
      const component: string[] = [];
      for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
        onStack.delete(member);
        component.push(member);
        if (member === node) break;
      }
      const selfLoop = (edges.get(node) ?? []).includes(node);
      if (component.length > 1 || selfLoop) {
        for (const member of component) {
          this.#recursive.add(member);
          this.#cycles.set(member, component);
        }
      }
    };
    for (const target of targets) if (!index.has(target)) visit(target);
  }
}

/** The resource URI and the plain-name anchor an `$id` declares, against the parent's base. */
function splitId(id: string, base: string): [string | undefined, string | undefined] {
  if (id.startsWith("#")) return [undefined, id.length > 1 ? id.slice(1) : undefined];
  const absolute = resolveUri(id, base);
  if (absolute === undefined) return [undefined, undefined];
  const hash = absolute.indexOf("#");
  const anchor = hash < 0 ? undefined : absolute.slice(hash + 1) || undefined;
  return [stripFragment(absolute), anchor];
}
