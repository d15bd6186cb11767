import { describe, expect, it } from "vitest";
import { createCalculatorTool, MAX_EXPRESSION_LENGTH } from "../../../src/tools/builtins/calculator.js";
import {
  ExpressionError,
  evaluateExpression,
  parseExpression,
} from "../../../src/tools/builtins/expression.js";
import { ToolRegistry } from "../../../src/tools/ToolRegistry.js";
import { callContext, expectFailure, expectOk } from "./helpers.js";

const registry = () => new ToolRegistry().register(createCalculatorTool());

describe("calculator tool", () => {
  it("evaluates 2 * (3 + 4) to 14", async () => {
    const result = await registry().call("calculator", { expression: "2 * (3 + 4)" }, callContext().context);
    expect(expectOk(result)).toEqual({ result: 14 });
  });

  it.each([
    ["garbage", "invalid-input"],
    ["2 +", "invalid-input"],
    ["(1", "invalid-input"],
    ["2 (3)", "invalid-input"],
    ["process.exit(1)", "invalid-input"],
    ["constructor.constructor('return 1')()", "invalid-input"],
    ["1 / 0", "failed"],
    ["sqrt(-1)", "failed"],
    ["10 ^ 400", "failed"],
  ])("never throws: %j is %s", async (expression, reason) => {
    const error = expectFailure(
      await registry().call("calculator", { expression }, callContext().context),
      reason,
    );
    expect(error.length).toBeGreaterThan(0);
  });

  it("rejects a missing or non-string expression as invalid input", async () => {
    expectFailure(await registry().call("calculator", {}, callContext().context), "invalid-input");
    expectFailure(
      await registry().call("calculator", { expression: 42 }, callContext().context),
      "invalid-input",
    );
    expectFailure(
      await registry().call("calculator", { expression: "1+".repeat(600) }, callContext().context),
      "invalid-input",
    );
  });

  it("declares an idempotent tool with a one-field object input", () => {
    const { spec } = createCalculatorTool();
    expect(spec.idempotent).toBe(true);
    expect(spec.input).toMatchObject({ type: "object", required: ["expression"] });
  });
});

describe("evaluateExpression", () => {
  it.each([
    ["1 + 2 * 3", 7],
    ["(1 + 2) * 3", 9],
    ["10 - 4 - 3", 3],
    ["2 ^ 3 ^ 2", 512],
    ["2 ** 10", 1024],
    ["-2 ^ 2", -4],
    ["2 ^ -1", 0.5],
    ["--3", 3],
    ["10 % 3", 1],
    ["1e3 + 1.5E-1", 1000.15],
    [".5 + 0.25", 0.75],
    ["sqrt(16) + abs(-2)", 6],
    ["max(1, 7, 3) - min(4, 2)", 5],
    ["log(1000)", 3],
    ["log(8, 2)", 3],
    ["ln(e)", 1],
    ["round(pi * 100) / 100", 3.14],
    ["3 × 4 ÷ 2 − 1", 5],
    ["  7  ", 7],
    ["-0", 0],
  ])("%s = %d", (expression, expected) => {
    expect(evaluateExpression(expression)).toBeCloseTo(expected, 10);
  });

  it("names the position of a syntax error", () => {
    expect(() => evaluateExpression("2 * (3 + 4")).toThrow(
      /expected "\)" but found the end of the expression/,
    );
    expect(() => evaluateExpression("2 $ 3")).toThrow(/unexpected character "\$" at position 3/);
    expect(() => evaluateExpression("sqrt")).toThrow(/sqrt is a function/);
    expect(() => evaluateExpression("pow(2)")).toThrow(/takes 2 argument/);
  });

  it("bounds nesting so that a hostile expression cannot overflow the stack", () => {
    expect(() => evaluateExpression(`${"(".repeat(500)}1${")".repeat(500)}`)).toThrow(ExpressionError);
    expect(() => evaluateExpression(`${"-".repeat(500)}1`)).toThrow(/nested more than/);
  });
});

// Security issue 12, finding 9: names and functions were looked up through Object.prototype, and an over-long
// expression was parsed before its length was checked.
describe("calculator attacks (issue 12, finding 9)", () => {
  it.each(["constructor^0", "__proto__^0", "toString^0", "hasOwnProperty + 1", "CONSTRUCTOR^0", "valueOf"])(
    "%j is an unknown name, not a property of Object.prototype",
    async (expression) => {
      const error = expectFailure(
        await registry().call("calculator", { expression }, callContext().context),
        "invalid-input",
      );
      expect(error).toMatch(/unknown name "(constructor|__proto__|tostring|hasownproperty|valueof)"/);
      expect(() => evaluateExpression(expression)).toThrow(
        expect.objectContaining({ name: "ExpressionError", kind: "unknown-name" }),
      );
    },
  );

  it.each(["constructor(1)", "__proto__(1)", "toString(1)", "hasOwnProperty(1, 2)", "__defineGetter__(1)"])(
    "%j is an unknown function with a clear message, not a TypeError",
    async (expression) => {
      const error = expectFailure(
        await registry().call("calculator", { expression }, callContext().context),
        "invalid-input",
      );
      expect(error).toMatch(/unknown function "\w+" \(the functions are abs, sqrt, .*\) at position 1/);
      expect(error).not.toContain("iterable");
      expect(() => evaluateExpression(expression)).toThrow(
        expect.objectContaining({ name: "ExpressionError", kind: "unknown-function" }),
      );
    },
  );

  it("refuses a 10-million-character expression before parsing it, without blocking the event loop", async () => {
    // Ends in a syntax error, so a parse would add its own message to the refusal.
    const expression = "1+".repeat(5_000_000);
    const started = performance.now();
    const error = expectFailure(
      await registry().call("calculator", { expression }, callContext().context),
      "invalid-input",
    );
    const ms = performance.now() - started;
    expect(error).toContain(`${MAX_EXPRESSION_LENGTH}`);
    expect(error).not.toContain("ends too early");
    expect(ms).toBeLessThan(1_000);
  });

  it("parseExpression itself checks the length before reading a character", () => {
    const started = performance.now();
    // Every character is invalid: a tokenizer that ran first would report the first one.
    expect(() => parseExpression("$".repeat(2_000_000))).toThrow(
      expect.objectContaining({ kind: "too-long", message: expect.stringMatching(/2000000 characters/) }),
    );
    expect(() => evaluateExpression("1".repeat(MAX_EXPRESSION_LENGTH + 1))).toThrow(/longer than 1000/);
    expect(evaluateExpression(`1${"+0".repeat((MAX_EXPRESSION_LENGTH - 1) / 2)}`)).toBe(1);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it.each([
    ["nested parentheses", `${"(".repeat(499)}1${")".repeat(499)}`],
    ["a long sum", `1${"+1".repeat(499)}`],
    ["a long product of negations", `1${"*-1".repeat(333)}`],
    ["a tower of powers", `2${"^1".repeat(499)}`],
    ["nested calls", `${"abs(".repeat(199)}1${")".repeat(199)}`],
    ["a call with too many arguments", `max(1${",1".repeat(497)})`],
    ["one long name", `${"a".repeat(MAX_EXPRESSION_LENGTH)}`],
    ["one long number", `${"9".repeat(MAX_EXPRESSION_LENGTH)}`],
    ["whitespace", `${" ".repeat(MAX_EXPRESSION_LENGTH - 1)}1`],
  ])("settles %s at the length limit quickly, by value or by ExpressionError", (_label, expression) => {
    expect(expression.length).toBeLessThanOrEqual(MAX_EXPRESSION_LENGTH);
    const started = performance.now();
    for (let round = 0; round < 20; round++) {
      try {
        expect(Number.isFinite(evaluateExpression(expression))).toBe(true);
      } catch (error) {
        expect(error).toBeInstanceOf(ExpressionError);
      }
    }
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
