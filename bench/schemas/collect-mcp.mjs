// `node bench/schemas/collect-mcp.mjs [--out file]`: collects the tool input schemas of three real MCP servers
// (devDependencies, exact versions: @modelcontextprotocol/server-filesystem, -memory, -everything) into
// bench/schemas/mcp-tools.jsonl, in the format of JSONSchemaBench's sample (one
// `{id, split, schema, tests: [{description, valid, data}]}` per line; split = server, id = server/tool), so
// that bench:schemas can measure the compiler on schemas it was not tuned on:
//
//   node bench/schemas/collect-mcp.mjs && npm run bench:schemas -- --data bench/schemas/mcp-tools.jsonl
//
// Each server is started over stdio with the MCP SDK's client (the filesystem server with a temporary
// directory as its one allowed root, the memory server with its memory file in that directory), its tools are
// listed, and it is closed. Tests: a few instances written by hand for the main tools (HAND_WRITTEN below,
// each described as such; valid ones and a few invalid ones), none for the others. A hand-written instance the
// validator disagrees with is reported and dropped, so the file never carries a wrong label.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { compileSchema } from "../../dist/schema/compile.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../..");
const log = (...args) => console.error("[collect-mcp]", ...args);
const { values: args } = parseArgs({ options: { out: { type: "string" } } });
const out = resolve(args.out ?? join(here, "mcp-tools.jsonl"));

const SERVERS = [
  { split: "filesystem", pkg: "@modelcontextprotocol/server-filesystem", args: (dir) => [dir] },
  { split: "memory", pkg: "@modelcontextprotocol/server-memory", args: () => [] },
  { split: "everything", pkg: "@modelcontextprotocol/server-everything", args: () => ["stdio"] },
];

const HAND = "hand-written for this bench";
const valid = (description, data) => ({ description: `${HAND}: ${description}`, valid: true, data });
const invalid = (description, data) => ({ description: `${HAND}: ${description}`, valid: false, data });

/** Hand-written test instances by `server/tool` (tools a server does not list are skipped with a warning). */
const HAND_WRITTEN = {
  "filesystem/read_text_file": [
    valid("whole file", { path: "/tmp/notes.txt" }),
    valid("first lines", { path: "/tmp/notes.txt", head: 10 }),
    invalid("path missing", { head: 10 }),
    invalid("head is a string", { path: "/tmp/notes.txt", head: "10" }),
  ],
  "filesystem/write_file": [
    valid("short text", { path: "/tmp/out.md", content: '# Title\n\nSome text with "quotes".' }),
    valid("keys in another order", { content: "x", path: "/tmp/x" }),
    invalid("content missing", { path: "/tmp/out.md" }),
  ],
  "filesystem/edit_file": [
    valid("one edit, dry run", {
      path: "/tmp/a.ts",
      edits: [{ oldText: "let a = 1;", newText: "const a = 1;" }],
      dryRun: true,
    }),
    valid("two edits", {
      path: "/tmp/a.ts",
      edits: [
        { oldText: "foo", newText: "bar" },
        { newText: "qux", oldText: "baz" },
      ],
    }),
    invalid("edit without newText", { path: "/tmp/a.ts", edits: [{ oldText: "foo" }] }),
  ],
  "filesystem/list_directory": [valid("a directory", { path: "/tmp" }), invalid("no path", {})],
  "filesystem/search_files": [
    valid("glob with excludes", { path: "/tmp", pattern: "**/*.ts", excludePatterns: ["node_modules/**"] }),
    invalid("pattern is a number", { path: "/tmp", pattern: 3 }),
  ],
  "filesystem/move_file": [valid("rename", { source: "/tmp/a.txt", destination: "/tmp/b.txt" })],
  "memory/create_entities": [
    valid("one entity", {
      entities: [{ name: "Ada Lovelace", entityType: "person", observations: ["wrote the first program"] }],
    }),
    valid("two entities, no observations yet", {
      entities: [
        { name: "Analytical Engine", entityType: "machine", observations: [] },
        { name: "Charles Babbage", entityType: "person", observations: ["designed the engine"] },
      ],
    }),
    invalid("entity without entityType", { entities: [{ name: "x", observations: [] }] }),
    invalid("entities is an object", { entities: { name: "x" } }),
  ],
  "memory/create_relations": [
    valid("one relation", {
      relations: [{ from: "Ada Lovelace", to: "Charles Babbage", relationType: "worked with" }],
    }),
    invalid("relation without to", { relations: [{ from: "a", relationType: "knows" }] }),
  ],
  "memory/add_observations": [
    valid("two observations", {
      observations: [{ entityName: "Ada Lovelace", contents: ["born 1815", "mathematician"] }],
    }),
  ],
  "memory/search_nodes": [valid("a query", { query: "engine" }), invalid("query missing", {})],
  "memory/open_nodes": [valid("two names", { names: ["Ada Lovelace", "Charles Babbage"] })],
  "everything/echo": [
    valid("a message", { message: "hello" }),
    invalid("message is a number", { message: 1 }),
  ],
  "everything/get-sum": [valid("two numbers", { a: 2, b: 3.5 }), invalid("b missing", { a: 2 })],
  "everything/get-annotated-message": [
    valid("enum value and flag", { messageType: "success", includeImage: true }),
    invalid("value outside the enum", { messageType: "warning" }),
  ],
  "everything/gzip-file-as-resource": [
    valid("an https URL", {
      name: "notes.txt.gz",
      data: "https://example.com/files/notes.txt",
      outputType: "resource",
    }),
    valid("nothing (every property has a default)", {}),
    invalid("outputType outside the enum", { outputType: "file" }),
  ],
  "everything/trigger-long-running-operation": [valid("short operation", { duration: 2, steps: 4 })],
};

async function binOf(pkg) {
  const dir = join(root, "node_modules", ...pkg.split("/"));
  const manifest = JSON.parse(await readFile(join(dir, "package.json"), "utf8"));
  const bin = typeof manifest.bin === "string" ? manifest.bin : Object.values(manifest.bin)[0];
  return { path: join(dir, bin), version: manifest.version };
}

async function listTools(server, dir) {
  const { path, version } = await binOf(server.pkg);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [path, ...server.args(dir)],
    env: { PATH: process.env.PATH ?? "", HOME: dir, MEMORY_FILE_PATH: join(dir, "memory.jsonl") },
    cwd: dir,
    stderr: "pipe",
  });
  const client = new Client({ name: "edgecrew-bench-collect", version: "0.1.0" });
  await client.connect(transport, { timeout: 20_000 });
  try {
    const tools = [];
    let cursor;
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout: 20_000 });
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return { tools, version };
  } finally {
    await client.close();
  }
}

const dir = await mkdtemp(join(tmpdir(), "edgecrew-collect-mcp-"));
const lines = [];
const used = new Set();
try {
  for (const server of SERVERS) {
    const { tools, version } = await listTools(server, dir);
    log(`${server.pkg}@${version}: ${tools.length} tools`);
    for (const tool of tools) {
      const id = `${server.split}/${tool.name}`;
      used.add(id);
      const tests = [];
      for (const test of HAND_WRITTEN[id] ?? []) {
        const verdict = compileSchema(tool.inputSchema).validate(test.data);
        if (verdict.ok !== test.valid) {
          log(
            `${id}: dropped "${test.description}": labelled ${test.valid ? "valid" : "invalid"}, the validator says otherwise`,
          );
          continue;
        }
        tests.push(test);
      }
      lines.push(
        JSON.stringify({
          id,
          split: server.split,
          schema: tool.inputSchema,
          tests,
          server: `${server.pkg}@${version}`,
        }),
      );
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
for (const id of Object.keys(HAND_WRITTEN))
  if (!used.has(id)) log(`no tool ${id}: its hand-written tests are unused`);
await writeFile(out, `${lines.join("\n")}\n`);
log(`wrote ${lines.length} schemas to ${out}`);
