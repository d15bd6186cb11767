/**
 * Patterns as finite automata, for what a grammar cannot say directly: the intersection of patterns (`allOf`),
 * their complement (`not`), a lookahead at a pattern's start (`^(?=.*\d)(?!.*admin)…`) and a pattern combined
 * exactly with `minLength`/`maxLength`. A pattern is parsed (regexParser.ts), built into an NFA whose edges
 * are character-class intervals, and made deterministic by subset construction over the disjoint intervals
 * of each state's edges; products and complements are then those of DFAs, and the result is written as
 * grammar rules, one per (state, characters written so far).
 *
 * Every automaton is over {@link UNIVERSE}: the BMP characters a JSON string is written with (no surrogate,
 * no control character but tab, newline and carriage return). On such strings a regex without the `u` flag
 * sees one code unit per code point, so the automaton's language is exactly the regex's there; strings with
 * other characters are never written, so complements stay sound (`^..$` matches one astral character: no
 * complement here may admit it). Past {@link MAX_DFA_STATES} states the caller may ask for a few strings the
 * pattern matches instead ({@link patternWitnesses}: a bounded search over the parts' NFAs, a reported subset),
 * or leaves the keyword to the validator.
 */
import { type CodeRange, cls, EMPTY, type GExpr, type GrammarBuilder, NEVER, rep, seq } from "./ir.js";
import { parseRegex, type RegexNode, UnsupportedRegexError } from "./regexParser.js";

/** The characters automata read (see the file comment). */
export const UNIVERSE: readonly CodeRange[] = [
  [0x09, 0x0a],
  [0x0d, 0x0d],
  [0x20, 0xd7ff],
  [0xe000, 0xffff],
];

/** Most DFA states one pattern (or one product) may take before it is given up. */
export const MAX_DFA_STATES = 2000;
/** Most NFA states one pattern may build (`(.{100}){100}` would build ten thousand). */
const MAX_NFA_STATES = 20000;
/** Most grammar rules (state × length) one automaton is written with; longer strings are left out. */
const MAX_RULES = 800;

/**
 * A deterministic automaton complete over {@link UNIVERSE}, start state 0. `edges[q]` are `[lo, hi, to]`
 * sorted and disjoint, covering UNIVERSE exactly.
 */
export interface Dfa {
  readonly accepting: readonly boolean[];
  readonly edges: readonly (readonly (readonly [number, number, number])[])[];
}

/** Thrown when an automaton would pass its state bound. */
export class AutomatonLimitError extends UnsupportedRegexError {}

type Eps = { readonly to: number; readonly kind: 0 | 1 | 2 }; // plain, `^`, `$`

class Nfa {
  readonly chars: { ranges: readonly CodeRange[]; to: number }[][] = [];
  readonly eps: Eps[][] = [];

  add(): number {
    if (this.chars.length >= MAX_NFA_STATES)
      throw new AutomatonLimitError(`the pattern needs more than ${MAX_NFA_STATES} automaton states`);
    this.chars.push([]);
    this.eps.push([]);
    return this.chars.length - 1;
  }

  char(from: number, ranges: readonly CodeRange[], to: number): void {
    const kept = intersectRanges(ranges, UNIVERSE);
    if (kept.length > 0) this.chars[from]?.push({ ranges: kept, to });
  }

  epsilon(from: number, to: number, kind: 0 | 1 | 2 = 0): void {
    this.eps[from]?.push({ to, kind });
  }

  /** Builds `node` from `entry`; returns its exit state. */
  build(node: RegexNode, entry: number): number {
    switch (node.type) {
      case "char": {
        const exit = this.add();
        this.char(entry, [[node.code, node.code]], exit);
        return exit;
      }
      case "text": {
        // Two code units of one astral character: outside UNIVERSE, so nothing passes.
        const exit = this.add();
        const codes = [...node.text].map((char) => char.codePointAt(0) as number);
        if (codes.length === 1 && (codes[0] as number) <= 0xffff)
          this.char(entry, [[codes[0] as number, codes[0] as number]], exit);
        return exit;
      }
      case "set": {
        const exit = this.add();
        this.char(entry, node.ranges, exit);
        return exit;
      }
      case "seq":
        return node.items.reduce((at, item) => this.build(item, at), entry);
      case "alt": {
        const exit = this.add();
        for (const item of node.items) {
          const start = this.add();
          this.epsilon(entry, start);
          this.epsilon(this.build(item, start), exit);
        }
        return exit;
      }
      case "repeat": {
        let at = entry;
        for (let i = 0; i < node.min; i++) at = this.build(node.item, at);
        const exit = this.add();
        if (node.max === null) {
          const loop = this.add();
          this.epsilon(at, loop);
          this.epsilon(this.build(node.item, loop), loop);
          this.epsilon(loop, exit);
          return exit;
        }
        for (let i = node.min; i < node.max; i++) {
          this.epsilon(at, exit);
          at = this.build(node.item, at);
        }
        this.epsilon(at, exit);
        return exit;
      }
      case "start":
      case "end": {
        const exit = this.add();
        this.epsilon(entry, exit, node.type === "start" ? 1 : 2);
        return exit;
      }
      case "look":
        throw new UnsupportedRegexError("a lookahead is written only at the start of a pattern, after ^");
    }
  }
}

/** The intersection of two range lists (each may be unsorted). */
export function intersectRanges(a: readonly CodeRange[], b: readonly CodeRange[]): CodeRange[] {
  const out: CodeRange[] = [];
  for (const [lo, hi] of a) {
    for (const [lo2, hi2] of b) {
      const low = Math.max(lo, lo2);
      const high = Math.min(hi, hi2);
      if (low <= high) out.push([low, high]);
    }
  }
  out.sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const [lo, hi] of out) {
    const last = merged.at(-1);
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else merged.push([lo, hi]);
  }
  return merged;
}

/** An NFA of the strings on which a regex matches somewhere: `final` loops on every character. */
interface SearchNfa {
  readonly nfa: Nfa;
  readonly start: number;
  readonly final: number;
}

/** The NFA of the strings over UNIVERSE on which `node` matches somewhere (`new RegExp(p).test(s)`). */
function searchNfa(node: RegexNode): SearchNfa {
  const nfa = new Nfa();
  const start = nfa.add();
  nfa.char(start, UNIVERSE, start);
  const exit = nfa.build(node, start);
  const final = nfa.add();
  nfa.epsilon(exit, final);
  nfa.char(final, UNIVERSE, final);
  return { nfa, start, final };
}

function closure(nfa: Nfa, states: Iterable<number>, allowStart: boolean, allowEnd: boolean): Set<number> {
  const out = new Set<number>(states);
  const stack = [...out];
  for (let q = stack.pop(); q !== undefined; q = stack.pop()) {
    for (const { to, kind } of nfa.eps[q] ?? []) {
      if (out.has(to)) continue;
      if ((kind === 1 && !allowStart) || (kind === 2 && !allowEnd)) continue;
      out.add(to);
      stack.push(to);
    }
  }
  return out;
}

/** Subset construction; `^` edges pass only before the first character, `$` edges only at the end. */
function determinize(nfa: Nfa, start: number, final: number): Dfa {
  const accepting: boolean[] = [];
  const edges: [number, number, number][][] = [];
  const index = new Map<string, number>();
  const sets: { states: number[]; atStart: boolean }[] = [];
  const intern = (states: Set<number>, atStart: boolean): number => {
    const sorted = [...states].sort((a, b) => a - b);
    const key = `${atStart ? "^" : ""}${sorted.join(",")}`;
    const known = index.get(key);
    if (known !== undefined) return known;
    if (sets.length >= MAX_DFA_STATES)
      throw new AutomatonLimitError(`the pattern needs more than ${MAX_DFA_STATES} automaton states`);
    index.set(key, sets.length);
    sets.push({ states: sorted, atStart });
    accepting.push(closure(nfa, sorted, atStart, true).has(final));
    edges.push([]);
    return sets.length - 1;
  };
  intern(closure(nfa, [start], true, false), true);
  for (let d = 0; d < sets.length; d++) {
    const { states } = sets[d] as { states: number[] };
    const moves = states.flatMap((q) => nfa.chars[q] ?? []);
    const bounds = new Set<number>();
    for (const [lo, hi] of UNIVERSE) {
      bounds.add(lo);
      bounds.add(hi + 1);
    }
    for (const move of moves) {
      for (const [lo, hi] of move.ranges) {
        bounds.add(lo);
        bounds.add(hi + 1);
      }
    }
    const cuts = [...bounds].sort((a, b) => a - b);
    const out: [number, number, number][] = [];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const lo = cuts[i] as number;
      const hi = (cuts[i + 1] as number) - 1;
      if (!UNIVERSE.some(([a, b]) => lo >= a && hi <= b)) continue;
      const targets = new Set<number>();
      for (const move of moves) {
        if (move.ranges.some(([a, b]) => lo >= a && hi <= b)) targets.add(move.to);
      }
      const to = intern(closure(nfa, targets, false, false), false);
      const last = out.at(-1);
      if (last !== undefined && last[2] === to && last[1] + 1 === lo) last[1] = hi;
      else out.push([lo, hi, to]);
    }
    edges[d] = out;
  }
  return minimize({ accepting, edges });
}

/** Walks two DFAs' edge lists together: the intervals on which both move, with each one's target. */
function zipEdges(
  a: readonly (readonly [number, number, number])[],
  b: readonly (readonly [number, number, number])[],
): [number, number, number, number][] {
  const out: [number, number, number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [alo, ahi, ato] = a[i] as readonly [number, number, number];
    const [blo, bhi, bto] = b[j] as readonly [number, number, number];
    const lo = Math.max(alo, blo);
    const hi = Math.min(ahi, bhi);
    if (lo <= hi) out.push([lo, hi, ato, bto]);
    if (ahi < bhi) i++;
    else j++;
  }
  return out;
}

/** The states from which no accepted string can be reached. */
function deadStates(dfa: Dfa): boolean[] {
  const live = dfa.accepting.map((accepts) => accepts);
  for (let changed = true; changed; ) {
    changed = false;
    for (let q = 0; q < live.length; q++) {
      if (!live[q] && (dfa.edges[q] ?? []).some(([, , to]) => live[to])) {
        live[q] = true;
        changed = true;
      }
    }
  }
  return live.map((alive) => !alive);
}

/** Whether the DFA accepts finitely many strings (no cycle among its live states). */
function acceptsFinitely(dfa: Dfa): boolean {
  const dead = deadStates(dfa);
  const state = new Uint8Array(dfa.accepting.length); // 0 new, 1 on the path, 2 done
  const cyclic = (q: number): boolean => {
    if (state[q] === 1) return true;
    if (state[q] === 2 || dead[q]) return false;
    state[q] = 1;
    const found = (dfa.edges[q] ?? []).some(([, , to]) => cyclic(to));
    state[q] = 2;
    return found;
  };
  return !cyclic(0);
}

/** The DFA of the strings both accept. */
export function intersectDfa(a: Dfa, b: Dfa): Dfa {
  const accepting: boolean[] = [];
  const edges: [number, number, number][][] = [];
  const index = new Map<string, number>();
  const pairs: [number, number][] = [];
  // A pair with a dead side is dead: all of them are one state, so that what one side rules out is not explored.
  const deadA = deadStates(a);
  const deadB = deadStates(b);
  const intern = (p: number, q: number): number => {
    const key = deadA[p] || deadB[q] ? "dead" : `${p},${q}`;
    const known = index.get(key);
    if (known !== undefined) return known;
    if (pairs.length >= MAX_DFA_STATES)
      throw new AutomatonLimitError(
        `the patterns together need more than ${MAX_DFA_STATES} automaton states`,
      );
    index.set(key, pairs.length);
    pairs.push([p, q]);
    accepting.push((a.accepting[p] ?? false) && (b.accepting[q] ?? false));
    edges.push([]);
    return pairs.length - 1;
  };
  intern(0, 0);
  for (let d = 0; d < pairs.length; d++) {
    const [p, q] = pairs[d] as [number, number];
    const out: [number, number, number][] = [];
    for (const [lo, hi, pt, qt] of zipEdges(a.edges[p] ?? [], b.edges[q] ?? [])) {
      const to = intern(pt, qt);
      const last = out.at(-1);
      if (last !== undefined && last[2] === to && last[1] + 1 === lo) last[1] = hi;
      else out.push([lo, hi, to]);
    }
    edges[d] = out;
  }
  return minimize({ accepting, edges });
}

/** The DFA of the strings over UNIVERSE it refuses. */
export function complementDfa(dfa: Dfa): Dfa {
  return { accepting: dfa.accepting.map((accepts) => !accepts), edges: dfa.edges };
}

/** The equivalent DFA with fewest states (Moore's partition refinement), unreachable states dropped. */
function minimize(dfa: Dfa): Dfa {
  let block: number[] = dfa.accepting.map((accepts) => (accepts ? 1 : 0));
  let blocks = new Set(block).size;
  for (;;) {
    const signatures = new Map<string, number>();
    const next = block.map((own, q) => {
      const signature = `${own}|${(dfa.edges[q] ?? []).map(([lo, hi, to]) => `${lo}-${hi}:${block[to]}`).join(";")}`;
      let id = signatures.get(signature);
      if (id === undefined) {
        id = signatures.size;
        signatures.set(signature, id);
      }
      return id;
    });
    block = next;
    if (signatures.size === blocks) break;
    blocks = signatures.size;
  }
  // Renumber from the start state, in breadth-first order, merging edges that now lead to the same block.
  const order = new Map<number, number>([[block[0] as number, 0]]);
  const representative: number[] = [0];
  const accepting: boolean[] = [];
  const edges: [number, number, number][][] = [];
  for (let i = 0; i < representative.length; i++) {
    const q = representative[i] as number;
    accepting.push(dfa.accepting[q] ?? false);
    const out: [number, number, number][] = [];
    for (const [lo, hi, to] of dfa.edges[q] ?? []) {
      const b = block[to] as number;
      let id = order.get(b);
      if (id === undefined) {
        id = representative.length;
        order.set(b, id);
        representative.push(to);
      }
      const last = out.at(-1);
      if (last !== undefined && last[2] === id && last[1] + 1 === lo) last[1] = hi;
      else out.push([lo, hi, id]);
    }
    edges.push(out);
  }
  return { accepting, edges };
}

function hasLook(node: RegexNode): boolean {
  switch (node.type) {
    case "look":
      return true;
    case "seq":
    case "alt":
      return node.items.some(hasLook);
    case "repeat":
      return hasLook(node.item);
    default:
      return false;
  }
}

/**
 * The DFA of the strings over UNIVERSE that `pattern` matches (as `new RegExp(pattern).test`). Lookaheads are
 * read where they stand at the start of the string: after a leading `^`, before anything that reads a
 * character (`^(?=.*\d)(?!.*admin).{8,}$`); there each is the intersection with (or the complement of) the
 * strings with a prefix it matches. Throws {@link UnsupportedRegexError} for what cannot be read or would pass
 * the state bound.
 */
export function patternDfa(pattern: string): Dfa {
  const known = dfaCache.get(pattern);
  if (known !== undefined) return known;
  const dfa = buildPatternDfa(pattern);
  // A document is compiled several times while its caps are fitted: its patterns' automata are reused.
  if (dfaCache.size >= DFA_CACHE_SIZE) dfaCache.delete(dfaCache.keys().next().value as string);
  dfaCache.set(pattern, dfa);
  return dfa;
}

/** Automata of recent patterns (the oldest dropped first). */
const dfaCache = new Map<string, Dfa>();
const DFA_CACHE_SIZE = 256;

/** A pattern as the parts it must (or, `negative`, must not) match: its body and its leading lookaheads. */
function patternSearches(pattern: string): { search: SearchNfa; negative: boolean }[] {
  try {
    new RegExp(pattern);
  } catch (error) {
    throw new UnsupportedRegexError(`not a valid regular expression: ${(error as Error).message}`);
  }
  const node = parseRegex(pattern);
  if (!hasLook(node)) return [{ search: searchNfa(node), negative: false }];
  const items: RegexNode[] = [];
  const flatten = (n: RegexNode): void => {
    if (n.type === "seq") for (const item of n.items) flatten(item);
    else items.push(n);
  };
  flatten(node);
  let anchored = false;
  const looks: Extract<RegexNode, { type: "look" }>[] = [];
  let at = 0;
  for (; at < items.length; at++) {
    const item = items[at] as RegexNode;
    if (item.type === "start") anchored = true;
    else if (item.type === "look" && anchored && !hasLook(item.item)) looks.push(item);
    else break;
  }
  const rest = items.slice(at);
  if (!anchored || rest.some(hasLook))
    throw new UnsupportedRegexError("a lookahead is written only at the start of a pattern, after ^");
  const START: RegexNode = { type: "start" };
  return [
    { search: searchNfa({ type: "seq", items: [START, ...rest] }), negative: false },
    ...looks.map((look) => ({
      search: searchNfa({ type: "seq", items: [START, look.item] }),
      negative: look.negative,
    })),
  ];
}

function buildPatternDfa(pattern: string): Dfa {
  const parts = patternSearches(pattern).map(({ search, negative }) => {
    const own = determinize(search.nfa, search.start, search.final);
    return negative ? complementDfa(own) : own;
  });
  // Finite languages first (a fixed length, a list of words), then the smaller: the products stay small when
  // what the first parts rule out is never explored.
  const ranked = parts
    .map((dfa) => ({ dfa, finite: acceptsFinitely(dfa) }))
    .sort((x, y) => Number(y.finite) - Number(x.finite) || x.dfa.accepting.length - y.dfa.accepting.length);
  return ranked.slice(1).reduce((dfa, part) => intersectDfa(dfa, part.dfa), (ranked[0] as { dfa: Dfa }).dfa);
}

/** Characters a witness is written with, in the order they are tried (printable ASCII but `"` and `\\`). */
const WITNESS_CHARS: readonly number[] = [
  ...range(0x61, 0x7a), // a-z
  ...range(0x30, 0x39), // 0-9
  ...range(0x41, 0x5a), // A-Z
  ...[...range(0x20, 0x7e)].filter(
    (code) =>
      !(code >= 0x61 && code <= 0x7a) && !(code >= 0x30 && code <= 0x39) && !(code >= 0x41 && code <= 0x5a),
  ),
].filter((code) => code !== 0x22 && code !== 0x5c);

function* range(from: number, to: number): Generator<number> {
  for (let code = from; code <= to; code++) yield code;
}

/** Most search nodes {@link patternWitnesses} expands (each a set of NFA states per part). */
const MAX_WITNESS_NODES = 10000;
/** Most strings {@link patternWitnesses} returns. */
const MAX_WITNESSES = 8;

/**
 * A few strings of `minLength` to `maxLength` printable ASCII characters that `pattern` matches, found by a
 * bounded depth-first search over its parts' NFAs (subsets built as the search reaches them), for a pattern
 * whose automaton is too large to write: a sound subset of its strings. Each part bounds the characters still
 * needed (fewest and most, from its NFA's graph), which prunes the search; undefined when none is found within
 * {@link MAX_WITNESS_NODES} nodes.
 */
export function patternWitnesses(
  pattern: string,
  minLength: number,
  maxLength: number,
): string[] | undefined {
  try {
    return witnesses(pattern, minLength, maxLength);
  } catch (error) {
    // Too deep a graph for the longest-path recursion, or a pattern the automata cannot read: no witness.
    if (error instanceof RangeError || error instanceof UnsupportedRegexError) return undefined;
    throw error;
  }
}

function witnesses(pattern: string, minLength: number, maxLength: number): string[] | undefined {
  const parts = patternSearches(pattern).map(({ search, negative }) => ({
    ...search,
    negative,
    ...remainingLengths(search),
  }));
  type Node = readonly (readonly number[])[];
  const step = (node: Node, code: number): Node | undefined => {
    const out: number[][] = [];
    for (const [i, part] of parts.entries()) {
      const states = node[i] as readonly number[];
      if (states.length === 1 && states[0] === part.final) {
        out.push([part.final]);
        continue;
      }
      const targets = new Set<number>();
      for (const q of states)
        for (const move of part.nfa.chars[q] ?? [])
          if (move.ranges.some(([lo, hi]) => code >= lo && code <= hi)) targets.add(move.to);
      const next = closure(part.nfa, targets, false, false);
      if (next.has(part.final)) {
        if (part.negative) return undefined;
        out.push([part.final]);
        continue;
      }
      const live = [...next].filter((q) => (part.fewest[q] as number) < Infinity).sort((x, y) => x - y);
      if (live.length === 0 && !part.negative) return undefined;
      out.push(live);
    }
    return out;
  };
  const accepted = (node: Node): boolean =>
    parts.every(
      (part, i) => closure(part.nfa, node[i] as number[], false, true).has(part.final) !== part.negative,
    );
  /** The characters still needed: [fewest, most] over the positive parts. */
  const needed = (node: Node): [number, number] => {
    let fewest = 0;
    let most = Infinity;
    for (const [i, part] of parts.entries()) {
      const states = node[i] as readonly number[];
      if (part.negative || (states.length === 1 && states[0] === part.final)) continue;
      fewest = Math.max(fewest, Math.min(...states.map((q) => part.fewest[q] as number)));
      most = Math.min(most, Math.max(...states.map((q) => part.most[q] as number)));
    }
    return [fewest, most];
  };
  /** The characters the positive parts still need, summed (0 where matched). */
  const progress = (node: Node): number =>
    parts.reduce((sum, part, i) => {
      const states = node[i] as readonly number[];
      if (part.negative || states.length === 0) return sum;
      return sum + Math.min(...states.map((q) => part.fewest[q] as number));
    }, 0);
  const start: Node = parts.map((part) => {
    const first = closure(part.nfa, [part.start], true, false);
    // At the start, `^` edges have passed: the states before them no longer count.
    return first.has(part.final) ? [part.final] : [...first].sort((x, y) => x - y);
  });
  const found: string[] = [];
  const failed = new Set<string>();
  let expanded = 0;
  const search = (node: Node, text: number[]): boolean => {
    if (found.length >= MAX_WITNESSES || ++expanded > MAX_WITNESS_NODES) return false;
    const depth = text.length;
    const key = `${depth}|${node.map((states) => states.join(",")).join("|")}`;
    if (failed.has(key)) return false;
    const [fewest, most] = needed(node);
    const low = Math.max(fewest, minLength - depth);
    const high = Math.min(most, maxLength - depth);
    let any = false;
    if (low <= high) {
      if (depth >= minLength && accepted(node)) {
        found.push(String.fromCharCode(...text));
        any = true;
      }
      // Characters that lead to the same sets are one choice; those that bring the parts nearest to a match
      // are tried first.
      const children = new Map<string, { code: number; next: Node; rank: number }>();
      if (depth < maxLength)
        for (const code of WITNESS_CHARS) {
          const next = step(node, code);
          if (next === undefined) continue;
          const nextKey = next.map((states) => states.join(",")).join("|");
          if (!children.has(nextKey)) children.set(nextKey, { code, next, rank: progress(next) });
        }
      for (const { code, next } of [...children.values()].sort((x, y) => x.rank - y.rank)) {
        if (found.length >= MAX_WITNESSES || expanded > MAX_WITNESS_NODES) break;
        text.push(code);
        if (search(next, text)) any = true;
        text.pop();
      }
    }
    if (!any && expanded <= MAX_WITNESS_NODES) failed.add(key);
    return any;
  };
  search(start, []);
  return found.length === 0 ? undefined : found;
}

/**
 * Per NFA state, the fewest and the most characters that lead from it to `final` (`^` edges closed: they pass
 * only at the start; `$` edges end the string; Infinity where a cycle or the `final` state's loop is reachable,
 * or `final` is not).
 */
function remainingLengths(search: SearchNfa): { fewest: number[]; most: number[] } {
  const { nfa, final } = search;
  const n = nfa.chars.length;
  // Backwards from `final`: a 0-1 breadth-first search (epsilons cost 0, characters 1).
  const back: { from: number; cost: 0 | 1 }[][] = Array.from({ length: n }, () => []);
  for (let q = 0; q < n; q++) {
    for (const { to, kind } of nfa.eps[q] ?? []) if (kind !== 1) back[to]?.push({ from: q, cost: 0 });
    for (const { to } of nfa.chars[q] ?? []) back[to]?.push({ from: q, cost: 1 });
  }
  const fewest = new Array<number>(n).fill(Infinity);
  fewest[final] = 0;
  const deque: number[] = [final];
  for (let head = 0; head < deque.length; head++) {
    const q = deque[head] as number;
    for (const { from, cost } of back[q] ?? []) {
      const d = (fewest[q] as number) + cost;
      if (d < (fewest[from] as number)) {
        fewest[from] = d;
        deque.push(from); // re-queued when improved (a state's cost only drops, at most a few times)
      }
    }
  }
  const most = new Array<number>(n).fill(-1);
  const state = new Uint8Array(n); // 0 new, 1 on the path, 2 done
  const longest = (q: number): number => {
    if (state[q] === 2) return most[q] as number;
    if (state[q] === 1 || q === final) return Infinity;
    state[q] = 1;
    let best = -Infinity;
    for (const { to, kind } of nfa.eps[q] ?? []) {
      if (kind === 1 || (fewest[to] as number) === Infinity) continue;
      best = Math.max(best, kind === 2 ? 0 : longest(to));
    }
    for (const { to } of nfa.chars[q] ?? []) {
      if ((fewest[to] as number) === Infinity) continue;
      best = Math.max(best, longest(to) + 1);
    }
    state[q] = 2;
    most[q] = best === -Infinity ? Infinity : best;
    return most[q] as number;
  };
  for (let q = 0; q < n; q++) if ((fewest[q] as number) < Infinity) longest(q);
  return { fewest, most };
}

/** Whether the DFA accepts `text` (characters outside UNIVERSE: no). For tests and checks. */
export function dfaAccepts(dfa: Dfa, text: string): boolean {
  let q = 0;
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    const edge = (dfa.edges[q] ?? []).find(([lo, hi]) => code >= lo && code <= hi);
    if (edge === undefined) return false;
    q = edge[2];
  }
  return dfa.accepting[q] ?? false;
}

/**
 * The grammar of the decoded content of strings the DFA accepts with `minLength` to `maxLength` characters;
 * NEVER when there is none, undefined when even the shortest ones need too many rules. One rule per (state, characters written so far), at most MAX_RULES: past it
 * the longest strings are left out (a subset, so sound). A state from which every string is accepted is a
 * bounded run of any characters, whatever the length it is reached at.
 */
export function dfaToExpr(
  dfa: Dfa,
  builder: GrammarBuilder,
  minLength: number,
  maxLength: number,
): GExpr | undefined {
  const n = dfa.accepting.length;
  const universal = dfa.accepting.map(
    (accepts, q) => accepts && (dfa.edges[q] ?? []).every(([, , to]) => to === q),
  );
  // Each state's moves grouped by target: one class per (state, target).
  const groups = dfa.edges.map((edges) => {
    const byTarget = new Map<number, CodeRange[]>();
    for (const [lo, hi, to] of edges) byTarget.set(to, [...(byTarget.get(to) ?? []), [lo, hi]]);
    return [...byTarget].map(([to, ranges]) => ({ to, chars: cls(ranges) }));
  });
  // viable[k][q]: from state q after k characters, some accepted string ends within [minLength, max].
  const viability = (max: number): Uint8Array[] => {
    const table: Uint8Array[] = [];
    for (let k = max; k >= 0; k--) {
      const row = new Uint8Array(n);
      const next = table[k + 1];
      for (let q = 0; q < n; q++) {
        if (universal[q] || (dfa.accepting[q] && k >= minLength)) row[q] = 1;
        else if (next !== undefined && (groups[q] ?? []).some(({ to }) => next[to] === 1)) row[q] = 1;
      }
      table[k] = row;
    }
    return table;
  };
  // The rules writing needs: viable pairs reachable from the start, universal states counted once each.
  const size = (max: number, table: Uint8Array[]): number => {
    const seen = new Set<number>();
    const stack = [0];
    while (stack.length > 0) {
      const key = stack.pop() as number;
      const k = Math.floor(key / n);
      const q = key % n;
      if (universal[q] || k + 1 > max) continue;
      for (const { to } of groups[q] ?? []) {
        if (table[k + 1]?.[to] !== 1) continue;
        const child = (k + 1) * n + to;
        if (!seen.has(child)) {
          seen.add(child);
          stack.push(child);
        }
      }
    }
    return seen.size + 1;
  };
  let max = maxLength;
  let table = viability(max);
  if (table[0]?.[0] !== 1) return NEVER;
  if (size(max, table) > MAX_RULES) {
    let low = minLength;
    let high = max - 1;
    let best: number | undefined;
    while (low <= high) {
      const middle = Math.floor((low + high) / 2);
      const t = viability(middle);
      if (t[0]?.[0] !== 1) low = middle + 1;
      else if (size(middle, t) <= MAX_RULES) {
        best = middle;
        low = middle + 1;
      } else high = middle - 1;
    }
    if (best === undefined) return undefined;
    max = best;
    table = viability(max);
  }
  const any = cls(UNIVERSE);
  const memo = new Map<number, GExpr>();
  const build = (q: number, k: number): GExpr => {
    const key = k * n + q;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let expr: GExpr;
    if (universal[q]) {
      expr = rep(any, Math.max(0, minLength - k), max - k);
    } else {
      const parts: GExpr[] = dfa.accepting[q] && k >= minLength ? [EMPTY] : [];
      if (k + 1 <= max) {
        for (const { to, chars } of groups[q] ?? []) {
          if (table[k + 1]?.[to] === 1) parts.push(seq(chars, build(to, k + 1)));
        }
      }
      // Distinct targets: no duplicates for alt() to look for.
      expr =
        parts.length === 1 ? (parts[0] as GExpr) : parts.length === 0 ? NEVER : { kind: "alt", items: parts };
    }
    const named = builder.rule(`pat-${q}-${k}`, expr);
    memo.set(key, named);
    return named;
  };
  return build(0, 0);
}
