import { describe, expect, it } from "vitest";
import type { JsonSchema } from "../../../src/types.js";
import {
  rankTools,
  type SearchableTool,
  searchTerms,
  selectTools,
  toolDocumentTerms,
} from "../../../src/workers/toolSearch.js";

const path: JsonSchema = { type: "string", description: "Path of the file or directory" };

/** The filesystem MCP server's tools as a crew registers them (namespace `files`), descriptions shortened. */
const FILESYSTEM: SearchableTool[] = [
  {
    name: "files.read_file",
    description: "Read the complete contents of a file as text. DEPRECATED: Use read_text_file instead.",
    input: { type: "object", properties: { path, head: { type: "number" }, tail: { type: "number" } } },
  },
  {
    name: "files.read_text_file",
    description:
      "Read the complete contents of a file from the file system as text. Handles various text encodings.",
    input: { type: "object", properties: { path, head: { type: "number" }, tail: { type: "number" } } },
  },
  {
    name: "files.read_media_file",
    description: "Read an image or audio file and return it as base64-encoded data with its MIME type.",
    input: { type: "object", properties: { path } },
  },
  {
    name: "files.write_file",
    description: "Create a new file or completely overwrite an existing file with new content.",
    input: { type: "object", properties: { path, content: { type: "string" } } },
  },
  {
    name: "files.create_directory",
    description: "Create a new directory or ensure a directory exists.",
    input: { type: "object", properties: { path } },
  },
  {
    name: "files.list_directory",
    description: "Get a detailed listing of all files and directories in a specified path.",
    input: { type: "object", properties: { path } },
  },
  {
    name: "files.move_file",
    description: "Move or rename files and directories.",
    input: { type: "object", properties: { source: { type: "string" }, destination: { type: "string" } } },
  },
  {
    name: "files.search_files",
    description: "Recursively search for files and directories matching a glob pattern.",
    input: {
      type: "object",
      properties: { path, pattern: { type: "string" }, excludePatterns: { type: "array" } },
    },
  },
  {
    name: "files.get_file_info",
    description: "Retrieve detailed metadata about a file or directory: size, creation time, permissions.",
    input: { type: "object", properties: { path } },
  },
];

const names = (tools: readonly { tool: string }[]) => tools.map((entry) => entry.tool);

describe("searchTerms", () => {
  it("splits names on dots, underscores, dashes and camelCase, lower-cases, drops stop words and stems plurals", () => {
    expect(searchTerms("files.read_text_file")).toEqual(["file", "read", "text", "file"]);
    expect(searchTerms("get-resource-links")).toEqual(["get", "resource", "link"]);
    expect(searchTerms("excludePatterns of the HTMLParser")).toEqual([
      "exclude",
      "pattern",
      "html",
      "parser",
    ]);
    expect(searchTerms("List the directories, entities and matches")).toEqual([
      "list",
      "directory",
      "entity",
      "match",
    ]);
  });

  it("reads parameter names and nested descriptions into a tool's document", () => {
    const terms = toolDocumentTerms({
      name: "edit_file",
      description: "Edit",
      input: {
        type: "object",
        properties: {
          edits: {
            type: "array",
            items: { type: "object", properties: { oldText: { description: "Old line" } } },
          },
          dryRun: { type: "boolean" },
        },
      },
    });
    expect(terms).toEqual(expect.arrayContaining(["edit", "old", "line", "dry", "run"]));
    // The name counts twice.
    expect(terms.filter((term) => term === "file")).toHaveLength(2);
  });
});

describe("rankTools", () => {
  it("ranks the file readers first for 'read the file notes.txt'", () => {
    const ranked = rankTools(FILESYSTEM, { instruction: "read the file notes.txt" });
    expect(["files.read_file", "files.read_text_file"]).toContain(ranked[0]?.tool);
    expect(names(ranked.slice(0, 3)).every((name) => name.startsWith("files.read_"))).toBe(true);
    expect(ranked).toHaveLength(FILESYSTEM.length);
  });

  it("ranks by what the instruction is about", () => {
    const top = (instruction: string) => rankTools(FILESYSTEM, { instruction })[0]?.tool;
    expect(top("move report.md to archive/report.md")).toBe("files.move_file");
    expect(top("search for every *.log file matching a pattern")).toBe("files.search_files");
    expect(top("create the directory out/")).toBe("files.create_directory");
    expect(top("write the summary into a new file")).toBe("files.write_file");
    expect(top("what is the size and permissions of data.csv")).toBe("files.get_file_info");
  });

  it("breaks ties by grant order and is deterministic", () => {
    const same = (name: string): SearchableTool => ({ name, description: "Same words", input: {} });
    const tools = [same("zeta"), same("alpha"), same("mid")];
    const ranked = rankTools(tools, { instruction: "same words" });
    expect(names(ranked)).toEqual(["zeta", "alpha", "mid"]);
    expect(new Set(ranked.map((entry) => entry.score)).size).toBe(1);
    // Nothing in common: every score is 0 and the grant order stands.
    expect(rankTools(FILESYSTEM, { instruction: "xyzzy" })).toEqual(
      FILESYSTEM.map((tool) => ({ tool: tool.name, score: 0 })),
    );
    expect(rankTools(FILESYSTEM, { instruction: "read notes" })).toEqual(
      rankTools(FILESYSTEM, { instruction: "read notes" }),
    );
  });

  it("counts the overall task less than the instruction, and only to order what the instruction leaves open", () => {
    const query = { instruction: "list the directory", task: "then move the files" };
    const ranked = rankTools(FILESYSTEM, query);
    expect(ranked[0]?.tool).toBe("files.list_directory");
    const withoutTask = rankTools(FILESYSTEM, { instruction: "list the directory" });
    const move = (list: typeof ranked) => list.find((entry) => entry.tool === "files.move_file")?.score ?? 0;
    expect(move(ranked)).toBeGreaterThan(move(withoutTask));
    const onlyTask = rankTools(FILESYSTEM, { instruction: "xyzzy", task: "move the files" });
    expect(onlyTask[0]?.tool).toBe("files.move_file");
  });

  it("ranks an empty tool list as empty", () => {
    expect(rankTools([], { instruction: "anything" })).toEqual([]);
  });
});

describe("selectTools", () => {
  const ranked = [
    { tool: "a", score: 3 },
    { tool: "b", score: 2 },
    { tool: "c", score: 1 },
    { tool: "d", score: 0 },
  ];

  it("keeps the top k in rank order", () => {
    expect(names(selectTools(ranked, { k: 2 }))).toEqual(["a", "b"]);
    expect(names(selectTools(ranked, { k: 10 }))).toEqual(["a", "b", "c", "d"]);
  });

  it("always keeps named tools, counting them towards k, in rank order", () => {
    expect(names(selectTools(ranked, { k: 2, named: ["d"] }))).toEqual(["a", "d"]);
    expect(names(selectTools(ranked, { k: 1, named: ["c", "d"] }))).toEqual(["c", "d"]);
  });
});
