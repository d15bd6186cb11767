/**
 * The cache record of a family fixture: a small JSON file next to the cached GGUF (`<file>.json`), written
 * after the GGUF is complete. The toy fixture's cache check recomputes the file's expected size, which is
 * free; a family fixture's would import its tokenizer package and rebuild a 128k–262k-token vocabulary
 * (1–4 s, and 100–250 MB that stay resident in the process, which then distort a worker's memory budget).
 * With the record, a cache hit reads two small files instead.
 */
import { readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import type { FixtureSize } from "../../types.js";
import type { GgufDocument, GgufWriteResult } from "../gguf/ggufWriter.js";
import {
  FAMILY_FIXTURE_GENERATOR_VERSION,
  type FamilyFixtureRef,
  familyFixtureGgufDocument,
} from "./familyFixtures.js";
import { type FixtureFamily, familySpec } from "./familySpecs.js";

/** What a cache record says about the GGUF it sits next to. */
export interface FamilyCacheRecord {
  /** The family generator version that wrote the GGUF: another version means regenerate. */
  readonly generator: number;
  readonly family: FixtureFamily;
  readonly size: FixtureSize;
  readonly seed: number;
  readonly name: string;
  /** The tokenizer package the vocabulary came from. */
  readonly tokenizer: string;
  /** The GGUF's size and hash as written. */
  readonly bytes: number;
  readonly sha256: string;
}

/**
 * Where the record of the cached GGUF at `path` lives: next to it, so that deleting the cache directory (or
 * one model) never leaves a record that vouches for nothing.
 */
export function familyCacheRecordPath(path: string): string {
  return `${path}.json`;
}

type RecordKey = Omit<FamilyCacheRecord, "bytes" | "sha256">;

/**
 * Whether the GGUF at `path` is a complete family fixture for `expected`: its record exists, matches, and the
 * file has the recorded size. Any doubt (no record, unreadable, other generator) answers false, and the
 * caller regenerates.
 */
async function isCachedFamilyFixture(path: string, expected: RecordKey): Promise<boolean> {
  try {
    const record: unknown = JSON.parse(await readFile(familyCacheRecordPath(path), "utf8"));
    if (typeof record !== "object" || record === null) return false;
    const fields = record as Record<string, unknown>;
    const same = (Object.keys(expected) as Array<keyof typeof expected>).every(
      (key) => fields[key] === expected[key],
    );
    const file = await stat(path);
    return same && file.isFile() && file.size === fields.bytes;
  } catch {
    return false;
  }
}

/**
 * Writes the record of a freshly cached GGUF, atomically (temporary file, then rename), after the GGUF itself
 * is in place, so that a record never vouches for a partial file.
 */
async function writeFamilyCacheRecord(path: string, record: RecordKey, file: GgufWriteResult): Promise<void> {
  const target = familyCacheRecordPath(path);
  const temp = `${target}.${process.pid}.${Date.now().toString(36)}.tmp`;
  const body: FamilyCacheRecord = { ...record, bytes: file.bytes, sha256: file.sha256 };
  try {
    await writeFile(temp, `${JSON.stringify(body, null, 2)}\n`, { flag: "wx" });
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/**
 * Returns `path` once it holds the family fixture `ref`: at once when its cache record vouches for it,
 * otherwise after generating it with `write` (the caller's atomic GGUF writer) and recording it. When the
 * write fails but another process has meanwhile completed the same file, that file is used.
 */
export async function resolveFamilyFixtureFile(
  path: string,
  ref: FamilyFixtureRef,
  write: (document: GgufDocument) => Promise<GgufWriteResult>,
): Promise<string> {
  const record: RecordKey = {
    generator: FAMILY_FIXTURE_GENERATOR_VERSION,
    family: ref.family,
    size: ref.size,
    seed: ref.seed,
    name: ref.name,
    tokenizer: familySpec(ref.family).tokenizerPackage,
  };
  if (await isCachedFamilyFixture(path, record)) return path;
  const document = await familyFixtureGgufDocument(ref);
  try {
    await writeFamilyCacheRecord(path, record, await write(document));
  } catch (error) {
    if (await isCachedFamilyFixture(path, record)) return path;
    throw error;
  }
  return path;
}
