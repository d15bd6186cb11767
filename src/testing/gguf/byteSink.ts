/**
 * The byte sink the GGUF writer encodes headers into, kept apart from the writer so that each stays a
 * readable size. Imports nothing.
 */

/**
 * A growable little-endian byte sink for a GGUF header: metadata and tensor infos. Small for the toy
 * fixture, several MB for a family fixture's 262k-token vocabulary, so strings are encoded in place.
 */
export class ByteSink {
  private buffer = new Uint8Array(4096);
  private view = new DataView(this.buffer.buffer);
  private length = 0;
  private readonly encoder = new TextEncoder();

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.length + extra) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  u8(value: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, value);
    this.length += 1;
  }

  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value, true);
    this.length += 4;
  }

  i32(value: number): void {
    this.reserve(4);
    this.view.setInt32(this.length, value, true);
    this.length += 4;
  }

  f32(value: number): void {
    this.reserve(4);
    this.view.setFloat32(this.length, value, true);
    this.length += 4;
  }

  u64(value: number): void {
    this.reserve(8);
    this.view.setBigUint64(this.length, BigInt(value), true);
    this.length += 8;
  }

  /** A GGUF string: u64 byte length, then UTF-8 bytes, no terminator. */
  string(value: string): void {
    // Encoded in place (at most 3 bytes per UTF-16 unit): a 262k-token vocabulary and its 500k merges are
    // written without allocating a buffer per string.
    this.reserve(8 + value.length * 3);
    const { written } = this.encoder.encodeInto(value, this.buffer.subarray(this.length + 8));
    this.view.setBigUint64(this.length, BigInt(written), true);
    this.length += 8 + written;
  }

  zeros(count: number): void {
    this.reserve(count);
    this.buffer.fill(0, this.length, this.length + count);
    this.length += count;
  }

  get size(): number {
    return this.length;
  }

  bytes(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}
