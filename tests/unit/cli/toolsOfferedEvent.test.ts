/**
 * The `tools.offered` event (Tool RAG): one line in the plain output naming the offered tools, no redraw of the
 * live view, and accepted by the run store's event schema when a run is read back.
 */
import { describe, expect, it } from "vitest";
import { isStateChange } from "../../../src/cli/progress.js";
import { renderEvent } from "../../../src/cli/render.js";
import { runEventSchema } from "../../../src/runtime/store/storeSchemas.js";
import type { RunEvent } from "../../../src/types.js";

const event: RunEvent = {
  type: "tools.offered",
  runId: "r1",
  seq: 5,
  at: 1_000,
  subtaskId: "s2",
  worker: "files",
  tools: ["fs.read_text_file", "fs.read_file"],
  ranked: [
    { tool: "fs.read_text_file", score: 2.5 },
    { tool: "fs.read_file", score: 2.1 },
    { tool: "fs.move_file", score: 0 },
  ],
  named: ["fs.read_file"],
};

describe("tools.offered", () => {
  it("renders as one line with how many of the ranked tools were offered, and which", () => {
    expect(renderEvent(event)).toBe("  s2 [files] offered 2 of 3 tools: fs.read_text_file, fs.read_file");
  });

  it("names the embedding model when one ranked; a BM25 ranking reads as before", () => {
    expect(renderEvent({ ...event, ranker: "embedding", model: "fixture:embed" })).toBe(
      "  s2 [files] offered 2 of 3 tools (ranked by fixture:embed): fs.read_text_file, fs.read_file",
    );
    expect(renderEvent({ ...event, ranker: "bm25" })).toBe(renderEvent(event));
  });

  it("is not a state change of the live view", () => {
    expect(isStateChange(event)).toBe(false);
  });

  it("is accepted by the store's event schema, and a malformed one is not", () => {
    expect(runEventSchema.safeParse(event).success).toBe(true);
    // The ranker and its model (added with the embedding ranker); events stored without them still read.
    expect(runEventSchema.safeParse({ ...event, ranker: "bm25" }).success).toBe(true);
    expect(runEventSchema.safeParse({ ...event, ranker: "embedding", model: "fixture:embed" }).success).toBe(
      true,
    );
    expect(runEventSchema.safeParse({ ...event, ranker: "cosine" }).success).toBe(false);
    expect(runEventSchema.safeParse({ ...event, ranker: "embedding", model: 7 }).success).toBe(false);
    expect(runEventSchema.safeParse({ ...event, ranked: [{ tool: "x", score: "high" }] }).success).toBe(
      false,
    );
    expect(runEventSchema.safeParse({ ...event, tools: "fs.read_file" }).success).toBe(false);
  });
});
