/**
 * Atoms on the wire: SMALL_ATOM_UTF8_EXT and ATOM_UTF8_EXT both ways, ATOM_EXT and
 * SMALL_ATOM_EXT (latin1) read only, as OTP 26 dropped writing them.
 *
 *   atomWire(a): what the encoder writes for `a` (tag, length, UTF-8 name), memoised on the
 *     atom; undefined when `a` cannot be an atom on the wire (over 255 characters, or a name
 *     that is not valid Unicode). writeAtom(view, at, wire) writes it and returns its length.
 *   utf8Atom(bytes, start, n) / latin1Atom(bytes, start, n): the atom named by those bytes,
 *     or undefined when they are not valid UTF-8 or name more than 255 characters.
 *
 * Decoding an atom is mostly finding one already seen: a direct-mapped cache keyed by a hash
 * of the name's bytes answers without making a string.
 */
import { Limit, Tag } from "./tags.js";
import { Atom, atomWireForm } from "./terms.js";

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The wire form: its length in bytes, then the bytes as big-endian 32-bit words, the last one
 * padded, so that writing an atom is a few word stores instead of a loop over its bytes.
 */
export type AtomWire = Int32Array;

export function atomWire(a: Atom): AtomWire | undefined {
  let w = a[atomWireForm];
  if (w === undefined) w = a[atomWireForm] = makeWire(a.name);
  return w ?? undefined;
}

/**
 * Writes `w` at `at` and returns its length. Up to 3 bytes past that are written too (the
 * padding of the last word): the caller has made room for `w[0] + 3` bytes.
 */
export function writeAtom(view: DataView, at: number, w: AtomWire): number {
  for (let i = 1; i < w.length; i++) view.setInt32(at + 4 * (i - 1), w[i]!);
  return w[0]!;
}

function makeWire(name: string): AtomWire | null {
  if (typeof name !== "string" || LONE_SURROGATE.test(name) || characters(name) > Limit.ATOM_CHARACTERS) return null;
  const utf8 = Buffer.from(name, "utf8");
  const small = utf8.length <= 0xff;
  const bytes = small ? [Tag.SMALL_ATOM_UTF8_EXT, utf8.length] : [Tag.ATOM_UTF8_EXT, utf8.length >> 8, utf8.length & 0xff];
  bytes.push(...utf8);
  const w = new Int32Array(1 + Math.ceil(bytes.length / 4));
  w[0] = bytes.length;
  for (let i = 0; i < bytes.length; i++) w[1 + (i >> 2)]! |= bytes[i]! << (24 - 8 * (i & 3));
  return w;
}

function characters(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

const CACHE_SLOTS = 4096;
/** Slot i: the UTF-8 name and its atom, for names whose hash lands in i (the last one seen). */
const cachedNames: Array<Uint8Array | undefined> = new Array(CACHE_SLOTS);
const cachedAtoms: Array<Atom | undefined> = new Array(CACHE_SLOTS);
// ignoreBOM: a leading U+FEFF is part of the name, not a byte order mark to drop.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function utf8Atom(b: Uint8Array, start: number, n: number): Atom | undefined {
  let h = 0x811c9dc5;
  let ascii = true;
  for (let i = start; i < start + n; i++) {
    const c = b[i]!;
    h = Math.imul(h ^ c, 0x01000193);
    if (c >= 0x80) ascii = false;
  }
  const slot = (h ^ (h >>> 16)) & (CACHE_SLOTS - 1);
  const known = cachedNames[slot];
  if (known !== undefined && known.length === n) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (known[i] !== b[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return cachedAtoms[slot];
  }
  let name: string;
  if (ascii) {
    if (n > Limit.ATOM_CHARACTERS) return undefined;
    name = latin1(b, start, n);
  } else {
    try {
      name = utf8.decode(b.subarray(start, start + n));
    } catch {
      return undefined;
    }
    if (characters(name) > Limit.ATOM_CHARACTERS) return undefined;
  }
  const a = Atom.of(name);
  cachedNames[slot] = b.slice(start, start + n);
  cachedAtoms[slot] = a;
  return a;
}

export function latin1Atom(b: Uint8Array, start: number, n: number): Atom | undefined {
  if (n > Limit.ATOM_CHARACTERS) return undefined;
  for (let i = start; i < start + n; i++) if (b[i]! >= 0x80) return Atom.of(latin1(b, start, n));
  // An ASCII name is the same in UTF-8: the cache serves it.
  return utf8Atom(b, start, n);
}

/** Latin1 text; short names are the common case, so no Buffer round trip for them. */
export function latin1(b: Uint8Array, start: number, n: number): string {
  if (n <= 24) {
    let s = "";
    for (let i = start; i < start + n; i++) s += String.fromCharCode(b[i]!);
    return s;
  }
  return Buffer.from(b.buffer, b.byteOffset + start, n).toString("latin1");
}
