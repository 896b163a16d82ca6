/**
 * A growable byte builder that hands its output over without copying it.
 *
 *   new ByteBuilder({ chunkThreshold?, initialSize? })
 *   u8/u16/u32(v), u64(bigint), bytes(b): append (big-endian); bytes() of `chunkThreshold` bytes or more are
 *     not copied but kept as a chunk of their own (the caller's memory, an iovec entry).
 *   reserveU32() / patchU32(mark, v): leave 4 bytes for a length known later.
 *   length: bytes in the output under construction.
 *   finish(): the output as one Buffer; finishChunks(): as chunks to write in order;
 *   reset(): drop it, back to the last commit().
 *   commit(): keeps the output so far from reset(), without handing it over: a batch of
 *     messages is built one by one, a message that fails to build is dropped alone, and the
 *     batch goes out as one output (one write) when it is finished.
 *
 * Output is written into a slab; what finish() hands over is a view of the slab, which is never
 * written again, and the next output continues after it. The Encoder (encode.ts) builds on this.
 */
import assert from "node:assert/strict";

/** The size of a fresh slab: outputs are carved from it until it is used up. */
export const SLAB = 64 * 1024;

export class ByteBuilder {
  protected buf: Buffer;
  /** buf as a DataView: one bounds-checked store for a 16- or 32-bit field instead of several. */
  protected view: DataView;
  /** buf's length, kept because a DataView's byteLength getter is slow to read. */
  protected capacity: number;
  protected pos = 0;
  /** buf's memory, kept because reading `buf.buffer` costs about as much as making a view. */
  #memory: ArrayBuffer;
  #memoryOffset: number;
  /** Where the output under construction starts in buf (what is before it was handed over). */
  #start = 0;
  /** Parts of the output already closed off because a large binary was referenced after them. */
  #chunks: Uint8Array[] = [];
  #chunked = 0;
  readonly #chunkThreshold: number;
  /** What commit() keeps: the output's parts closed off then, and its bytes in buf after them. */
  #keptChunks = 0;
  #keptChunked = 0;
  #keptOpen = 0;

  constructor(options?: { chunkThreshold?: number; initialSize?: number }) {
    this.#chunkThreshold = options?.chunkThreshold ?? Infinity;
    this.buf = Buffer.allocUnsafe(options?.initialSize ?? SLAB);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.capacity = this.buf.length;
    this.#memory = this.buf.buffer as ArrayBuffer;
    this.#memoryOffset = this.buf.byteOffset;
  }

  /** Bytes in the output under construction. */
  get length(): number {
    return this.#chunked + this.pos - this.#start;
  }

  /** Room for `n` more bytes; only the output under construction moves to a new buffer. */
  protected ensure(n: number): void {
    if (this.pos + n <= this.capacity) return;
    const used = this.pos - this.#start;
    const next = Buffer.allocUnsafe(Math.max(SLAB, 2 * (used + n)));
    this.buf.copy(next, 0, this.#start, this.pos);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
    this.capacity = next.length;
    this.#memory = next.buffer as ArrayBuffer;
    this.#memoryOffset = next.byteOffset;
    this.#start = 0;
    this.pos = used;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    const p = this.pos;
    this.buf[p] = v >>> 8;
    this.buf[p + 1] = v;
    this.pos = p + 2;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    writeU32(this.buf, this.pos, v);
    this.pos += 4;
    return this;
  }

  u64(v: bigint): this {
    return this.u32(Number(v >> 32n) >>> 0).u32(Number(v & 0xffffffffn));
  }

  /** Raw bytes: copied, or referenced as a chunk of their own when at least chunkThreshold long. */
  bytes(b: Uint8Array): this {
    const n = b.length;
    if (n >= this.#chunkThreshold) {
      if (this.pos > this.#start) this.#chunks.push(this.#view(this.#start, this.pos));
      this.#chunks.push(b);
      this.#chunked += this.pos - this.#start + n;
      this.#start = this.pos;
      return this;
    }
    this.ensure(n);
    const out = this.buf;
    const p = this.pos;
    // A loop beats TypedArray.set for the short runs (atoms, small binaries) that dominate.
    if (n <= 32) for (let i = 0; i < n; i++) out[p + i] = b[i]!;
    else out.set(b, p);
    this.pos = p + n;
    return this;
  }

  /** Reserves 4 bytes at the current length, to be filled in by patchU32. */
  reserveU32(): number {
    const mark = this.length;
    this.u32(0);
    return mark;
  }

  /** Writes `v` over the 4 bytes reserved at `mark` (a length from reserveU32). */
  patchU32(mark: number, v: number): this {
    if (mark >= this.#chunked) {
      writeU32(this.buf, this.#start + mark - this.#chunked, v);
      return this;
    }
    // The mark is in a closed-off part: always one of our own views, since reserved bytes are.
    let at = mark;
    for (const c of this.#chunks) {
      if (at < c.length) {
        writeU32(c, at, v);
        return this;
      }
      at -= c.length;
    }
    assert.fail(`no reserved bytes at ${mark}`);
  }

  /**
   * The output so far as one Buffer: a view of the slab, or, when binaries were referenced, one
   * allocation of exactly the output's size that each part is copied into once.
   */
  finish(): Buffer {
    const out =
      this.#chunks.length === 0
        ? (new SlabBuffer(this.#memory, this.#memoryOffset + this.#start, this.pos - this.#start) as unknown as Buffer)
        : this.#joined();
    this.#handOver();
    return out;
  }

  /** The closed-off parts and the rest, copied into one Buffer. */
  #joined(): Buffer {
    const out = Buffer.allocUnsafe(this.length);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    if (this.pos > this.#start) this.buf.copy(out, at, this.#start, this.pos);
    this.#chunks = [];
    return out;
  }

  /** The output so far as chunks to write in order (large binaries are not copied). */
  finishChunks(): Uint8Array[] {
    let out: Uint8Array[];
    if (this.#chunks.length === 0) {
      out = [this.#view(this.#start, this.pos)];
    } else {
      out = this.#chunks;
      if (this.pos > this.#start) out.push(this.#view(this.#start, this.pos));
      this.#chunks = [];
    }
    this.#handOver();
    return out;
  }

  /** Keeps the output so far from reset(); it is handed over with the rest by finish(). */
  commit(): this {
    this.#keptChunks = this.#chunks.length;
    this.#keptChunked = this.#chunked;
    this.#keptOpen = this.pos - this.#start;
    return this;
  }

  /** Drops the output under construction, back to what the last commit() kept. */
  reset(): this {
    const chunks = this.#chunks;
    if (chunks.length === this.#keptChunks) {
      // buf may have moved (ensure), but what is open in it starts with the kept bytes.
      this.pos = this.#start + this.#keptOpen;
    } else {
      // A part closed off since holds the kept open bytes at its start: keep them as a part.
      const closed = chunks[this.#keptChunks]!;
      chunks.length = this.#keptChunks;
      if (this.#keptOpen > 0) chunks.push(closed.subarray(0, this.#keptOpen));
      this.#chunked = this.#keptChunked + this.#keptOpen;
      this.pos = this.#start;
      this.commit();
      return this;
    }
    this.#chunked = this.#keptChunked;
    return this;
  }

  /** Bytes `[from, to)` of buf, sharing its memory (a plain Uint8Array is the cheapest view). */
  #view(from: number, to: number): Uint8Array {
    return new Uint8Array(this.#memory, this.#memoryOffset + from, to - from);
  }

  #handOver(): void {
    this.#start = this.pos;
    this.#chunked = 0;
    this.#keptChunks = 0;
    this.#keptChunked = 0;
    this.#keptOpen = 0;
  }
}

/**
 * A Buffer made as cheaply as a plain Uint8Array view. What makes a Node Buffer is a Uint8Array
 * whose prototype chain holds Buffer.prototype (Buffer.isBuffer is `instanceof Buffer`, and
 * Buffer's methods read only the bytes); this subclass is one, and without a `constructor` of
 * its own it is Buffer's (for subarray, util.inspect). Buffer.from(arrayBuffer, ...) makes the
 * same view through argument checks that cost a tenth of encode() of a small term.
 */
class SlabBuffer extends Uint8Array {}
Object.setPrototypeOf(SlabBuffer.prototype, Buffer.prototype);
delete (SlabBuffer.prototype as { constructor?: unknown }).constructor;

/** The 4 big-endian bytes at `p`, unsigned. */
export function readU32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/** `v` as 4 big-endian bytes at `p`. */
export function writeU32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = v >>> 16;
  b[p + 2] = v >>> 8;
  b[p + 3] = v;
}
