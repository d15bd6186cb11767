/**
 * edgecrew as a consumer gets it: the package is packed, installed into a fresh strict TypeScript project
 * (Node 20, `moduleResolution: nodenext`) next to the peer dependencies a consumer brings (`@langchain/core`,
 * `zod`), and the README's Library example — taken from README.md itself — must type-check and run. This is the
 * test that catches an unhealthy dependency tree (nested copies of a shared library, `overrides` that only
 * held inside this repo, peers out of range), types that break at the package boundary, and an example that
 * no longer matches the API.
 *
 * The consumer's tsconfig (tests/fixtures/consumer) is strict with `noUncheckedIndexedAccess` and checks every
 * declaration file (`skipLibCheck: false`), ours included; its `lib` has DOM because the MCP SDK's declarations
 * name fetch's `HeadersInit`, and it leaves `exactOptionalPropertyTypes` off, which xstate's and LangChain's own
 * declarations do not pass.
 *
 * The install prefers the npm cache that `npm ci` filled (the versions are the ones this repo pins) and asks
 * the registry only for what the cache lacks. `EDGECREW_CONSUMER_PEERS="@langchain/core@1.3.4 zod@4.2.0"` runs
 * the same test against other peer versions (the lowest of the ranges package.json declares, say).
 */
import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = resolve(import.meta.dirname, "../..");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

let dir: string;
let tarball: string;
/** What `npm install` printed in the consumer project. */
let installLog = "";

async function sh(command: string, args: readonly string[], cwd: string, timeout = 300_000) {
  try {
    return await run(command, args, {
      cwd,
      timeout,
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...process.env,
        npm_config_audit: "false",
        npm_config_fund: "false",
        npm_config_update_notifier: "false",
      },
    });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${command} ${args.join(" ")} failed in ${cwd}:\n${failed.message}\n${failed.stdout ?? ""}\n${failed.stderr ?? ""}`,
    );
  }
}

/** The version this repo pins for a package (the consumer brings the same peer versions). */
async function pinned(name: string): Promise<string> {
  const manifest = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
    devDependencies: Record<string, string>;
  };
  const version = manifest.devDependencies[name];
  if (version === undefined) throw new Error(`package.json pins no ${name} in devDependencies`);
  return version;
}

/** The first ```ts block of the README's `## Library` section. */
async function libraryExample(): Promise<string> {
  const readme = await readFile(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Library"));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (match?.[1] === undefined) throw new Error("README.md has no ```ts block under ## Library");
  return match[1];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "edgecrew-consumer-"));
  // dist/ is built by `npm test` (and `npm run test:e2e`) before the e2e tier runs.
  const packed = await sh(npm, ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], root);
  const [info] = JSON.parse(packed.stdout) as { filename: string }[];
  if (info === undefined) throw new Error(`npm pack printed no file: ${packed.stdout}`);
  tarball = join(dir, info.filename);
  const project = join(dir, "app");
  await cp(join(root, "tests/fixtures/consumer"), project, { recursive: true });
  const installed = await sh(
    npm,
    [
      "install",
      "--prefer-offline",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      tarball,
      ...(process.env.EDGECREW_CONSUMER_PEERS?.split(/\s+/).filter((spec) => spec !== "") ?? [
        `@langchain/core@${await pinned("@langchain/core")}`,
        `zod@${await pinned("zod")}`,
      ]),
      `typescript@${await pinned("typescript")}`,
      `@types/node@${await pinned("@types/node")}`,
    ],
    project,
    600_000,
  );
  installLog = `${installed.stdout}\n${installed.stderr}`;
}, 900_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("the packed package in a fresh consumer project", () => {
  it("installs into a clean tree: one copy of each shared library, no invalid or missing peer", async () => {
    const project = join(dir, "app");
    // `npm ls` exits non-zero on an invalid, missing or extraneous package anywhere in the tree.
    const tree = await sh(npm, ["ls", "--all", "--json"], project);
    const text = tree.stdout;
    expect(text).not.toMatch(/"invalid"|"missing"|"extraneous"|"problems"/);
    for (const shared of ["@langchain/core", "zod"]) {
      const copies = await sh(npm, ["ls", shared, "--all", "--parseable"], project);
      const paths = new Set(copies.stdout.split("\n").filter((line) => line.trim() !== ""));
      expect([...paths], `${shared} is installed once`).toEqual([join(project, "node_modules", shared)]);
    }
    // Every package supports the Node it runs on (20): no EBADENGINE warning for the consumer.
    expect(installLog).not.toContain("EBADENGINE");
    // Nothing the default path does not use (the LangChain community package and its browsers).
    const modules = await readdir(join(project, "node_modules"));
    expect(modules).not.toContain("playwright");
    const scoped = await readdir(join(project, "node_modules/@langchain"));
    expect(scoped).not.toContain("community");
  });

  it("type-checks and runs the README's Library example under strict nodenext TypeScript", async () => {
    const project = join(dir, "app");
    // The example loads the offline demo the package ships, by the README's relative path.
    await cp(join(project, "node_modules/edgecrew/agents"), join(project, "agents"), { recursive: true });
    await writeFile(join(project, "src/example.ts"), await libraryExample());
    await sh(
      process.execPath,
      [join(project, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"],
      project,
    );
    const output = await sh(process.execPath, ["dist/example.js"], project, 300_000);
    const events = output.stdout.split("\n").filter((line) => line.trim() !== "");
    expect(events[0]).toBe("run.started");
    expect(events).toContain("plan.created");
    expect(events).toContain("subtask.completed");
    expect(events.at(-1)).toBe("run.completed");
  });
});
