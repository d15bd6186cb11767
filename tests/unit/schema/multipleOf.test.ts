// multipleOf compares decimals, as JSON writes them: ajv's own check divides doubles and refused 0.3 for
// multipleOf 0.1, so a correct answer would have been sent back for repair every time.
import { describe, expect, it } from "vitest";
import { compileSchema } from "../../../src/schema/compile.js";
import { isMultipleOf } from "../../../src/schema/multipleOf.js";

describe("multipleOf", () => {
  it("accepts decimal multiples that double division gets wrong, and refuses the rest", () => {
    for (const [value, divisor] of [
      [0.3, 0.1],
      [0.7, 0.1],
      [1.1, 0.1],
      [4.35, 0.05],
      [7e21, 7],
      [-12.5, 2.5],
      [0, 0.01],
    ] as const) {
      expect(isMultipleOf(value, divisor), `${value} / ${divisor}`).toBe(true);
    }
    for (const [value, divisor] of [
      [0.35, 0.1],
      [15, 7],
      [1e-7, 1e-6],
      [1, 0],
      [1, -1],
    ] as const) {
      expect(isMultipleOf(value, divisor), `${value} / ${divisor}`).toBe(false);
    }
  });

  it("is what the one validator checks, with ajv's message", () => {
    const money = compileSchema({ type: "number", multipleOf: 0.1 });
    expect(money.validate(0.3)).toEqual({ ok: true, value: 0.3 });
    expect(money.validate(0.35)).toEqual({ ok: false, errors: ["(root): must be multiple of 0.1"] });
    // Not a number: multipleOf says nothing.
    expect(compileSchema({ multipleOf: 3 }).validate("x").ok).toBe(true);
  });
});
