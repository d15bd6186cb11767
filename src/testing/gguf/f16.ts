/**
 * IEEE 754 half-precision conversion for the GGUF writer's f16 tensors (JavaScript has no Float16Array on
 * Node 20).
 */

/** The float16 bit pattern of a float32 given as its bit pattern, rounded to nearest-even. */
function f16FromF32Bits(bits: number): number {
  // Round-to-nearest-even conversion from the float32 bit pattern (handles subnormals, inf and NaN).
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

/**
 * The float16 bit pattern of `value`, rounded to nearest-even; handles subnormals, infinities and NaN.
 * `scratch` is a 4-byte DataView reused across calls to avoid an allocation per element.
 */
export function f32ToF16Bits(value: number, scratch: DataView): number {
  scratch.setFloat32(0, value, true);
  return f16FromF32Bits(scratch.getUint32(0, true));
}

/**
 * The float16 bit patterns of a whole array, in host byte order: reads the float32 bits through a Uint32Array
 * view instead of one DataView round trip per element, which makes f16 tensors of hundreds of millions of
 * values (a bench model's embedding) several times faster to encode. Same results as {@link f32ToF16Bits}.
 */
export function f32ArrayToF16Bits(values: Float32Array): Uint16Array {
  // A Float32Array's byteOffset is always a multiple of 4, so the same bytes can be viewed as Uint32.
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let index = 0; index < bits.length; index++) out[index] = f16FromF32Bits(bits[index] ?? 0);
  return out;
}
