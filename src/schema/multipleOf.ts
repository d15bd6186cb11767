/**
 * `multipleOf` in exact decimal arithmetic. ajv divides doubles (`0.3 / 0.1` is 2.9999999999999996), so it refuses
 * `0.3` as a multiple of `0.1` — an answer a model wrote correctly would be sent back for repair, again and again.
 * JSON carries decimals, so the value and the divisor are compared as the decimals their shortest spelling gives
 * (what the JSON text said, for every number a text with 15 significant digits or fewer can carry).
 */

/** A decimal: `digits × 10^-scale`. */
interface Decimal {
  readonly digits: bigint;
  readonly scale: number;
}

/** The decimal a finite double's shortest spelling stands for (`0.1` → 1 × 10^-1, `1e21` → 10^21 × 10^0). */
function decimalOf(x: number): Decimal {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:e([-+]\d+))?$/.exec(String(x));
  if (match === null) throw new RangeError(`not a finite number: ${x}`);
  const fraction = match[3] ?? "";
  const digits = BigInt(`${match[1]}${match[2]}${fraction}`);
  const scale = fraction.length - Number(match[4] ?? 0);
  return scale >= 0 ? { digits, scale } : { digits: digits * 10n ** BigInt(-scale), scale: 0 };
}

/**
 * Whether `value` is an integer multiple of `divisor` (> 0), both read as the decimals they spell.
 *
 * @example
 * isMultipleOf(0.3, 0.1); // true (ajv's own check says false)
 * isMultipleOf(0.35, 0.1); // false
 */
export function isMultipleOf(value: number, divisor: number): boolean {
  if (!Number.isFinite(value) || !Number.isFinite(divisor) || divisor <= 0) return false;
  const a = decimalOf(value);
  const b = decimalOf(divisor);
  const scale = Math.max(a.scale, b.scale);
  const left = a.digits * 10n ** BigInt(scale - a.scale);
  const right = b.digits * 10n ** BigInt(scale - b.scale);
  return left % right === 0n;
}

/**
 * The least common multiple of two divisors (> 0), read as the decimals they spell: a value is a multiple of both
 * exactly when it is a multiple of this one. Undefined when the result has no double that spells it exactly
 * (more than 15 significant digits, or beyond the finite doubles): then both must be checked.
 *
 * @example
 * decimalLcm(3, 5); // 15
 * decimalLcm(0.25, 0.1); // 0.5
 */
export function decimalLcm(a: number, b: number): number | undefined {
  if (!Number.isFinite(a) || !Number.isFinite(b) || a <= 0 || b <= 0) return undefined;
  const x = decimalOf(a);
  const y = decimalOf(b);
  const scale = Math.max(x.scale, y.scale);
  const left = x.digits * 10n ** BigInt(scale - x.scale);
  const right = y.digits * 10n ** BigInt(scale - y.scale);
  let [p, q] = [left, right];
  while (q !== 0n) [p, q] = [q, p % q];
  const lcm = (left / p) * right;
  const value = Number(`${lcm}e-${scale}`);
  if (!Number.isFinite(value)) return undefined;
  const back = decimalOf(value);
  // The double must spell the lcm exactly (its shortest decimal is the lcm itself).
  const common = Math.max(back.scale, scale);
  return back.digits * 10n ** BigInt(common - back.scale) === lcm * 10n ** BigInt(common - scale)
    ? value
    : undefined;
}
