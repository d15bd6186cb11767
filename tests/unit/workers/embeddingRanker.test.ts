/**
 * The pure parts of Tool RAG's embedding ranker: the document it embeds (the text BM25 indexes), the cosine
 * similarity, and the ranking — best first, scores rounded to 4 decimals, equal scores in grant order.
 */
import { describe, expect, it } from "vitest";
import { cosineSimilarity, rankByEmbeddings } from "../../../src/workers/embeddingRanker.js";
import { searchTerms, toolDocumentTerms, toolDocumentText } from "../../../src/workers/toolSearch.js";

describe("toolDocumentText", () => {
  it("is the tool's name, description and parameters' names and descriptions, one per line", () => {
    const tool = {
      name: "fs.read_text_file",
      description: "Read a file as text",
      input: {
        type: "object",
        description: "not a parameter",
        properties: {
          path: { type: "string", description: "Where the file is" },
          head: { type: "number" },
        },
      },
    };
    expect(toolDocumentText(tool)).toBe(
      "fs.read_text_file\nRead a file as text\npath\nWhere the file is\nhead",
    );
    // The same words BM25 indexes (its name counted twice there).
    const terms = toolDocumentTerms(tool);
    expect(new Set(searchTerms(toolDocumentText(tool)))).toEqual(new Set(terms));
  });
});

describe("cosineSimilarity", () => {
  it("is 1 for the same direction, -1 for the opposite, 0 for orthogonal, empty, zero or mismatched vectors", () => {
    expect(cosineSimilarity([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(cosineSimilarity([1, 0], [-3, 0])).toBeCloseTo(-1, 12);
    expect(cosineSimilarity([1, 0], [0, 5])).toBe(0);
    expect(cosineSimilarity([], [])).toBe(0);
    expect(cosineSimilarity([0, 0], [1, 1])).toBe(0);
    expect(cosineSimilarity([1, 2], [1, 2, 3])).toBe(0);
  });
});

describe("rankByEmbeddings", () => {
  it("ranks best first with scores rounded to 4 decimals; equal scores keep the order given", () => {
    const ranked = rankByEmbeddings(
      ["a", "b", "c", "d"],
      [
        [1, 0],
        [0, 1],
        [0, 2],
        [-1, 0],
      ],
      [0.2, 0.9],
    );
    expect(ranked).toEqual([
      { tool: "b", score: 0.9762 },
      { tool: "c", score: 0.9762 },
      { tool: "a", score: 0.2169 },
      { tool: "d", score: -0.2169 },
    ]);
    // The same inputs in another order: ties follow the new order.
    expect(
      rankByEmbeddings(
        ["c", "b"],
        [
          [0, 2],
          [0, 1],
        ],
        [0.2, 0.9],
      ).map((r) => r.tool),
    ).toEqual(["c", "b"]);
  });
});
