import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { FIXTURE_FAMILY_NAMES, isLocalModelRef, parseModelRef } from "../../../src/config/modelRef.js";
import { ErrorCodes, isModelError } from "../../../src/errors.js";
import { FIXTURE_FAMILIES } from "../../../src/testing/families/familySpecs.js";

const base = { baseDir: "/agents/demo" };

function parseError(raw: string): string {
  try {
    parseModelRef(raw, base);
  } catch (error) {
    expect(isModelError(error)).toBe(true);
    if (!isModelError(error)) throw error;
    expect(error.code).toBe(ErrorCodes.MODEL_REF_INVALID);
    expect(error.context.ref).toBe(raw);
    return error.message;
  }
  throw new Error(`expected "${raw}" to be rejected`);
}

describe("parseModelRef: files", () => {
  test.each([
    ["./models/qwen.gguf", "/agents/demo/models/qwen.gguf"],
    ["../shared/qwen.gguf", "/agents/shared/qwen.gguf"],
    ["/abs/path/Model.GGUF", "/abs/path/Model.GGUF"],
    ["qwen.gguf", "/agents/demo/qwen.gguf"],
    ["models/qwen.gguf", "/agents/demo/models/qwen.gguf"],
    ["file:./qwen.gguf", "/agents/demo/qwen.gguf"],
    ["file:/abs/qwen.gguf", "/abs/qwen.gguf"],
    ["file:///abs/qwen.gguf", "/abs/qwen.gguf"],
    ["./weird:name.gguf", "/agents/demo/weird:name.gguf"],
  ])("%s → %s", (raw, path) => {
    expect(parseModelRef(raw, base)).toEqual({ kind: "file", raw, path });
  });

  test("~/ resolves against the home directory", () => {
    expect(parseModelRef("~/models/x.gguf", base)).toEqual({
      kind: "file",
      raw: "~/models/x.gguf",
      path: join(homedir(), "models/x.gguf"),
    });
  });

  test("relative paths default to the working directory", () => {
    expect(parseModelRef("x.gguf")).toMatchObject({ path: join(process.cwd(), "x.gguf") });
  });

  test("a file must end in .gguf", () => {
    expect(parseError("./models/qwen.bin")).toMatch(/must end in \.gguf/);
    expect(parseError("gpt-4o-mini")).toMatch(/must end in \.gguf.*openai:gpt-4o-mini/);
    expect(parseError("file:")).toMatch(/file path is empty/);
  });
});

describe("parseModelRef: hf", () => {
  test.each([
    "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M",
    "hf:owner/repo",
    "hf:owner/repo/file.gguf",
    "hf:owner/repo/sub/dir/model-Q8_0.gguf",
  ])("%s", (raw) => {
    expect(parseModelRef(raw, base)).toEqual({ kind: "hf", raw, uri: raw });
  });

  test.each([
    "hf:",
    "hf:owner",
    "hf:owner/",
    "hf:/repo",
    "hf:owner/repo:",
    "hf:owner/repo/file.bin",
    "hf:owner/repo/../x.gguf",
    "hf:owner/repo/file.gguf:Q4",
    "hf:own er/repo",
  ])("rejects %s", (raw) => {
    expect(parseError(raw)).toMatch(/hf:owner\/repo, hf:owner\/repo:quant/);
  });
});

describe("parseModelRef: fixtures", () => {
  test("defaults: seed 1, size tiny", () => {
    expect(parseModelRef("fixture:tiny")).toEqual({
      kind: "fixture",
      raw: "fixture:tiny",
      name: "tiny",
      seed: 1,
      size: "tiny",
    });
  });

  test("seed and size from the query", () => {
    expect(parseModelRef("fixture:writer?seed=0&size=bench")).toMatchObject({
      name: "writer",
      seed: 0,
      size: "bench",
    });
    expect(parseModelRef("fixture:w?size=small")).toMatchObject({ seed: 1, size: "small" });
  });

  test("family from the query; absent means the toy fixture", () => {
    expect(parseModelRef("fixture:q?family=qwen3&seed=2&size=bench")).toEqual({
      kind: "fixture",
      raw: "fixture:q?family=qwen3&seed=2&size=bench",
      name: "q",
      seed: 2,
      size: "bench",
      family: "qwen3",
    });
    expect(parseModelRef("fixture:l?family=llama3.1")).toMatchObject({ family: "llama3.1", size: "tiny" });
    expect(parseModelRef("fixture:toy")).not.toHaveProperty("family");
  });

  test("accepts exactly the families the generator builds", () => {
    expect(FIXTURE_FAMILY_NAMES).toEqual(FIXTURE_FAMILIES);
    for (const family of FIXTURE_FAMILIES) {
      expect(parseModelRef(`fixture:f?family=${family}`)).toMatchObject({ family });
    }
  });

  test.each([
    ["fixture:tiny?temp=1", /unknown fixture parameter "temp" \(allowed: seed, size, family\)/],
    ["fixture:q?family=phi3", /family must be one of qwen3, qwen2, llama3, llama3.1, gemma3, got "phi3"/],
    ["fixture:q?family=", /family must be one of/],
    ["fixture:q?family=qwen3&family=qwen2", /"family" is given twice/],
    ["fixture:tiny?seed=-1", /seed must be a non-negative integer, got "-1"/],
    ["fixture:tiny?seed=1.5", /seed must be a non-negative integer/],
    ["fixture:tiny?seed=", /seed must be a non-negative integer/],
    ["fixture:tiny?size=huge", /size must be one of tiny, small, bench, got "huge"/],
    ["fixture:tiny?seed=1&seed=2", /"seed" is given twice/],
    ["fixture:", /fixture:NAME\?seed=N/],
    ["fixture:a b", /fixture:NAME\?seed=N/],
  ])("rejects %s", (raw, message) => {
    expect(parseError(raw)).toMatch(message);
  });
});

describe("parseModelRef: remote", () => {
  test.each([
    ["openai:gpt-4o-mini", "openai", "gpt-4o-mini"],
    ["anthropic:claude-3-5-haiku-latest", "anthropic", "claude-3-5-haiku-latest"],
    ["ollama:qwen2.5:7b", "ollama", "qwen2.5:7b"],
    ["google-genai:gemini-2.0-flash", "google-genai", "gemini-2.0-flash"],
  ])("%s", (raw, provider, model) => {
    const ref = parseModelRef(raw);
    expect(ref).toEqual({ kind: "remote", raw, provider, model });
    expect(isLocalModelRef(ref)).toBe(false);
  });

  test.each([
    ["OpenAI:gpt-4o", /"OpenAI" is not a provider name/],
    ["1ai:model", /"1ai" is not a provider name/],
    ["openai:", /must be non-empty/],
    ["openai:gpt 4", /without spaces/],
    ["", /it is empty/],
    [" openai:gpt-4o", /leading or trailing spaces/],
  ])("rejects %j", (raw, message) => {
    expect(parseError(raw)).toMatch(message);
  });

  test("local kinds are local", () => {
    expect(isLocalModelRef(parseModelRef("fixture:tiny"))).toBe(true);
    expect(isLocalModelRef(parseModelRef("hf:a/b"))).toBe(true);
    expect(isLocalModelRef(parseModelRef("/x.gguf"))).toBe(true);
  });
});
