/**
 * COMPRESSED (tag 80): `131, 80, UncompressedSize:32, zlib stream`, the form
 * `term_to_binary(T, [compressed])` gives, both ways.
 *
 *   inflateTerm(bytes, at, limit): the inflated term bytes (without version byte) and how many
 *     input bytes the COMPRESSED term took. The stated size is checked against `limit` before
 *     inflating, and inflating stops at that size: a small input cannot make a large allocation.
 *   compressTerm(external, level): the COMPRESSED form of an external term, or the term itself
 *     when compressing does not make it smaller (as the emulator decides).
 *
 * node:zlib and the emulator's zlib may deflate to different bytes; both inflate each other's.
 */
import { deflateSync, inflateSync } from "node:zlib";
import { readU32 } from "./bytes.js";
import { EtfError } from "./errors.js";
import { Tag, VERSION_MAGIC } from "./tags.js";

/** `at` is where tag 80 is; at most `limit` bytes from there on may be read or made. */
export function inflateTerm(bytes: Uint8Array, at: number, limit: number): { inflated: Buffer; used: number } {
  const end = Math.min(bytes.length, at + limit);
  if (at + 5 > end) throw new EtfError(at + 5 > bytes.length ? "truncated" : "too_large", Tag.COMPRESSED, at);
  const size = readU32(bytes, at + 1);
  if (size + 5 > limit) throw new EtfError("too_large", Tag.COMPRESSED, at, `inflates to ${size} bytes, over the limit`);
  if (size === 0) throw new EtfError("bad_compressed", Tag.COMPRESSED, at, "an uncompressed size of 0");
  let inflated: Buffer;
  let used: number;
  try {
    // `info: true` (untyped in @types/node) also returns the engine, which says how much input
    // the zlib stream took: the term may be followed by others.
    const options = { info: true, maxOutputLength: size };
    const r = inflateSync(bytes.subarray(at + 5, end), options) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
    inflated = r.buffer;
    used = r.engine.bytesWritten;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new EtfError("bad_compressed", Tag.COMPRESSED, at, `zlib: ${why}`);
  }
  if (inflated.length !== size) {
    throw new EtfError("bad_compressed", Tag.COMPRESSED, at, `inflates to ${inflated.length} bytes, not ${size}`);
  }
  return { inflated, used: 5 + used };
}

/**
 * Kept compressed only when the zlib data is at most 5 bytes shorter than the term it replaces
 * (the room the emulator gives deflate, no more).
 */
export function compressTerm(external: Buffer, level: number): Buffer {
  const body = external.subarray(1);
  const z = deflateSync(body, { level });
  if (z.length > body.length - 5) return external;
  const out = Buffer.allocUnsafe(6 + z.length);
  out[0] = VERSION_MAGIC;
  out[1] = Tag.COMPRESSED;
  out.writeUInt32BE(body.length, 2);
  z.copy(out, 6);
  return out;
}
