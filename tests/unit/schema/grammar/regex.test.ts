import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Llama } from "node-llama-cpp";
import { beforeAll, describe, expect, it } from "vitest";
import { GrammarBuilder } from "../../../../src/schema/grammar/ir.js";
import { finiteMatches, regexToExpr } from "../../../../src/schema/grammar/regex.js";
import { gbnfAccepts, gbnfParses, llamaBackend } from "./llamaGrammar.js";
import { seededRandom } from "./seeded.js";

const MAX_REPEAT = 24;
const CORPUS = fileURLToPath(new URL("../../../fixtures/jsonschemabench/patterns.json", import.meta.url));

function compile(pattern: string, maxRepeat = MAX_REPEAT) {
  const builder = new GrammarBuilder();
  return { builder, result: regexToExpr(pattern, builder, { maxRepeat }) };
}

let llama: Llama;
beforeAll(async () => {
  llama = await llamaBackend();
});

describe("regexToExpr: patterns", () => {
  // [pattern, admitted, not admitted]. Every admitted string is also checked against the regex itself.
  const table: [string, string[], string[]][] = [
    ["^abc$", ["abc"], ["ab", "abcd", "xabc"]],
    ["abc", ["abc", "xxabcyy", "abcabc"], ["ab", "acb", ""]],
    ["^a", ["a", "abc"], ["ba", ""]],
    ["b$", ["b", "ab"], ["ba"]],
    ["^a|b$", ["a", "axx", "b", "xxb"], ["xa", "bx", ""]],
    ["(^a)", ["a", "ab"], ["ba"]],
    ["^(?:a|b)+$", ["a", "abba"], ["", "abc"]],
    ['^a"b\\\\c$', ['a"b\\c'], ["ab"]],
    ["^\\d{3}-\\d{2,4}$", ["123-45", "123-4567"], ["12-45", "123-45678", "abc-12"]],
    ["^[^/]+$", ["a b", "x\ny"], ["a/b", "", "😀"]],
    ["^.{2}$", ["ab", "é!"], ["a\nb", "\n\n", "a"]],
    ["^\\s\\S$", [" x", "\u3000y", "\nz", "\u2028a"], ["xx", "  "]],
    ["^\\w+\\W$", ["ab_9!", "a "], ["ab", "a_"]],
    ["^[\\d.-]+$", ["1.2-3"], ["a"]],
    ["^[a-\\d]+$", ["a-5"], ["b"]],
    ["^[\\b]$", ["\b"], ["b"]],
    ["^\\x41\\u0042\\t\\n\\0\\cJ$", ["AB\t\n\0\n"], ["AB"]],
    ["^\\1$", ["\u0001"], ["1"]],
    ["^\\18$", ["\u00018"], ["18"]],
    ["^(a)\\10$", ["a\b"], ["a", "a10"]],
    ["^\\08[\\8]$", ["\u000088"], ["088"]],
    ["^\\c1$", ["\\c1"], ["\u0011"]],
    ["^[\\c_]\\cj$", ["\u001f\n"], ["_j"]],
    ["^\\k\\p\\-$", ["kp-"], []],
    ["^a{2}b{1,}c{,3}$", ["aabc{,3}", "aabbbc{,3}"], ["abc{,3}", "aabc"]],
    ["^x{1,2$", ["x{1,2"], ["x"]],
    ["^a[]?]$", ["a]"], ["a", "a[]"]],
    ["^[]]$", [], ["]", ""]],
    ["^[^]$", ["\n", "a"], ["ab"]],
    ["^a??b*?$", ["", "a", "bb", "abb"], ["aa"]],
    ["^(?<year>\\d{4})-(\\d\\d)$", ["2024-01"], ["24-01"]],
    ["^(a|)$", ["", "a"], ["aa"]],
    ["^😀$", ["😀"], ["😀😀", ""]],
    ["^(?:😀)+$", ["😀", "😀😀"], [""]],
    ["^\\uD83D\\uDE00$", ["😀"], [""]],
    ["^[😀]$", [], ["😀"]],
    ["^(\\/?((\\.{2})|([a-z0-9\\-]*))($|\\/))*$", ["", "/a/b", "../x/", "a-b/c"], ["A", "a b"]],
    ["^$|^x+$", ["", "xx"], ["y"]],
    ["a^b", [], ["ab", "a^b"]],
    ["^(a*)*$", ["", "aaaa"], ["b"]],
    ["^\\w{1,1000}$", ["a", "a".repeat(MAX_REPEAT)], ["", "a".repeat(MAX_REPEAT + 1)]],
  ];
  it.each(table)("%s", (pattern, admitted, rejected) => {
    const regex = new RegExp(pattern);
    const { builder, result } = compile(pattern);
    if (admitted.length === 0 && !result.ok) return;
    if (!result.ok) throw new Error(result.reason);
    for (const text of admitted) {
      expect(regex.test(text), `regex admits ${JSON.stringify(text)}`).toBe(true);
      expect(builder.matches(result.expr, text), `grammar admits ${JSON.stringify(text)}`).toBe(true);
    }
    for (const text of rejected) expect(builder.matches(result.expr, text), JSON.stringify(text)).toBe(false);
    const gbnf = builder.toGbnf(result.expr);
    for (const text of admitted)
      expect(gbnfAccepts(llama, gbnf, text), `llama.cpp admits ${text}`).toBe(true);
    for (const text of rejected)
      expect(gbnfAccepts(llama, gbnf, text), `llama.cpp refuses ${text}`).toBe(false);
  });

  it("is exact only when nothing was bounded or dropped", () => {
    const exact = (p: string) => {
      const { result } = compile(p);
      return result.ok && result.exact;
    };
    expect(exact("^[a-z]{2,5}(-[A-Z]{2})?$")).toBe(true);
    expect(exact("^a+$")).toBe(false);
    expect(exact("^abc")).toBe(false);
    expect(exact("^.$")).toBe(false); // . drops astral characters
    expect(exact("^\\w{1,300}$")).toBe(false);
  });

  it.each([
    ["(?=a)", "lookahead"],
    ["(?<!a)b", "lookbehind"],
    ["(a)\\1", "backreference"],
    ["(?<n>a)\\k<n>", "backreference"],
    ["\\bword\\b", "word boundar"],
    ["[\\p{Zs}]", "\\p{"],
    ["\\u{1F600}", "\\u{"],
    ["(", "not a valid regular expression"],
    ["a{300,}", "too long"],
    ["^😀+$", "admits no string"], // without the u flag, + repeats the low surrogate alone
  ])("refuses %s", (pattern, reason) => {
    const { result } = compile(pattern);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toContain(reason);
  });

  it("reads \\s and \\S as JavaScript does, on every BMP code unit but surrogates", () => {
    const s = compile("^\\s$");
    const notS = compile("^\\S$");
    if (!s.result.ok || !notS.result.ok) throw new Error("compile");
    for (let code = 0; code <= 0xffff; code++) {
      if (code >= 0xd800 && code <= 0xdfff) continue;
      const char = String.fromCharCode(code);
      const space = /\s/.test(char);
      expect(s.builder.matches(s.result.expr, char)).toBe(space);
      expect(notS.builder.matches(notS.result.expr, char)).toBe(!space);
    }
  });

  it("bounds (x*)* like x* rather than maxRepeat² characters", () => {
    for (const pattern of ["^(a*)*$", "^(?:a+)*$", "^(a*)+$", "^((a+)+)+$"]) {
      const { builder, result } = compile(pattern, 10);
      if (!result.ok) throw new Error(result.reason);
      expect(builder.maxLength(result.expr), pattern).toBe(10);
      expect(builder.toGbnf(result.expr).length, pattern).toBeLessThan(200);
    }
    const { builder, result } = compile("^((a*)*b+)+$", 10);
    if (!result.ok) throw new Error(result.reason);
    expect(builder.maxLength(result.expr)).toBe(10 * (10 + 10));
  });
});

describe("regexToExpr: random patterns", () => {
  /** A random pattern over a, b, 1 and newline, with anchors and quantifiers anywhere. */
  function randomPattern(random: () => number, depth = 0): string {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const atom = (): string => {
      const roll = random();
      if (roll < 0.45 || depth > 2)
        return pick(["a", "b", "1", ".", "[ab]", "[^a]", "\\d", "\\D", "\\s", "[^]"]);
      if (roll < 0.6) return pick(["^", "$"]);
      return `(${pick(["", "?:"])}${randomPattern(random, depth + 1)})`;
    };
    const term = () => {
      const a = atom();
      if (a === "^" || a === "$" || random() < 0.6) return a;
      return a + pick(["?", "*", "+", "{2}", "{0,2}", "{1,}", "*?"]);
    };
    const branch = () => Array.from({ length: 1 + Math.floor(random() * 3) }, term).join("");
    return random() < 0.25 ? `${branch()}|${branch()}` : branch();
  }

  const alphabet = ["a", "b", "1", "\n"];
  const texts = [""];
  for (let length = 1, last = [""]; length <= 4; length++) {
    last = last.flatMap((prefix) => alphabet.map((c) => prefix + c));
    texts.push(...last);
  }

  it("admits exactly the regex's strings up to maxRepeat long (400 patterns, every text up to 4 characters)", () => {
    const random = seededRandom(7);
    let compiled = 0;
    for (let n = 0; n < 400; n++) {
      const pattern = randomPattern(random);
      const { builder, result } = compile(pattern, 4);
      if (!result.ok) {
        expect(result.reason, pattern).toMatch(/admits no string|anchor/);
        continue;
      }
      compiled++;
      const regex = new RegExp(pattern);
      for (const text of texts) {
        expect(builder.matches(result.expr, text), `${pattern} on ${JSON.stringify(text)}`).toBe(
          regex.test(text),
        );
      }
    }
    expect(compiled).toBeGreaterThan(300);
  });
});

interface Found {
  pattern: string;
  /** Valid instance values of a property whose schema has this pattern. */
  values: string[];
}

/**
 * Every `pattern` and `patternProperties` key of the JSONSchemaBench sample, with the string values its valid
 * instances give them (tests/fixtures/jsonschemabench: extracted from the sample, so this test does not need it).
 */
function corpusPatterns(): Map<string, Found> {
  const entries = JSON.parse(readFileSync(CORPUS, "utf8")) as Found[];
  return new Map(entries.map((entry) => [entry.pattern, entry]));
}

describe("regexToExpr: the JSONSchemaBench sample", () => {
  it("compiles most real patterns, soundly, into GBNF that llama.cpp accepts", () => {
    const patterns = [...corpusPatterns().values()].filter(({ pattern }) => {
      try {
        new RegExp(pattern);
        return true;
      } catch {
        return false;
      }
    });
    const random = seededRandom(20261129);
    const refused: string[] = [];
    let compiled = 0;
    let exact = 0;
    let samples = 0;
    let instancesChecked = 0;
    for (const { pattern, values } of patterns) {
      const { builder, result } = compile(pattern);
      if (!result.ok) {
        refused.push(`${pattern}: ${result.reason}`);
        continue;
      }
      compiled++;
      if (result.exact) exact++;
      const regex = new RegExp(pattern);
      for (let i = 0; i < 30; i++) {
        const text = builder.sample(result.expr, random);
        samples++;
        if (!regex.test(text))
          expect.fail(`${pattern} admits ${JSON.stringify(text)}, which the regex refuses`);
      }
      const gbnf = builder.toGbnf(result.expr);
      expect(gbnfParses(llama, gbnf), `${pattern}\n${gbnf}`).toBe(true);
      const text = builder.sample(result.expr, random);
      expect(gbnfAccepts(llama, gbnf, text), `llama.cpp: ${pattern} admits ${JSON.stringify(text)}`).toBe(
        true,
      );
      // Valid values up to maxRepeat long are admitted whenever nothing in them needs what the grammar drops
      // (astral characters under `.` or negated classes), exact or not: no bound can cut such a value.
      for (const value of values) {
        if (!regex.test(value) || [...value].length > MAX_REPEAT || /[\u{10000}-\u{10FFFF}]/u.test(value))
          continue;
        instancesChecked++;
        expect(builder.matches(result.expr, value), `${pattern} admits ${JSON.stringify(value)}`).toBe(true);
      }
    }
    const share = compiled / patterns.length;
    console.log(
      `corpus: ${patterns.length} distinct patterns, ${compiled} compiled (${(share * 100).toFixed(1)} %), ` +
        `${exact} exact, ${samples} samples sound, ${instancesChecked} instance values admitted; refused:\n  ` +
        refused.join("\n  "),
    );
    expect(share).toBeGreaterThanOrEqual(0.98);
    expect(instancesChecked).toBeGreaterThan(0);
  }, 120_000);
});

describe("finiteMatches", () => {
  it("lists every string of an anchored pattern with a small language", () => {
    expect(finiteMatches("^[a-d]$", 16)).toEqual(["a", "b", "c", "d"]);
    expect(finiteMatches("^(x|y)-[12]$", 16)).toEqual(["x-1", "x-2", "y-1", "y-2"]);
    expect(finiteMatches("^ab?$", 16)).toEqual(["a", "ab"]);
    expect(finiteMatches("^(a|a)$", 16)).toEqual(["a"]);
  });

  it("refuses an unanchored, open or large language", () => {
    expect(finiteMatches("[a-d]", 16)).toBeUndefined();
    expect(finiteMatches("^a+$", 16)).toBeUndefined();
    expect(finiteMatches("^[a-z]{2}$", 16)).toBeUndefined();
    expect(finiteMatches("^a$|^b$", 16)).toBeUndefined();
    expect(finiteMatches("^(", 16)).toBeUndefined();
  });
});
