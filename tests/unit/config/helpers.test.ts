import { describe, expect, test } from "vitest";
import { formatIssuePath } from "../../../src/config/issues.js";
import { parseMemorySize } from "../../../src/config/memory.js";
import { formatIssue } from "../../../src/errors.js";
import { closestMatch, didYouMean, editDistance } from "../../../src/suggest.js";

describe("parseMemorySize", () => {
  test.each([
    ["6GiB", 6442450944],
    ["512MB", 512000000],
    ["6gib", 6442450944],
    ["6 GB", 6e9],
    ["1.5GiB", 1610612736],
    ["100KB", 100_000],
    ["4KiB", 4096],
    ["2MiB", 2097152],
    ["123B", 123],
    [" 1b ", 1],
  ])("%j = %d bytes", (text, bytes) => {
    expect(parseMemorySize(text)).toBe(bytes);
  });

  test.each(["6", "6XB", "GiB", "-1GiB", "0GiB", "6 gigs", "1e3MB", ""])("rejects %j", (text) => {
    expect(parseMemorySize(text)).toBeUndefined();
  });
});

describe("suggestions", () => {
  test("edit distance counts swaps as one edit", () => {
    expect(editDistance("temprature", "temperature")).toBe(1);
    expect(editDistance("paralel", "parallel")).toBe(1);
    expect(editDistance("maxTokesn", "maxTokens")).toBe(1);
    expect(editDistance("abc", "abc")).toBe(0);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });

  test("closest match is case-insensitive and bounded", () => {
    expect(closestMatch("temprature", ["maxTokens", "temperature"])).toBe("temperature");
    expect(closestMatch("MaxTokens", ["maxTokens"])).toBe("maxTokens");
    expect(closestMatch("fz", ["fs", "http"])).toBe("fs");
    expect(closestMatch("colour", ["temperature", "model"])).toBeUndefined();
    expect(closestMatch("xyz", ["abc"])).toBeUndefined();
  });

  test("didYouMean phrasing", () => {
    expect(didYouMean("temprature", ["temperature"])).toBe("; did you mean `temperature`?");
    expect(didYouMean("zzz", ["temperature"])).toBe("");
  });
});

describe("paths and issue format", () => {
  test("formatIssuePath", () => {
    expect(formatIssuePath([])).toBe("");
    expect(formatIssuePath(["workers", 1, "model"])).toBe("workers[1].model");
    expect(formatIssuePath(["limits", "maxParallel"])).toBe("limits.maxParallel");
    expect(formatIssuePath(["tools", 2, "http", "allow", 0])).toBe("tools[2].http.allow[0]");
    expect(formatIssuePath(["answer", "properties", "first name"])).toBe('answer.properties["first name"]');
  });

  test("formatIssue: file:line:col: path: message", () => {
    expect(formatIssue({ file: "a.yaml", line: 3, col: 5, path: "workers[0].model", message: "bad" })).toBe(
      "a.yaml:3:5: workers[0].model: bad",
    );
    expect(formatIssue({ path: "limits.maxParallel", message: "bad" })).toBe("limits.maxParallel: bad");
    expect(formatIssue({ file: "a.yaml", line: 1, col: 1, path: "", message: "empty" })).toBe(
      "a.yaml:1:1: empty",
    );
    expect(formatIssue({ path: "", message: "bare" })).toBe("bare");
  });
});
