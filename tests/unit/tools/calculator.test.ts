import { describe, expect, it } from "vitest";
import { createCalculatorTool } from "../../../src/tools/builtins/calculator.js";
import { ExpressionError, evaluateExpression } from "../../../src/tools/builtins/expression.js";
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
