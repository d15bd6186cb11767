// The beginning of a tool result as shown to a model whose context cannot hold all of it: still JSON, in
// document order, each cut said where it happens, and never longer than asked for (give or take a note).
import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../../src/types.js";
import { prefixOfValue } from "../../../src/workers/contextRoom.js";

const length = (value: JsonValue) => JSON.stringify(value).length;

describe("prefixOfValue", () => {
  it("keeps a value that fits whole", () => {
    const value = { a: [1, 2, { b: "c" }], d: null, e: true };
    expect(prefixOfValue(value, length(value))).toEqual({ value, used: length(value), whole: true });
  });

  it("cuts a string between characters, escapes counted, and marks the cut", () => {
    const cut = prefixOfValue("abcdefghij", 8);
    expect(cut).toMatchObject({ value: "abcde…", whole: false });
    expect(prefixOfValue('"""""', 8).value).toBe('""…'); // each quote costs 2 once escaped
    expect(prefixOfValue("😀😀😀", 6).value).toBe("😀…"); // never half of a surrogate pair
  });

  it("keeps an array's first items and says how many more there were", () => {
    const value = Array.from({ length: 100 }, (_, i) => i * 1000);
    const cut = prefixOfValue(value, 80);
    expect(Array.isArray(cut.value)).toBe(true);
    const items = cut.value as JsonValue[];
    expect(items.at(-1)).toBe(`… ${101 - items.length} more items`);
    expect(items.slice(0, -1)).toEqual(value.slice(0, items.length - 1));
    expect(length(cut.value)).toBeLessThanOrEqual(80);
  });

  it("keeps an object's first members, cutting the one that overflows, with a … member for the rest", () => {
    const value = { first: "short", text: "x".repeat(500), after: 1, last: 2 };
    const cut = prefixOfValue(value, 120);
    expect(cut.whole).toBe(false);
    const shown = cut.value as Record<string, JsonValue>;
    expect(Object.keys(shown)).toEqual(["first", "text", "…"]);
    expect(shown.first).toBe("short");
    expect(String(shown.text)).toMatch(/^x+…$/);
    expect(shown["…"]).toBe("… 2 more members");
    expect(length(cut.value)).toBeLessThanOrEqual(120);
  });

  it("shrinks monotonically with the budget and leaves an empty shell at zero", () => {
    const value = { items: Array.from({ length: 50 }, (_, i) => ({ id: i, name: `item ${i}` })) };
    let previous = Number.POSITIVE_INFINITY;
    for (const budget of [2000, 1000, 500, 200, 100, 50, 10, 0]) {
      const size = length(prefixOfValue(value, budget).value);
      expect(size).toBeLessThanOrEqual(previous);
      previous = size;
    }
    expect(prefixOfValue(value, 0).value).toEqual({ "…": "… 1 more member" });
  });
});
