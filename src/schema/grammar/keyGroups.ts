/**
 * Keys an object must have, shared between keys. `not: {propertyNames: {not: {pattern: p}}}` asks for a key
 * matching p (objects.ts reads these asks: `objectWitnesses`); one key per ask is the simplest grammar, but under
 * `maxProperties` there may be fewer keys than asks, and one key can answer several (a key of four characters
 * containing `a1`, `b2` and `2a`). So the asks are distributed over keys: each way of grouping them (a set
 * partition into at most as many groups as there are keys to spare) is one alternative of the object's grammar,
 * and each group is one key matching all of its asks' patterns, written from the product of their automata
 * (automaton.ts). The groupings are enumerated up to {@link MAX_KEY_GROUPINGS}; past it the rest are left out
 * (a smaller grammar, still sound, and reported).
 *
 * Two keys written for two groups must not be one key repeated (the parsed object would have one key fewer
 * than the grammar counted, and JSON.parse keeps the last value): a group's key is none of the keys the earlier
 * groups may write — a difference of automata.
 */
import { complementDfa, type Dfa, intersectDfa, patternDfa } from "./automaton.js";

/** Most groupings of a document object's asks written as alternatives (Bell numbers grow fast: 4 asks, 15). */
export const MAX_KEY_GROUPINGS = 32;

/** The groupings of `count` asks (by index) into at most `most` groups, and whether some were left out. */
export interface Groupings {
  readonly groupings: readonly (readonly (readonly number[])[])[];
  readonly truncated: boolean;
}

/**
 * The set partitions of the asks 0 … count−1 into at most `most` non-empty groups, finest first (one ask per
 * group is today's plain grammar), at most `cap` of them.
 *
 * @example
 * keyGroupings(3, 2, 32).groupings; // [[[0], [1, 2]], [[0, 1], [2]], [[0, 2], [1]], [[0, 1, 2]]] (order aside)
 */
export function keyGroupings(count: number, most: number, cap = MAX_KEY_GROUPINGS): Groupings {
  const all: number[][][] = [];
  let truncated = false;
  // Restricted growth strings: ask i joins one of the groups opened so far, or opens the next one.
  const labels: number[] = [];
  const visit = (i: number, opened: number): void => {
    if (truncated) return;
    if (i === count) {
      if (all.length >= cap) {
        truncated = true;
        return;
      }
      const groups: number[][] = Array.from({ length: opened }, () => []);
      labels.forEach((label, ask) => {
        (groups[label] as number[]).push(ask);
      });
      all.push(groups);
      return;
    }
    // Opening a new group first: finer groupings come first.
    const joined = Array.from({ length: opened }, (_, g) => g);
    const order = opened < most ? [opened, ...joined] : joined;
    for (const label of order) {
      labels[i] = label;
      visit(i + 1, Math.max(opened, label + 1));
    }
    labels.length = i;
  };
  if (count > 0 && most > 0) visit(0, 0);
  return { groupings: all, truncated };
}

/** The DFA of the strings any of `patterns` matches (throws as patternDfa does). */
export function unionDfa(patterns: readonly string[]): Dfa {
  return anyDfa(patterns.map(patternDfa));
}

/** The DFA of the strings any of `dfas` accepts (none when there is none). */
export function anyDfa(dfas: readonly Dfa[]): Dfa {
  const [first, ...rest] = dfas;
  if (first === undefined) return complementDfa(patternDfa(""));
  // A ∪ B is the complement of (not A) ∩ (not B).
  return rest.length === 0
    ? first
    : complementDfa(rest.reduce((dfa, next) => intersectDfa(dfa, complementDfa(next)), complementDfa(first)));
}

/** The DFA of the strings every one of `dfas` accepts (all strings when there is none). */
export function allDfa(dfas: readonly Dfa[]): Dfa {
  const [first, ...rest] = dfas;
  return rest.reduce((dfa, next) => intersectDfa(dfa, next), first ?? patternDfa(""));
}

/** Whether the DFA accepts no string at all (no accepting state reachable from the start). */
export function acceptsNothing(dfa: Dfa): boolean {
  const seen = new Set<number>([0]);
  const queue = [0];
  for (let q = queue.pop(); q !== undefined; q = queue.pop()) {
    if (dfa.accepting[q]) return false;
    for (const [, , to] of dfa.edges[q] ?? []) {
      if (seen.has(to)) continue;
      seen.add(to);
      queue.push(to);
    }
  }
  return true;
}

/** The length of the shortest string the DFA accepts (undefined when it accepts none). */
export function shortestAccepted(dfa: Dfa): number | undefined {
  const distance = new Map<number, number>([[0, 0]]);
  const queue = [0];
  for (let head = 0; head < queue.length; head++) {
    const q = queue[head] as number;
    const d = distance.get(q) as number;
    if (dfa.accepting[q]) return d;
    for (const [, , to] of dfa.edges[q] ?? []) {
      if (distance.has(to)) continue;
      distance.set(to, d + 1);
      queue.push(to);
    }
  }
  return undefined;
}
