/**
 * Memory sizes as people write them in YAML (`6GiB`, `512MB`, `1.5 GiB`) turned into bytes. Decimal and binary
 * units are both accepted because device data sheets use one and `free -h` the other; the case of the unit is
 * ignored because `6gb` is never meant as six gigabits here.
 */

const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/**
 * The accepted shape of a memory string, as a JSON Schema `pattern` (no regex flags, so editors agree with us):
 * a number, optional spaces, and one of the units B, KB, MB, GB, KiB, MiB, GiB in any case.
 */
export const MEMORY_SIZE_PATTERN = "^\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgG][iI]?)?[bB]\\s*$";

const MEMORY_SIZE = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmg]i?)?b\s*$/i;

/** The message shown for a memory value that is not a size; says what would have been accepted. */
export const MEMORY_SIZE_HINT =
  "expected a number of bytes or a size with a unit, like 6GiB or 512MB (units: B, KB, MB, GB, KiB, MiB, GiB)";

/**
 * Parses a memory size into a whole number of bytes, or returns `undefined` when the text is not a size or the
 * size is zero. Fractions are allowed (`1.5GiB`) and rounded down to a whole byte.
 *
 * @example
 * parseMemorySize("6GiB"); // 6442450944
 * parseMemorySize("512MB"); // 512000000
 * parseMemorySize("6 gigs"); // undefined
 */
export function parseMemorySize(text: string): number | undefined {
  const match = MEMORY_SIZE.exec(text);
  if (match === null) return undefined;
  const [, amount = "", prefix = ""] = match;
  const perUnit = UNIT_BYTES[`${prefix.toLowerCase()}b`];
  if (perUnit === undefined) return undefined;
  const bytes = Math.floor(Number(amount) * perUnit);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}
