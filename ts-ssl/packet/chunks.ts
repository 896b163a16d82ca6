/**
 * The bytes a socket has received and not yet delivered, kept as the chunks they arrived in.
 * Nothing is copied on arrival; a packet that spans chunks is copied once, into one chunk that
 * replaces the ones it came from, so asking again for the same bytes copies nothing.
 */
import { strict as assert } from "node:assert";

export class ChunkQueue {
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

  /** The first chunk, as is: parsers look at it first, so most packets are never copied. */
  first(): Uint8Array {
    return this.#chunks[0] ?? empty;
  }

  /** The first `n` bytes as one view. */
  peek(n: number): Uint8Array {
    assert(n <= this.#length, "peek past the buffered bytes");
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

  /** Drops the first `n` bytes. */
  consume(n: number): void {
    assert(n <= this.#length, "consume past the buffered bytes");
    this.#length -= n;
    while (n > 0) {
      const chunk = this.#chunks[0]!;
      if (chunk.length <= n) {
        this.#chunks.shift();
        n -= chunk.length;
      } else {
        this.#chunks[0] = chunk.subarray(n);
        n = 0;
      }
    }
  }

  /** Takes the first `n` bytes out of the queue as one view. */
  take(n: number): Uint8Array {
    const bytes = this.peek(n);
    this.consume(n);
    return bytes;
  }
}

const empty = new Uint8Array(0);
