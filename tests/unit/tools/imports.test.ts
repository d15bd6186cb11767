/**
 * The tools layer's dependency rules, checked by reading its imports: only types, errors, schema/, zod and node
 * built-ins; LangChain as types only (so importing edgecrew never loads it); never node-llama-cpp.
 */
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const toolsDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../../src/tools");
const srcDir = resolve(toolsDir, "..");

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : Promise.resolve([join(dir, entry.name)]),
    ),
  );
  return nested.flat().filter((file) => file.endsWith(".ts"));
}

interface ImportLine {
  readonly file: string;
  readonly specifier: string;
  readonly typeOnly: boolean;
}

async function imports(): Promise<ImportLine[]> {
  const found: ImportLine[] = [];
  for (const file of await sourceFiles(toolsDir)) {
    const text = await readFile(file, "utf8");
    for (const match of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+"([^"]+)";/gms)) {
      found.push({
        file: relative(srcDir, file),
        specifier: match[3] ?? "",
        typeOnly: match[2] !== undefined,
      });
    }
    for (const match of text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) {
      // `typeof import("x")` in a type position is fine; anything else would be a runtime load.
      const before = text.slice(Math.max(0, (match.index ?? 0) - 7), match.index);
      found.push({
        file: relative(srcDir, file),
        specifier: match[1] ?? "",
        typeOnly: before.endsWith("typeof "),
      });
    }
  }
  return found;
}

describe("tools layer imports", () => {
  it("imports only what the architecture allows", async () => {
    const lines = await imports();
    expect(lines.length).toBeGreaterThan(20);
    const allowedSrc = ["types.ts", "errors.ts", "suggest.ts"];
    for (const line of lines) {
      const { file, specifier } = line;
      if (specifier.startsWith(".")) {
        const target = relative(srcDir, resolve(srcDir, dirname(file), specifier)).replace(/\.js$/, ".ts");
        const ok = allowedSrc.includes(target) || target.startsWith("schema/") || target.startsWith("tools/");
        expect(ok, `${file} imports ${specifier}`).toBe(true);
      } else if (specifier.startsWith("@modelcontextprotocol/sdk/")) {
        // The MCP client lives in tools/mcp/ only.
        expect(file.startsWith("tools/mcp/"), `${file} imports ${specifier}`).toBe(true);
      } else if (specifier.startsWith("@langchain/")) {
        expect(line.typeOnly, `${file} loads ${specifier} at run time`).toBe(true);
      } else {
        expect(specifier === "zod" || specifier.startsWith("node:"), `${file} imports ${specifier}`).toBe(
          true,
        );
      }
    }
  });
});
