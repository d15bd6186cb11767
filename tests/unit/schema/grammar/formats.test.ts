import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { Llama } from "node-llama-cpp";
import { beforeAll, describe, expect, it } from "vitest";
import { formatExpr, GRAMMAR_FORMATS } from "../../../../src/schema/grammar/formats.js";
import { type GExpr, GrammarBuilder } from "../../../../src/schema/grammar/ir.js";
import { gbnfAccepts, gbnfParses, llamaBackend } from "./llamaGrammar.js";
import { seededRandom } from "./seeded.js";

const ajv = new Ajv2020({ strict: false });
// ajv-formats' CommonJS default export, typed as a module under NodeNext (as in src/schema/compile.ts).
(addFormats as unknown as (instance: Ajv2020, options: { mode: "full" }) => void)(ajv, { mode: "full" });
/** ajv-formats does not check the IDN and IRI formats; their grammars are the ASCII ones, so check those. */
const CHECKED_AS: Record<string, string> = {
  "idn-email": "email",
  "idn-hostname": "hostname",
  iri: "uri",
  "iri-reference": "uri-reference",
};
const validators = new Map<string, (text: string) => boolean>();
function ajvAccepts(format: string, text: string): boolean {
  const checked = CHECKED_AS[format] ?? format;
  let validate = validators.get(checked);
  if (validate === undefined) {
    const compiled = ajv.compile({ type: "string", format: checked });
    validate = (value: string) => compiled(value) === true;
    validators.set(checked, validate);
  }
  return validate(text);
}

function build(format: string): { builder: GrammarBuilder; expr: GExpr } {
  const builder = new GrammarBuilder();
  const expr = formatExpr(format, builder);
  if (expr === undefined) throw new Error(`no grammar for ${format}`);
  return { builder, expr };
}

/** Real values each grammar must admit, and values ajv refuses that it must not. */
const REAL: Record<string, { admitted: string[]; rejected?: string[] }> = {
  date: {
    admitted: ["2024-02-29", "2000-02-29", "2023-12-31", "1999-04-30", "0001-01-01"],
    rejected: [
      "2023-02-29",
      "1900-02-29",
      "2023-13-01",
      "2023-04-31",
      "2023-00-10",
      "2023-1-01",
      "2023-01-00",
    ],
  },
  time: {
    admitted: ["23:59:59Z", "00:00:00Z", "12:30:00.5+02:00", "08:15:30-05:00", "23:59:60Z"],
    rejected: ["24:00:00Z", "12:60:00Z", "12:00:60Z", "12:00:00", "12:00:00+24:00"],
  },
  "date-time": {
    admitted: ["2023-12-31T23:59:59Z", "2023-12-31T23:59:59.123+02:00", "2024-02-29T00:00:00-08:00"],
    rejected: ["2023-02-29T10:00:00Z", "2023-12-31T24:00:00Z", "2023-12-31T23:59:59"],
  },
  duration: {
    admitted: ["P3Y6M4DT12H30M5S", "PT1H", "P1D", "P2W", "PT36H", "P1M", "PT0S"],
    rejected: ["P", "PT", "P1H", "1D", "P1DT"],
  },
  byte: {
    admitted: ["aGVsbG8gd29ybGQ=", "AAECAwQ=", "YQ==", "", "TWFu", "+/+/"],
    rejected: ["aGVsbG8", "a===", "YQ=", "ab cd", "YQ==YQ=="],
  },
  uuid: {
    admitted: ["550e8400-e29b-41d4-a716-446655440000", "123E4567-E89B-12D3-A456-426614174000"],
    rejected: ["550e8400e29b41d4a716446655440000", "550e8400-e29b-41d4-a716-44665544000g"],
  },
  email: {
    admitted: ["a.b@example.com", "john.doe+tag@mail.example.co.uk", "x_y@sub-domain.org"],
    rejected: ["user@localhost", ".a@example.com", "a..b@example.com", "a@-x.com", "no-at.example.com"],
  },
  hostname: {
    admitted: ["example.com", "localhost", "a.b.c.d.example.com", "ip-10-0-0-1.eu-west-1.compute.internal"],
    rejected: ["-example.com", "example-.com", "exa_mple.com", "a..b"],
  },
  ipv4: {
    admitted: ["192.168.0.1", "0.0.0.0", "255.255.255.255", "10.0.0.254"],
    rejected: ["256.1.1.1", "1.2.3"],
  },
  ipv6: {
    admitted: [
      "::1",
      "::",
      "2001:db8::ff00:42:8329",
      "fe80::1ff:fe23:4567:890a",
      "::ffff:192.168.0.1",
      "1:2:3:4:5:6:7:8",
    ],
    rejected: ["1:2:3:4:5:6:7:8:9", "12345::", "1::2::3", ":1"],
  },
  uri: {
    admitted: [
      "https://example.com/a/b?x=1#frag",
      "http://localhost:8080/",
      "mailto:a@example.com",
      "urn:isbn:0451450523",
      "https://example.com/%20x",
      "http://192.168.0.1/index.html",
      "http://[::1]:80/",
      "file:///etc/hosts",
    ],
    rejected: ["example.com", "/relative/path", "http://exa mple.com/"],
  },
  "uri-reference": {
    admitted: [
      "/relative/path?q=1",
      "https://example.com/a/b?x=1#frag",
      "",
      "#frag",
      "a/b",
      "../up",
      "//cdn.example.com/x.js",
    ],
    rejected: ["a b", "http://x.com/\\"],
  },
  "json-pointer": { admitted: ["", "/a/b", "/a~1b/~0c", "/0", "/"], rejected: ["a/b", "/a~2"] },
  "relative-json-pointer": { admitted: ["0", "1/a/b", "2#", "0/"], rejected: ["01/a", "/a", "-1"] },
  "uri-template": {
    admitted: [
      "https://api.example.com/users/{id}",
      "/search{?q,lang}",
      "{+path}/here{#frag}",
      "/x/{var:3}/{list*}",
      "",
    ],
    rejected: ["{unclosed", "a b", "{a b}"],
  },
};
for (const [from, to] of Object.entries(CHECKED_AS)) REAL[from] = REAL[to] ?? { admitted: [] };

let llama: Llama;
beforeAll(async () => {
  llama = await llamaBackend();
});

describe("formatExpr", () => {
  it("writes every format it lists, and nothing else", () => {
    const builder = new GrammarBuilder();
    for (const format of GRAMMAR_FORMATS) expect(formatExpr(format, builder), format).toBeDefined();
    expect(formatExpr("regex", builder)).toBeUndefined();
    expect(formatExpr("no-such-format", builder)).toBeUndefined();
    expect([...GRAMMAR_FORMATS].sort()).toEqual(Object.keys(REAL).sort());
  });

  it.each([...GRAMMAR_FORMATS])("%s: 300 random texts all pass ajv-formats (full)", (format) => {
    const { builder, expr } = build(format);
    const random = seededRandom([...format].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7));
    for (let i = 0; i < 300; i++) {
      const text = builder.sample(expr, random);
      if (!ajvAccepts(format, text))
        expect.fail(`${format} admits ${JSON.stringify(text)}, which ajv refuses`);
    }
  });

  it.each([...GRAMMAR_FORMATS])("%s: admits real values, refuses what ajv refuses", (format) => {
    const { builder, expr } = build(format);
    const { admitted, rejected = [] } = REAL[format] ?? { admitted: [] };
    for (const text of admitted) {
      expect(ajvAccepts(format, text), `ajv accepts ${JSON.stringify(text)}`).toBe(true);
      expect(builder.matches(expr, text), `grammar admits ${JSON.stringify(text)}`).toBe(true);
    }
    for (const text of rejected) {
      expect(ajvAccepts(format, text), `ajv refuses ${JSON.stringify(text)}`).toBe(false);
      expect(builder.matches(expr, text), `grammar refuses ${JSON.stringify(text)}`).toBe(false);
    }
  });

  it.each([...GRAMMAR_FORMATS])("%s: llama.cpp parses the GBNF and agrees on the real values", (format) => {
    const { builder, expr } = build(format);
    const gbnf = builder.toGbnf(expr);
    expect(gbnfParses(llama, gbnf), gbnf).toBe(true);
    const { admitted, rejected = [] } = REAL[format] ?? { admitted: [] };
    for (const text of admitted.slice(0, 4)) expect(gbnfAccepts(llama, gbnf, text), text).toBe(true);
    for (const text of rejected.slice(0, 2)) expect(gbnfAccepts(llama, gbnf, text), text).toBe(false);
  });

  it("date agrees with ajv on every month and day of telling years, and on February 29 of every year", () => {
    const { builder, expr } = build("date");
    const pad = (n: number, width: number) => String(n).padStart(width, "0");
    for (const year of [0, 4, 100, 400, 1600, 1900, 1996, 2000, 2023, 2024, 2100, 2400, 9996, 9999]) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) {
          const text = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
          expect(builder.matches(expr, text), text).toBe(ajvAccepts("date", text));
        }
      }
    }
    for (let year = 0; year <= 9999; year++) {
      const text = `${pad(year, 4)}-02-29`;
      expect(builder.matches(expr, text), text).toBe(ajvAccepts("date", text));
    }
  });

  it("ipv6 admits compressed and IPv4-tailed addresses", () => {
    const { builder, expr } = build("ipv6");
    const random = seededRandom(6);
    let checked = 0;
    for (let n = 0; n < 300; n++) {
      const ipv4Tail = random() < 0.3;
      const count = ipv4Tail ? 6 : 8;
      const groups = Array.from({ length: count }, () =>
        random() < 0.4 ? "0" : Math.floor(random() * 0x10000).toString(16),
      );
      // Compress one run of groups (possibly empty) to "::".
      const from = Math.floor(random() * (count + 1));
      const to = from + Math.floor(random() * (count - from + 1));
      const head = groups.slice(0, from).join(":");
      const tail = groups.slice(to).join(":");
      let text = to > from ? `${head}::${tail}` : groups.join(":");
      if (ipv4Tail)
        text += `${text.endsWith(":") ? "" : ":"}${[1, 2, 3, 4].map(() => Math.floor(random() * 256)).join(".")}`;
      if (!ajvAccepts("ipv6", text)) continue;
      checked++;
      expect(builder.matches(expr, text), text).toBe(true);
    }
    expect(checked).toBeGreaterThan(250);
  });

  it("keeps every format's longest text moderate", () => {
    const lengths: Record<string, number> = {};
    for (const format of GRAMMAR_FORMATS) {
      const { builder, expr } = build(format);
      lengths[format] = builder.maxLength(expr);
    }
    console.log(`format maxLength: ${JSON.stringify(lengths)}`);
    for (const [format, length] of Object.entries(lengths)) expect(length, format).toBeLessThanOrEqual(300);
    expect(lengths.date).toBe(10);
    expect(lengths.uuid).toBe(36);
    expect(lengths.ipv4).toBe(15);
    expect(lengths.ipv6).toBe(45);
  });

  it("shares parts between formats in one builder", () => {
    const builder = new GrammarBuilder();
    formatExpr("date", builder);
    formatExpr("date-time", builder);
    formatExpr("ipv6", builder);
    formatExpr("uri", builder);
    const names = [...builder.rules.keys()];
    expect(names.filter((name) => name.startsWith("fmt-date")).sort()).toEqual(["fmt-date", "fmt-date-time"]);
    expect(names.filter((name) => name === "fmt-ipv4" || name.startsWith("fmt-ipv4-"))).toEqual(["fmt-ipv4"]);
  });
});
