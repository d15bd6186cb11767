/**
 * Issue 14, finding 6: what `npm pack` ships. Every e2e test uses the built dist/ (`npm test` and
 * `npm run test:e2e` build first); this one asks npm which files the tarball would hold (`--dry-run`, no
 * network, `--ignore-scripts` so it does not build again) and reads them from the working tree.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./cli.js";

const run = promisify(execFile);

let shipped: Set<string>;

beforeAll(async () => {
  expect(existsSync(join(repoRoot, "dist", "index.js")), "dist/ is missing: run npm run build").toBe(true);
  const { stdout } = await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: repoRoot,
    maxBuffer: 64 * 1024 * 1024,
  });
  const [pack] = JSON.parse(stdout) as [{ files: { path: string }[] }];
  shipped = new Set(pack.files.map((f) => f.path));
}, 60_000);

/** A path a shipped file names, relative to that file, as a package path (`dist/x.js`); undefined for URLs. */
function resolveFrom(file: string, reference: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(reference)) return undefined;
  return normalize(join(dirname(file), reference))
    .split("\\")
    .join("/");
}

describe("the npm package", () => {
  it("ships the entry points, the LICENSE and the docs the README links to", () => {
    expect(shipped.has("dist/index.js")).toBe(true);
    expect(shipped.has("dist/index.d.ts")).toBe(true);
    expect(shipped.has("dist/testing/index.js")).toBe(true);
    expect(shipped.has("LICENSE")).toBe(true);
    const docs = readdirSync(join(repoRoot, "docs")).filter((f) => f.endsWith(".md"));
    expect(docs).toContain("PLANNER.md");
    for (const doc of docs) expect(shipped.has(`docs/${doc}`), `docs/${doc}`).toBe(true);
    // Every relative link of the README resolves inside the package.
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const links = [...readme.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)].map((m) => m[1] as string);
    for (const link of links) {
      const target = resolveFrom("README.md", link);
      if (target === undefined) continue;
      const isFile = shipped.has(target);
      const isFolder = [...shipped].some((f) => f.startsWith(`${target.replace(/\/$/, "")}/`));
      expect(isFile || isFolder, `README links to ${link}, which the package does not ship`).toBe(true);
    }
  });

  it("says where it comes from, under the license its LICENSE file grants", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as Record<string, unknown>;
    expect(pkg.license).toBe("MIT");
    const license = readFileSync(join(repoRoot, "LICENSE"), "utf8");
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the edgecrew authors\n/);
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
    expect(pkg.repository).toEqual({ type: "git", url: "git+https://github.com/edgecrew/edgecrew.git" });
    expect(pkg.homepage).toBe("https://github.com/edgecrew/edgecrew#readme");
    expect(pkg.bugs).toEqual({ url: "https://github.com/edgecrew/edgecrew/issues" });
  });

  it("shares LangChain and zod with its consumer as peers; @langchain/community is an optional one", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    for (const shared of ["@langchain/core", "zod", "@langchain/community"]) {
      expect(pkg.dependencies[shared], shared).toBeUndefined();
      expect(pkg.peerDependencies[shared], shared).toBeDefined();
    }
    // YAML `- langchain:` tools may come from it; nothing else uses it, so it is never installed for you.
    expect(pkg.peerDependenciesMeta["@langchain/community"]).toEqual({ optional: true });
    expect(pkg.peerDependenciesMeta["@langchain/core"]).toBeUndefined();
  });

  it("ships only what the current sources build to (dist/ keeps the output of deleted sources until cleaned)", () => {
    const stale = [...shipped].filter((file) => {
      const match = /^dist\/(.+)\.(?:js|d\.ts)$/.exec(file);
      return match !== null && !existsSync(join(repoRoot, "src", `${match[1]}.ts`));
    });
    expect(stale, "stale build output: delete dist/ and build again").toEqual([]);
  });

  it("ships no source map or map reference that points at a file it does not ship", () => {
    const problems: string[] = [];
    for (const file of shipped) {
      if (!/\.(js|d\.ts|map)$/.test(file)) continue;
      const text = readFileSync(join(repoRoot, file), "utf8");
      if (file.endsWith(".map")) {
        const map = JSON.parse(text) as { sources?: string[]; sourcesContent?: (string | null)[] };
        (map.sources ?? []).forEach((source, i) => {
          const target = resolveFrom(file, source);
          const inlined = typeof map.sourcesContent?.[i] === "string";
          if (target !== undefined && !shipped.has(target) && !inlined)
            problems.push(`${file}: source ${source} is not shipped`);
        });
        continue;
      }
      for (const match of text.matchAll(/^\/\/# sourceMappingURL=(\S+)$/gm)) {
        const target = resolveFrom(file, match[1] as string);
        if (target !== undefined && !shipped.has(target))
          problems.push(`${file}: map ${match[1]} is not shipped`);
      }
    }
    expect(problems.slice(0, 10)).toEqual([]);
  });
});
