/**
 * Model references: the one string an agent author writes to name a model (`./models/qwen.gguf`,
 * `hf:owner/repo:Q4_K_M`, `fixture:tiny?seed=3`, `openai:gpt-4o-mini`) parsed into a {@link ModelRef}.
 * Parsing is purely syntactic: nothing is downloaded or opened here, so a definition can be checked offline;
 * whether a local file exists is checked by the agent validator, and `hf:` refs are resolved by node-llama-cpp.
 */
import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { ErrorCodes, ModelError } from "../errors.js";
import type { FixtureSize, LocalModelRef, ModelRef } from "../types.js";
import { resolveDefinitionPath } from "./paths.js";

/** Options of {@link parseModelRef}. */
export interface ParseModelRefOptions {
  /** Directory that relative file paths resolve against (an agent's YAML directory); default: the cwd. */
  readonly baseDir?: string;
}

/** The fixture sizes `fixture:` accepts, smallest first. */
export const FIXTURE_SIZES: readonly FixtureSize[] = ["tiny", "small", "bench"];

type FixtureFamilyName = NonNullable<Extract<ModelRef, { kind: "fixture" }>["family"]>;

/**
 * The model families `fixture:NAME?family=…` accepts. Listed here rather than imported from the generator
 * (edgecrew/testing), because config never depends on model code; a unit test keeps both lists equal.
 */
export const FIXTURE_FAMILY_NAMES: readonly FixtureFamilyName[] = [
  "qwen3",
  "qwen2",
  "llama3",
  "llama3.1",
  "gemma3",
];

const FORMS =
  "expected a GGUF file path (./models/model.gguf), hf:owner/repo[:quant], fixture:NAME or provider:model (e.g. openai:gpt-4o-mini)";
const HF_FORMS =
  "an hf: reference is hf:owner/repo, hf:owner/repo:quant (e.g. hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M) or hf:owner/repo/file.gguf";

const PROVIDER = /^[a-z][a-z0-9-]*$/;
const HF_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const HF_QUANT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const FIXTURE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const WINDOWS_DRIVE = /^[A-Za-z]:[\\/]/;

function invalid(raw: string, why: string): ModelError {
  return new ModelError(ErrorCodes.MODEL_REF_INVALID, `invalid model reference "${raw}": ${why}`, {
    context: { ref: raw },
  });
}

/**
 * Parses a model reference string. File paths become absolute (relative ones against `baseDir`, `~/` against
 * the home directory) and must end in `.gguf`; `hf:` refs keep their full string; `fixture:` refs get their
 * defaults (`seed` 1, `size` tiny, no `family`: the toy fixture); anything else with a colon is a remote LangChain `provider:model`, whose
 * model part may itself contain colons (`ollama:qwen2.5:7b`). Throws a ModelError with code
 * MODEL_REF_INVALID that says which forms are accepted.
 *
 * @example
 * parseModelRef("./models/qwen.gguf", { baseDir: "/agents" });
 * // { kind: "file", raw: "./models/qwen.gguf", path: "/agents/models/qwen.gguf" }
 * parseModelRef("fixture:tiny?seed=3"); // { kind: "fixture", raw, name: "tiny", seed: 3, size: "tiny" }
 * parseModelRef("fixture:q?family=qwen3"); // { kind: "fixture", raw, name: "q", seed: 1, size: "tiny", family: "qwen3" }
 * parseModelRef("ollama:qwen2.5:7b"); // { kind: "remote", raw, provider: "ollama", model: "qwen2.5:7b" }
 */
export function parseModelRef(raw: string, options: ParseModelRefOptions = {}): ModelRef {
  if (raw.trim() === "") throw invalid(raw, `it is empty; ${FORMS}`);
  if (raw !== raw.trim()) throw invalid(raw, "it has leading or trailing spaces");
  if (raw.startsWith("hf:")) return parseHf(raw);
  if (raw.startsWith("fixture:")) return parseFixture(raw);
  if (raw.startsWith("file:")) return fileRef(raw, filePathOf(raw), options.baseDir);
  if (looksLikePath(raw)) return fileRef(raw, raw, options.baseDir);
  return parseRemote(raw);
}

/**
 * True for the references a worker can run in-process through node-llama-cpp (everything but `remote`).
 *
 * @example
 * isLocalModelRef(parseModelRef("hf:owner/repo")); // true
 */
export function isLocalModelRef(ref: ModelRef): ref is LocalModelRef {
  return ref.kind !== "remote";
}

// A string with no colon can only be a path; so can anything that starts like one. Checking this before the
// provider form keeps `C:\models\x.gguf` and `./a:b.gguf` from being read as `provider:model`.
function looksLikePath(raw: string): boolean {
  return (
    !raw.includes(":") ||
    raw.startsWith("./") ||
    raw.startsWith("../") ||
    raw.startsWith("/") ||
    raw.startsWith("~/") ||
    raw.startsWith(".\\") ||
    raw.startsWith("..\\") ||
    WINDOWS_DRIVE.test(raw) ||
    isAbsolute(raw)
  );
}

function filePathOf(raw: string): string {
  const rest = raw.slice("file:".length);
  if (!rest.startsWith("//")) return rest;
  try {
    return fileURLToPath(raw);
  } catch (cause) {
    throw invalid(raw, `not a usable file: URL (${cause instanceof Error ? cause.message : String(cause)})`);
  }
}

function fileRef(raw: string, path: string, baseDir: string | undefined): ModelRef {
  if (path === "") throw invalid(raw, "the file path is empty");
  if (!path.toLowerCase().endsWith(".gguf")) {
    throw invalid(
      raw,
      "a local model file must end in .gguf (a remote model is written provider:model, e.g. openai:gpt-4o-mini)",
    );
  }
  return { kind: "file", raw, path: resolveDefinitionPath(path, baseDir ?? process.cwd()) };
}

function parseHf(raw: string): ModelRef {
  const body = raw.slice("hf:".length);
  const colon = body.indexOf(":");
  const repoPart = colon === -1 ? body : body.slice(0, colon);
  const segments = repoPart.split("/");
  const [owner = "", repo = "", ...file] = segments;
  if (!HF_NAME.test(owner) || !HF_NAME.test(repo)) throw invalid(raw, HF_FORMS);
  if (colon !== -1) {
    const quant = body.slice(colon + 1);
    if (file.length > 0 || !HF_QUANT.test(quant)) throw invalid(raw, HF_FORMS);
  } else if (file.length > 0) {
    const unsafe = file.some((segment) => segment === "" || segment === "." || segment === "..");
    if (unsafe || !(file.at(-1) ?? "").toLowerCase().endsWith(".gguf")) throw invalid(raw, HF_FORMS);
  }
  return { kind: "hf", raw, uri: raw };
}

function parseFixture(raw: string): ModelRef {
  const body = raw.slice("fixture:".length);
  const question = body.indexOf("?");
  const name = question === -1 ? body : body.slice(0, question);
  if (!FIXTURE_NAME.test(name)) {
    throw invalid(
      raw,
      `a fixture reference is fixture:NAME?seed=N&size=tiny|small|bench&family=${FIXTURE_FAMILY_NAMES.join("|")} (NAME: letters, digits, - and _)`,
    );
  }
  let seed = 1;
  let size: FixtureSize = "tiny";
  let family: FixtureFamilyName | undefined;
  const seen = new Set<string>();
  const query = question === -1 ? "" : body.slice(question + 1);
  for (const part of question === -1 ? [] : query.split("&")) {
    const eq = part.indexOf("=");
    const key = eq === -1 ? part : part.slice(0, eq);
    const value = eq === -1 ? "" : part.slice(eq + 1);
    if (key !== "seed" && key !== "size" && key !== "family") {
      throw invalid(raw, `unknown fixture parameter "${key}" (allowed: seed, size, family)`);
    }
    if (seen.has(key)) throw invalid(raw, `the fixture parameter "${key}" is given twice`);
    seen.add(key);
    if (key === "seed") {
      const parsed = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
      if (!Number.isSafeInteger(parsed)) {
        throw invalid(raw, `seed must be a non-negative integer, got "${value}"`);
      }
      seed = parsed;
    } else if (key === "size") {
      const known = FIXTURE_SIZES.find((candidate) => candidate === value);
      if (known === undefined) {
        throw invalid(raw, `size must be one of ${FIXTURE_SIZES.join(", ")}, got "${value}"`);
      }
      size = known;
    } else {
      family = FIXTURE_FAMILY_NAMES.find((candidate) => candidate === value);
      if (family === undefined) {
        throw invalid(
          raw,
          `family must be one of ${FIXTURE_FAMILY_NAMES.join(", ")}, got "${value}" (no phi3: there is no phi3 tokenizer package)`,
        );
      }
    }
  }
  return { kind: "fixture", raw, name, seed, size, ...(family === undefined ? {} : { family }) };
}

function parseRemote(raw: string): ModelRef {
  const colon = raw.indexOf(":");
  const provider = raw.slice(0, colon);
  const model = raw.slice(colon + 1);
  if (!PROVIDER.test(provider)) {
    throw invalid(
      raw,
      `"${provider}" is not a provider name (lowercase letters, digits and -, e.g. openai, anthropic, ollama); ${FORMS}`,
    );
  }
  if (model === "" || /\s/.test(model)) {
    throw invalid(raw, `the model name after "${provider}:" must be non-empty and without spaces`);
  }
  return { kind: "remote", raw, provider, model };
}
