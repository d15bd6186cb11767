/**
 * An incremental matcher for the grammar IR: the set of parse positions after each character, as llama.cpp keeps
 * its grammar stacks. It answers what a sampler wants to know before each token — which characters may come
 * next, and whether a given text may come next — so that tokens which cannot continue the text can be set aside
 * before sampling (see workers/grammarBias.ts). llama.cpp's grammar stays the judge of what is generated; this only
 * has to be exact for the bias it feeds to be neutral.
 *
 * A position is a stack of goals (linked, shared between positions): an expression still to match, a literal with
 * an offset into its text, or a repetition with the counts it still needs and allows. Expanding the top goal until
 * it is a single character (a literal's next character, or a class) gives the positions a character can advance.
 */
import { type CodeRange, classRanges, type GExpr, type GrammarBuilder } from "./ir.js";

type Goal =
  | { readonly kind: "node"; readonly node: GExpr }
  | { readonly kind: "lit"; readonly text: readonly string[]; readonly offset: number; readonly id: number }
  | {
      readonly kind: "rep";
      readonly node: Extract<GExpr, { kind: "rep" }>;
      readonly min: number;
      readonly max: number | null;
    };

interface Stack {
  readonly goal: Goal;
  readonly next: Stack | null;
  key?: string;
}

/** The parse positions after some text, and whether the text may end there. */
export interface MatchState {
  /** Positions whose next goal is a single character. */
  readonly stacks: readonly Stack[];
  /** Whether the grammar admits the text read so far as a whole. */
  readonly accepting: boolean;
  /**
   * Whether the stacks are all of them: false when an ambiguous grammar made the matcher stop expanding (then
   * what it says may come next is only part of it).
   */
  readonly complete: boolean;
  /** A key equal for equal states (stack contents), for caches. */
  readonly key: string;
  /** The states one character on, as far as asked for (many texts checked from one state share prefixes). */
  readonly transitions: Map<string, MatchState>;
  /**
   * The same, by which stacks a character moves: characters that move the same stacks lead to the same state
   * (inside a string, every plain character does), so a vocabulary's worth of them costs a few expansions.
   */
  readonly moves: Map<string, MatchState>;
}

/** Past this many positions the matcher stops expanding (an ambiguous grammar); callers treat it as unknown. */
const MAX_STACKS = 256;

/** An incremental matcher for one grammar (see the file comment). */
export class GrammarMatcher {
  readonly #builder: GrammarBuilder;
  readonly #ids = new WeakMap<object, number>();
  #nextId = 0;

  constructor(builder: GrammarBuilder) {
    this.#builder = builder;
  }

  /** The state before any text. */
  start(root: GExpr): MatchState {
    return this.#close([{ goal: { kind: "node", node: root }, next: null }]);
  }

  /** The state after one more character; no stacks and not accepting when the character cannot come next. */
  advance(state: MatchState, char: string): MatchState {
    const known = state.transitions.get(char);
    if (known !== undefined) return known;
    const code = char.codePointAt(0) as number;
    let moves = "";
    for (const stack of state.stacks) {
      const goal = stack.goal;
      let moves1 = false;
      if (goal.kind === "lit") moves1 = goal.text[goal.offset] === char;
      else if (goal.kind === "node" && goal.node.kind === "class") {
        moves1 = goal.node.ranges.some(([lo, hi]) => code >= lo && code <= hi) !== goal.node.negated;
      }
      moves += moves1 ? "1" : "0";
    }
    let next = state.moves.get(moves);
    if (next === undefined) {
      next = this.#advance(state, moves);
      state.moves.set(moves, next);
    }
    state.transitions.set(char, next);
    return next;
  }

  /**
   * Whether every character in `ranges` moves the same stacks of `state` (so all of them lead to one state): no
   * literal waits for one of them, and each class takes all of them or none.
   */
  movesAlike(state: MatchState, ranges: readonly CodeRange[]): boolean {
    const single = ranges.length === 1 && ranges[0]?.[0] === ranges[0]?.[1];
    for (const stack of state.stacks) {
      const goal = stack.goal;
      if (goal.kind === "lit") {
        const code = (goal.text[goal.offset] as string).codePointAt(0) as number;
        if (!single && ranges.some(([lo, hi]) => code >= lo && code <= hi)) return false;
      } else if (goal.kind === "node" && goal.node.kind === "class") {
        const taken = classRanges(goal.node);
        const covered = ranges.every(([lo, hi]) => taken.some(([a, b]) => a <= lo && hi <= b));
        const disjoint = ranges.every(([lo, hi]) => taken.every(([a, b]) => b < lo || a > hi));
        if (!covered && !disjoint) return false;
      }
    }
    return true;
  }

  /** The state after a character that moves the stacks marked "1" in `moves` (one mark per stack). */
  #advance(state: MatchState, moves: string): MatchState {
    const moved: (Stack | null)[] = [];
    for (const [i, stack] of state.stacks.entries()) {
      if (moves[i] !== "1") continue;
      const goal = stack.goal;
      if (goal.kind === "lit") {
        const offset = goal.offset + 1;
        moved.push(offset < goal.text.length ? { goal: { ...goal, offset }, next: stack.next } : stack.next);
      } else moved.push(stack.next);
    }
    return this.#close(moved, state.complete);
  }

  /** The state after a text, or undefined as soon as it cannot continue. */
  feed(state: MatchState, text: string): MatchState | undefined {
    let current = state;
    for (const char of text) {
      current = this.advance(current, char);
      if (current.stacks.length === 0 && !current.accepting) return undefined;
    }
    return current;
  }

  /** The characters that may come next, as ranges of code points (possibly overlapping). */
  nextChars(state: MatchState): CodeRange[] {
    const out: CodeRange[] = [];
    for (const stack of state.stacks) {
      const goal = stack.goal;
      if (goal.kind === "lit") {
        const code = (goal.text[goal.offset] as string).codePointAt(0) as number;
        out.push([code, code]);
      } else if (goal.kind === "node" && goal.node.kind === "class") {
        out.push(...classRanges(goal.node));
      }
    }
    return out;
  }

  #id(object: object): number {
    let id = this.#ids.get(object);
    if (id === undefined) {
      id = this.#nextId++;
      this.#ids.set(object, id);
    }
    return id;
  }

  #key(stack: Stack | null): string {
    if (stack === null) return "";
    if (stack.key !== undefined) return stack.key;
    const goal = stack.goal;
    const head =
      goal.kind === "node"
        ? `n${this.#id(goal.node)}`
        : goal.kind === "lit"
          ? `l${goal.id}.${goal.offset}`
          : `r${this.#id(goal.node)}.${goal.min}.${goal.max ?? "*"}`;
    stack.key = `${head}/${this.#key(stack.next)}`;
    return stack.key;
  }

  /** Expands positions until each top goal is a single character; collects whether the text may end. */
  #close(seeds: readonly (Stack | null)[], inheritedComplete = true): MatchState {
    let complete = inheritedComplete;
    const stacks = new Map<string, Stack>();
    const seen = new Set<string>();
    let accepting = false;
    const work: (Stack | null)[] = [...seeds];
    while (work.length > 0) {
      const stack = work.pop() as Stack | null;
      if (stack === null) {
        accepting = true;
        continue;
      }
      const key = this.#key(stack);
      if (seen.has(key)) continue;
      seen.add(key);
      if (seen.size > MAX_STACKS * 16) {
        complete = false;
        break;
      }
      const goal = stack.goal;
      if (goal.kind === "lit") {
        stacks.set(key, stack);
        continue;
      }
      if (goal.kind === "rep") {
        const { node, min, max } = goal;
        const again = (nextMin: number, nextMax: number | null): Stack => ({
          goal: { kind: "node", node: node.item },
          next: { goal: { kind: "rep", node, min: nextMin, max: nextMax }, next: stack.next },
        });
        if (min > 0) work.push(again(min - 1, max === null ? null : max - 1));
        else {
          work.push(stack.next);
          if (max === null || max > 0) work.push(again(0, max === null ? null : max - 1));
        }
        continue;
      }
      const node = goal.node;
      switch (node.kind) {
        case "lit": {
          const text = [...node.text];
          if (text.length === 0) work.push(stack.next);
          else
            stacks.set(key, { goal: { kind: "lit", text, offset: 0, id: this.#id(node) }, next: stack.next });
          break;
        }
        case "class":
          stacks.set(key, stack);
          break;
        case "seq": {
          let next = stack.next;
          for (let i = node.items.length - 1; i >= 0; i--) {
            next = { goal: { kind: "node", node: node.items[i] as GExpr }, next };
          }
          work.push(next);
          break;
        }
        case "alt":
          for (const item of node.items) work.push({ goal: { kind: "node", node: item }, next: stack.next });
          break;
        case "rep":
          work.push({ goal: { kind: "rep", node, min: node.min, max: node.max }, next: stack.next });
          break;
        case "ref":
          work.push({ goal: { kind: "node", node: this.#builder.body(node.rule) }, next: stack.next });
          break;
      }
    }
    const list = [...stacks.values()].slice(0, MAX_STACKS);
    const whole = complete && list.length === stacks.size;
    const key = `${whole ? "" : "?"}${accepting ? "A" : ""}|${[...stacks.keys()].sort().join("|")}`;
    return { stacks: list, accepting, complete: whole, key, transitions: new Map(), moves: new Map() };
  }
}
