/**
 * Length-prefixed framing: a 2-byte big-endian length during the handshake, 4 bytes once
 * connected (`erl_dist_protocol.md`; `{packet, 2}` then `{packet, 4}` in gen_tcp terms). A frame
 * of length 0 is a tick.
 *
 * The reader never copies: a frame inside one chunk comes out as a view of it, and a frame that
 * spans chunks comes out as the list of its pieces (views too), so the consumer decides where
 * the one copy happens (a fragmented message is joined once, with its other fragments).
 */

import { CodedError } from "../etf/errors.js";

/** A whole frame: one view, or its pieces in order when it arrived across chunks. */
export type Frame = Uint8Array | Uint8Array[];

export class FrameError extends CodedError<"frame_too_large"> {
  constructor(
    readonly length: number,
    readonly limit: number,
  ) {
    super("frame_too_large", `a frame of ${length} bytes is over the limit of ${limit} bytes`);
  }
}

export class FrameReader {
  readonly #headerSize: 2 | 4;
  readonly #maxLength: number;
  // The length prefix, when it arrives split across chunks.
  readonly #head = new Uint8Array(4);
  #headFill = 0;
  // The frame being gathered: its pieces and how many bytes are still to come (0: none).
  #parts: Uint8Array[] = [];
  #missing = 0;

  constructor(headerSize: 2 | 4, maxLength: number) {
    this.#headerSize = headerSize;
    this.#maxLength = maxLength;
  }

  /** True when no partial frame is held. */
  get idle(): boolean {
    return this.#headFill === 0 && this.#missing === 0;
  }

  /**
   * Takes in a chunk and calls `onFrame` for each frame it completes, in order. Throws
   * `FrameError` on a length over the limit; the stream is then beyond repair.
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    this.read(chunk, (bytes, start, end) => onFrame(bytes.subarray(start, end)), onFrame);
  }

  /**
   * push() without a view per frame, for the connection's receive path: a frame inside the
   * chunk comes as `whole(chunk, start, end)` (a tick as start === end), one that spanned
   * chunks as `pieces(parts)`.
   */
  read(chunk: Uint8Array, whole: (bytes: Uint8Array, start: number, end: number) => void, pieces: (parts: Uint8Array[]) => void): void {
    const h = this.#headerSize;
    let off = 0;
    while (off < chunk.length) {
      if (this.#missing > 0) {
        const take = Math.min(this.#missing, chunk.length - off);
        this.#parts.push(chunk.subarray(off, off + take));
        this.#missing -= take;
        off += take;
        if (this.#missing === 0) {
          const parts = this.#parts;
          this.#parts = [];
          pieces(parts);
        }
        continue;
      }
      let length: number;
      if (this.#headFill === 0 && chunk.length - off >= h) {
        length = readLength(chunk, off, h);
        off += h;
      } else {
        while (this.#headFill < h && off < chunk.length) this.#head[this.#headFill++] = chunk[off++]!;
        if (this.#headFill < h) return;
        this.#headFill = 0;
        length = readLength(this.#head, 0, h);
      }
      if (length > this.#maxLength) throw new FrameError(length, this.#maxLength);
      if (chunk.length - off >= length) {
        whole(chunk, off, off + length);
        off += length;
      } else {
        this.#parts = [chunk.subarray(off)];
        this.#missing = length - (chunk.length - off);
        off = chunk.length;
      }
    }
  }
}

/**
 * Bytes read from a socket, in order, for a reader that pulls messages as it needs them (the
 * handshake, EPMD, and ts-ssl's packet framer) rather than parsing every chunk as it comes.
 * Chunks are kept as they arrived; bytes are joined, the one copy, only when what is asked for
 * spans chunks.
 */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The first chunk, as is: parsers look at it first, so most messages are never copied. */
  first(): Uint8Array {
    return this.#chunks[0] ?? empty;
  }

  /**
   * The first `n` bytes (at most `length`) as one view, left in the queue. Bytes that span
   * chunks are copied once, into one chunk that replaces the ones they came from, so asking
   * again for the same bytes copies nothing.
   */
  peek(n: number): Uint8Array {
    const first = this.first();
    if (first.length >= n) return first.subarray(0, n);
    const merged = new Uint8Array(n);
    let filled = 0;
    let used = 0;
    while (filled < n) {
      const chunk = this.#chunks[used]!;
      const part = Math.min(chunk.length, n - filled);
      merged.set(part === chunk.length ? chunk : chunk.subarray(0, part), filled);
      filled += part;
      if (part === chunk.length) used++;
      else this.#chunks[used] = chunk.subarray(part);
    }
    this.#chunks.splice(0, used, merged);
    return merged;
  }

  /** Drops the first `n` bytes (at most `length`). */
  skip(n: number): void {
    this.#length -= n;
    while (n > 0) {
      const first = this.#chunks[0]!;
      if (first.length > n) {
        this.#chunks[0] = first.subarray(n);
        return;
      }
      n -= first.length;
      this.#chunks.shift();
    }
  }

  /** The first `n` bytes (at most `length`), taken out of the queue. */
  take(n: number): Uint8Array {
    const bytes = this.peek(n);
    this.skip(n);
    return bytes;
  }

  /**
   * The next whole frame behind a `size`-byte length prefix, without the prefix, or undefined
   * while it has not all arrived; the bytes after it stay queued, unread.
   */
  takeFrame(size: 2 | 4): Uint8Array | undefined {
    if (this.#length < size) return undefined;
    const length = readLength(this.peek(size), 0, size);
    if (this.#length < size + length) return undefined;
    this.skip(size);
    return this.take(length);
  }
}

function readLength(bytes: Uint8Array, at: number, size: 2 | 4): number {
  return size === 2
    ? (bytes[at]! << 8) | bytes[at + 1]!
    : ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0;
}

/** A frame as one contiguous view (joining the pieces, the one copy, when it came in several). */
export function joinFrame(frame: Frame): Uint8Array {
  if (!Array.isArray(frame)) return frame;
  return frame.length === 1 ? frame[0]! : Buffer.concat(frame);
}

/**
 * Joins frames that came in pieces into a slab shared by the frames after them: a stream of
 * mid-sized frames (64 KiB messages span two socket reads) then costs one allocation per slab
 * instead of one per frame. Views of a slab keep it alive; frames over a quarter of a slab get
 * memory of their own, so a small message never holds a large one's bytes.
 */
export class FrameJoiner {
  readonly #slabSize: number;
  #slab: Buffer;
  #used = 0;

  constructor(slabSize = 1024 * 1024) {
    this.#slabSize = slabSize;
    this.#slab = Buffer.allocUnsafeSlow(0);
  }

  join(frame: Frame): Uint8Array {
    if (!Array.isArray(frame)) return frame;
    if (frame.length === 1) return frame[0]!;
    const n = frameLength(frame);
    if (n > this.#slabSize / 4) return Buffer.concat(frame, n);
    if (this.#used + n > this.#slab.length) {
      this.#slab = Buffer.allocUnsafeSlow(this.#slabSize);
      this.#used = 0;
    }
    const start = this.#used;
    for (const p of frame) {
      this.#slab.set(p, this.#used);
      this.#used += p.length;
    }
    return this.#slab.subarray(start, this.#used);
  }
}

/** The total length of a frame. */
export function frameLength(frame: Frame): number {
  if (!Array.isArray(frame)) return frame.length;
  let n = 0;
  for (const p of frame) n += p.length;
  return n;
}

/**
 * The first `n` bytes of a frame, contiguous (a view when they lie in its first piece). The
 * frame must be at least `n` bytes long.
 */
export function frameHead(frame: Frame, n: number): Uint8Array {
  if (!Array.isArray(frame)) return frame.subarray(0, n);
  if (frame[0]!.length >= n) return frame[0]!.subarray(0, n);
  const out = new Uint8Array(n);
  let filled = 0;
  for (const p of frame) {
    const take = Math.min(p.length, n - filled);
    out.set(p.subarray(0, take), filled);
    filled += take;
    if (filled === n) break;
  }
  return out;
}

/** The pieces of a frame from byte `from` on, as views. */
export function frameTail(frame: Frame, from: number): Uint8Array[] {
  const parts = Array.isArray(frame) ? frame : [frame];
  const out: Uint8Array[] = [];
  let skip = from;
  for (const p of parts) {
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    out.push(skip > 0 ? p.subarray(skip) : p);
    skip = 0;
  }
  return out;
}

const empty = new Uint8Array(0);
