/**
 * A small arithmetic evaluator for the calculator tool: a tokenizer and a recursive-descent parser over numbers,
 * `+ - * / % ^ **`, parentheses, a few constants and functions. It never uses `eval` or `Function`, so an
 * expression written by a model can compute but cannot run code. Parsing and evaluating are separate steps so
 * that a syntax error can be reported as bad input before anything runs.
 *
 * Names and functions live in `Map`s, never in plain objects: a name like `constructor` or `__proto__` must be
 * unknown, not a property inherited from Object.prototype. The length is checked before the first character is
 * read, and every step is linear in the length (sticky regexes, no `slice` per token, nesting bounded), so a
 * hostile expression costs at most a millisecond.
 *
 * Precedence, loosest first: `+ -`, then `* / %`, then unary `+ -`, then `^` / `**` (right-associative), so
 * `-2^2` is -4 and `2^3^2` is 512, as in mathematics.
 */

/** Longest expression accepted; anything longer is not arithmetic a model should be doing in one call. */
export const MAX_EXPRESSION_LENGTH = 1000;

/**
 * What went wrong: `too-long` (over MAX_EXPRESSION_LENGTH, refused before parsing), `syntax` (including a wrong
 * number of arguments and nesting that is too deep), `unknown-name`, `unknown-function`, or `evaluation`
 * (division by zero, a result that is not a finite number).
 */
export type ExpressionErrorKind = "too-long" | "syntax" | "unknown-name" | "unknown-function" | "evaluation";

/** A syntax or evaluation problem, with its kind and the 0-based character position where it was found. */
export class ExpressionError extends Error {
  readonly kind: ExpressionErrorKind;
  readonly position: number | undefined;

  constructor(message: string, position?: number, kind: ExpressionErrorKind = "syntax") {
    super(position === undefined ? message : `${message} at position ${position + 1}`);
    this.name = "ExpressionError";
    this.kind = kind;
    this.position = position;
  }
}

/** A parsed expression, ready to evaluate. */
export type ExpressionNode =
  | { readonly kind: "number"; readonly value: number }
  | { readonly kind: "unary"; readonly op: "+" | "-"; readonly operand: ExpressionNode }
  | {
      readonly kind: "binary";
      readonly op: BinaryOp;
      readonly left: ExpressionNode;
      readonly right: ExpressionNode;
    }
  | {
      readonly kind: "call";
      readonly name: string;
      readonly args: readonly ExpressionNode[];
      readonly at: number;
    };

type BinaryOp = "+" | "-" | "*" | "/" | "%" | "^";

interface Token {
  readonly kind: "number" | "name" | "op" | "end";
  readonly text: string;
  readonly at: number;
}

interface ExpressionFunction {
  readonly arity: readonly [number, number];
  readonly fn: (...args: number[]) => number;
}

const CONSTANTS: ReadonlyMap<string, number> = new Map<string, number>([
  ["pi", Math.PI],
  ["e", Math.E],
  ["tau", 2 * Math.PI],
]);

const unary = (fn: (x: number) => number): ExpressionFunction => ({ arity: [1, 1], fn });

// Arity as [min, max]; functions work in radians and follow calculator conventions (`log` is base 10).
const FUNCTIONS: ReadonlyMap<string, ExpressionFunction> = new Map<string, ExpressionFunction>([
  ["abs", unary(Math.abs)],
  ["sqrt", unary(Math.sqrt)],
  ["cbrt", unary(Math.cbrt)],
  ["exp", unary(Math.exp)],
  ["ln", unary(Math.log)],
  [
    "log",
    {
      arity: [1, 2],
      fn: (x, base) => (base === undefined ? Math.log10(x) : Math.log(x) / Math.log(base)),
    },
  ],
  ["log2", unary(Math.log2)],
  ["log10", unary(Math.log10)],
  ["sin", unary(Math.sin)],
  ["cos", unary(Math.cos)],
  ["tan", unary(Math.tan)],
  ["asin", unary(Math.asin)],
  ["acos", unary(Math.acos)],
  ["atan", unary(Math.atan)],
  ["floor", unary(Math.floor)],
  ["ceil", unary(Math.ceil)],
  ["round", unary(Math.round)],
  ["trunc", unary(Math.trunc)],
  ["pow", { arity: [2, 2], fn: Math.pow }],
  ["min", { arity: [1, 64], fn: Math.min }],
  ["max", { arity: [1, 64], fn: Math.max }],
]);

/** Function names the evaluator knows, for the tool's description. */
export const EXPRESSION_FUNCTIONS: readonly string[] = Object.freeze([...FUNCTIONS.keys()]);
/** Constant names the evaluator knows, for the tool's description. */
export const EXPRESSION_CONSTANTS: readonly string[] = Object.freeze([...CONSTANTS.keys()]);

// Models write typographic operators as often as ASCII ones; accept the usual ones.
const ALIASES: ReadonlyMap<string, string> = new Map<string, string>([
  ["×", "*"],
  ["·", "*"],
  ["÷", "/"],
  ["−", "-"],
]);
const OPERATORS = new Set(["+", "-", "*", "/", "%", "^", "(", ")", ","]);
// Sticky (`y`): each matches at `lastIndex` only, so the tokenizer never copies the rest of the text.
const NUMBER = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const SPACE = /\s+/y;
const MAX_DEPTH = 64;

function matchAt(pattern: RegExp, text: string, at: number): string | undefined {
  pattern.lastIndex = at;
  return pattern.exec(text)?.[0];
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    const space = matchAt(SPACE, text, at);
    if (space !== undefined) {
      at += space.length;
      continue;
    }
    const number = matchAt(NUMBER, text, at);
    if (number !== undefined) {
      tokens.push({ kind: "number", text: number, at });
      at += number.length;
      continue;
    }
    const name = matchAt(NAME, text, at);
    if (name !== undefined) {
      tokens.push({ kind: "name", text: name.toLowerCase(), at });
      at += name.length;
      continue;
    }
    if (text.startsWith("**", at)) {
      tokens.push({ kind: "op", text: "^", at });
      at += 2;
      continue;
    }
    const char = String.fromCodePoint(text.codePointAt(at) ?? 0);
    const op = ALIASES.get(char) ?? char;
    if (OPERATORS.has(op)) {
      tokens.push({ kind: "op", text: op, at });
      at += char.length;
      continue;
    }
    throw new ExpressionError(`unexpected character ${JSON.stringify(char)}`, at);
  }
  tokens.push({ kind: "end", text: "", at });
  return tokens;
}

class Parser {
  #index = 0;
  #depth = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  parse(): ExpressionNode {
    const node = this.#sum();
    const next = this.#peek();
    if (next.kind !== "end") throw new ExpressionError(`unexpected ${JSON.stringify(next.text)}`, next.at);
    return node;
  }

  #peek(): Token {
    // The tokenizer always ends with an `end` token, so the last one stands in for anything past it.
    return this.tokens[this.#index] ?? (this.tokens[this.tokens.length - 1] as Token);
  }

  #take(): Token {
    const token = this.#peek();
    if (token.kind !== "end") this.#index++;
    return token;
  }

  #isOp(...ops: string[]): boolean {
    const token = this.#peek();
    return token.kind === "op" && ops.includes(token.text);
  }

  #expect(op: string): void {
    const token = this.#take();
    if (token.kind !== "op" || token.text !== op) {
      const found = token.kind === "end" ? "the end of the expression" : JSON.stringify(token.text);
      throw new ExpressionError(`expected ${JSON.stringify(op)} but found ${found}`, token.at);
    }
  }

  #nested<T>(at: number, parse: () => T): T {
    if (++this.#depth > MAX_DEPTH) throw new ExpressionError(`nested more than ${MAX_DEPTH} levels deep`, at);
    try {
      return parse();
    } finally {
      this.#depth--;
    }
  }

  #sum(): ExpressionNode {
    let node = this.#product();
    while (this.#isOp("+", "-")) {
      const op = this.#take().text as "+" | "-";
      node = { kind: "binary", op, left: node, right: this.#product() };
    }
    return node;
  }

  #product(): ExpressionNode {
    let node = this.#unary();
    while (this.#isOp("*", "/", "%")) {
      const op = this.#take().text as "*" | "/" | "%";
      node = { kind: "binary", op, left: node, right: this.#unary() };
    }
    return node;
  }

  #unary(): ExpressionNode {
    if (this.#isOp("+", "-")) {
      const token = this.#take();
      return this.#nested(token.at, () => ({
        kind: "unary",
        op: token.text as "+" | "-",
        operand: this.#unary(),
      }));
    }
    return this.#power();
  }

  #power(): ExpressionNode {
    const base = this.#primary();
    if (!this.#isOp("^")) return base;
    const token = this.#take();
    // The exponent may carry its own sign (`2^-1`), and `^` groups to the right (`2^3^2` = 2^9).
    return this.#nested(token.at, () => ({ kind: "binary", op: "^", left: base, right: this.#unary() }));
  }

  #primary(): ExpressionNode {
    const token = this.#take();
    if (token.kind === "number") return { kind: "number", value: Number(token.text) };
    if (token.kind === "op" && token.text === "(") {
      const inner = this.#nested(token.at, () => this.#sum());
      this.#expect(")");
      return inner;
    }
    if (token.kind === "name") {
      if (this.#isOp("(")) return this.#call(token);
      const constant = CONSTANTS.get(token.text);
      if (constant !== undefined) return { kind: "number", value: constant };
      const hint = FUNCTIONS.has(token.text)
        ? ` (${token.text} is a function: write ${token.text}(x))`
        : ` (the constants are ${EXPRESSION_CONSTANTS.join(", ")})`;
      throw new ExpressionError(
        `unknown name ${JSON.stringify(token.text)}${hint}`,
        token.at,
        "unknown-name",
      );
    }
    if (token.kind === "end") throw new ExpressionError("the expression ends too early", token.at);
    throw new ExpressionError(`unexpected ${JSON.stringify(token.text)}`, token.at);
  }

  #call(name: Token): ExpressionNode {
    const fn = FUNCTIONS.get(name.text);
    if (fn === undefined) {
      throw new ExpressionError(
        `unknown function ${JSON.stringify(name.text)} (the functions are ${EXPRESSION_FUNCTIONS.join(", ")})`,
        name.at,
        "unknown-function",
      );
    }
    this.#expect("(");
    const args: ExpressionNode[] = [];
    this.#nested(name.at, () => {
      if (this.#isOp(")")) return;
      args.push(this.#sum());
      while (this.#isOp(",")) {
        this.#take();
        args.push(this.#sum());
      }
    });
    this.#expect(")");
    const [least, most] = fn.arity;
    if (args.length < least || args.length > most) {
      const wanted = least === most ? `${least}` : `${least} to ${most}`;
      throw new ExpressionError(`${name.text}() takes ${wanted} argument(s), got ${args.length}`, name.at);
    }
    return { kind: "call", name: name.text, args, at: name.at };
  }
}

/**
 * Parses an expression; throws an ExpressionError naming the position of the first problem. An expression
 * longer than MAX_EXPRESSION_LENGTH is refused (`too-long`) before any of it is read.
 *
 * @example
 * parseExpression("2 * (3 + 4"); // throws: expected ")" but found the end of the expression at position 11
 */
export function parseExpression(text: string): ExpressionNode {
  if (text.length > MAX_EXPRESSION_LENGTH) {
    throw new ExpressionError(
      `the expression is ${text.length} characters long, longer than ${MAX_EXPRESSION_LENGTH}`,
      undefined,
      "too-long",
    );
  }
  if (text.trim() === "") throw new ExpressionError("the expression is empty");
  return new Parser(tokenize(text)).parse();
}

function evaluateNode(node: ExpressionNode): number {
  switch (node.kind) {
    case "number":
      return node.value;
    case "unary":
      return node.op === "-" ? -evaluateNode(node.operand) : evaluateNode(node.operand);
    case "call": {
      const fn = FUNCTIONS.get(node.name);
      if (fn === undefined) {
        throw new ExpressionError(
          `unknown function ${JSON.stringify(node.name)}`,
          node.at,
          "unknown-function",
        );
      }
      return fn.fn(...node.args.map(evaluateNode));
    }
    case "binary": {
      const left = evaluateNode(node.left);
      const right = evaluateNode(node.right);
      switch (node.op) {
        case "+":
          return left + right;
        case "-":
          return left - right;
        case "*":
          return left * right;
        case "/":
          if (right === 0) throw new ExpressionError("division by zero", undefined, "evaluation");
          return left / right;
        case "%":
          if (right === 0) throw new ExpressionError("modulo by zero", undefined, "evaluation");
          return left % right;
        case "^":
          return left ** right;
      }
    }
  }
}

/**
 * Parses and evaluates an arithmetic expression. Throws an ExpressionError for a syntax error, a division by
 * zero, or a result that is not a finite number (JSON, and so the model, cannot carry NaN or Infinity).
 *
 * @example
 * evaluateExpression("2 * (3 + 4)"); // 14
 * evaluateExpression("sqrt(16) + 2^-1"); // 4.5
 */
export function evaluateExpression(text: string): number {
  const value = evaluateNode(parseExpression(text));
  if (!Number.isFinite(value)) {
    throw new ExpressionError(
      `the result is not a finite number (${value}); check the domain of the functions used`,
      undefined,
      "evaluation",
    );
  }
  // -0 prints as 0 in JSON anyway; normalising keeps `Object.is` comparisons in tests and callers simple.
  return value === 0 ? 0 : value;
}
