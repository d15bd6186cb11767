/**
 * The dependency rules of docs/ARCHITECTURE.md, checked by reading every import in src/. A rule broken here is
 * a design regression, not a style nit: the runtime must stay testable without models, and importing the
 * package root must not load llama.cpp or LangChain.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../../src");

interface ImportSite {
  readonly file: string;
  readonly specifier: string;
  readonly typeOnly: boolean;
  readonly dynamic: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

const STATIC = /^\s*(import|export)\s+(type\s+)?[^;]*?\sfrom\s+["']([^"']+)["']/gms;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

const sites: ImportSite[] = sourceFiles(root).flatMap((path) => {
  const text = readFileSync(path, "utf8");
  const file = relative(root, path);
  const found: ImportSite[] = [];
  for (const m of text.matchAll(STATIC)) {
    found.push({ file, specifier: m[3] ?? "", typeOnly: m[2] !== undefined, dynamic: false });
  }
  for (const m of text.matchAll(DYNAMIC))
    found.push({ file, specifier: m[1] ?? "", typeOnly: false, dynamic: true });
  return found;
});

/** The top-level area of src/ an import resolves to (`runtime`, `types`, …), or the package name. */
function target(site: ImportSite): string {
  if (!site.specifier.startsWith(".")) return site.specifier;
  const resolved = relative(root, resolve(root, dirname(site.file), site.specifier));
  return resolved.split("/")[0]?.replace(/\.js$/, "") ?? resolved;
}

const area = (site: ImportSite) =>
  site.file.includes("/") ? (site.file.split("/")[0] ?? "") : site.file.replace(/\.ts$/, "");

function violations(predicate: (site: ImportSite) => boolean): string[] {
  return sites.filter(predicate).map((s) => `${s.file} imports ${s.specifier}`);
}

describe("architecture", () => {
  it("finds the imports it checks", () => {
    expect(sites.length).toBeGreaterThan(100);
  });

  it("only workers/ imports node-llama-cpp", () => {
    expect(violations((s) => s.specifier.startsWith("node-llama-cpp") && area(s) !== "workers")).toEqual([]);
  });

  it("only fleet/ imports the NATS clients", () => {
    expect(violations((s) => s.specifier.startsWith("@nats-io/") && area(s) !== "fleet")).toEqual([]);
  });

  it("runtime/ talks to planner and workers only through the ports in types.ts", () => {
    const allowed = new Set(["runtime", "types", "errors", "tools", "references", "schema", "xstate", "zod"]);
    expect(
      violations((s) => area(s) === "runtime" && !s.specifier.startsWith("node:") && !allowed.has(target(s))),
    ).toEqual([]);
  });

  it("only planner/, workers/ChatNodeLlamaCpp and testing/ import LangChain chat-model code at runtime", () => {
    const chatModel = (s: ImportSite) =>
      !s.typeOnly &&
      (s.specifier.startsWith("langchain") ||
        /^@langchain\/(core\/(language_models|messages|outputs)|openai|community\/chat_models)/.test(
          s.specifier,
        ));
    const allowed = (s: ImportSite) =>
      area(s) === "planner" ||
      area(s) === "testing" ||
      s.file.startsWith("workers/ChatNodeLlamaCpp") ||
      s.file.startsWith("workers/chatHistory");
    expect(violations((s) => chatModel(s) && !allowed(s))).toEqual([]);
  });

  it("config/ never reaches models, the planner, workers or the runtime", () => {
    const forbidden = new Set(["planner", "workers", "runtime", "cli", "crew", "node-llama-cpp"]);
    expect(
      violations(
        (s) => area(s) === "config" && (forbidden.has(target(s)) || s.specifier.startsWith("@langchain")),
      ),
    ).toEqual([]);
  });

  it("the package root loads node-llama-cpp, LangChain, NATS, planner/, workers/ and fleet/ only lazily", () => {
    // Follow static (non-type) imports from index.ts; none may reach the heavy modules.
    const staticEdges = new Map<string, string[]>();
    for (const s of sites) {
      if (s.typeOnly || s.dynamic) continue;
      const list = staticEdges.get(s.file) ?? [];
      list.push(
        s.specifier.startsWith(".")
          ? relative(root, resolve(root, dirname(s.file), s.specifier)).replace(/\.js$/, ".ts")
          : s.specifier,
      );
      staticEdges.set(s.file, list);
    }
    const seen = new Set<string>();
    const queue = ["index.ts"];
    while (queue.length > 0) {
      const file = queue.shift() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const next of staticEdges.get(file) ?? []) if (next.endsWith(".ts")) queue.push(next);
    }
    const reached = [...seen].flatMap((file) => (staticEdges.get(file) ?? []).map((dep) => ({ file, dep })));
    const heavy = reached.filter(
      ({ dep }) =>
        dep.startsWith("node-llama-cpp") ||
        dep.startsWith("@langchain/") ||
        dep.startsWith("langchain") ||
        dep.startsWith("workers/") ||
        dep.startsWith("planner/") ||
        dep.startsWith("fleet/") ||
        dep.startsWith("@nats-io/"),
    );
    expect(heavy.map(({ file, dep }) => `${file} → ${dep}`)).toEqual([]);
  });
});
