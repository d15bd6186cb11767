/**
 * IEEE 754 half-precision conversion for the GGUF writer's f16 tensors (JavaScript has no Float16Array on
 * Node 20).
 */

/**
 * The float16 bit pattern of `value`, rounded to nearest-even; handles subnormals, infinities and NaN.
 * `scratch` is a 4-byte DataView reused across calls to avoid an allocation per element.
 */
export function f32ToF16Bits(value: number, scratch: DataView): number {
  // Round-to-nearest-even conversion from the float32 bit pattern (handles subnormals, inf and NaN).
  scratch.setFloat32(0, value, true);
  const bits = scratch.getUint32(0, true);
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >>> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && (half & 1) === 1)) half += 1;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >>> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1)) half += 1;
  return sign | half;
}
