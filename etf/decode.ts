/**
 * The External Term Format decoder.
 *
 *   decode(bytes, options?): Term
 *     A whole external term: the version byte 131, then the term (possibly COMPRESSED), and
 *     nothing after it.
 *   decodeAt(bytes, offset, options?): { term, offset }
 *     One term starting at `offset`, with the version byte unless `options.versionByte` is
 *     false; `offset` in the result is just past it.
 *   new TermReader(options?): start(bytes, offset), then next(versionByte) for each term lying
 *     back to back from there (a distribution message's control term and payload), offset
 *     after each; no result object, and a decoder of its own kept across messages.
 *   DecodeOptions: `atomCache` resolves ATOM_CACHE_REF (from the distribution header),
 *     `maxSize` bounds the bytes a term may take, decompressed bytes included (256 MiB by
 *     default), `maxDepth` bounds nesting (unbounded by default: the decoder keeps its own
 *     stack, so depth costs heap, not JS stack).
 *
 * What comes back is described in terms.ts. Binaries, charlists and fun `uniq` fields are views
 * (`subarray`) of the input, never copies (of the inflated buffer for a COMPRESSED term).
 * Malformed input of any kind throws `EtfError` naming the tag and offset; nothing else escapes.
 * Every length is checked against the bytes actually present before anything is allocated from
 * it, and every element takes at least one byte, so allocation is bounded by the input size.
 *
 * Acceptance follows `binary_to_term/1` of OTP 25 (checked against it by the tests), except that
 * `decode` refuses trailing bytes, which `binary_to_term/1` ignores, and the ETS-internal tags
 * (tags.ts, INTERNAL_TAGS) are refused as unknown where OTP 25 lets some through.
 */
import { EtfError, fromRangeError, type EtfErrorCode } from "./errors.js";
import { latin1, latin1Atom, utf8Atom } from "./atoms.js";
import { readU32 } from "./bytes.js";
import { inflateTerm } from "./compressed.js";
import { Limit, Tag, VERSION_MAGIC } from "./tags.js";
import {
  Atom,
  BitBinary,
  Charlist,
  ErlMap,
  ExportFun,
  Float,
  Fun,
  Pid,
  Port,
  Ref,
  Tuple,
  cons,
  type Term,
} from "./terms.js";

export interface DecodeOptions {
  /** The atom for an ATOM_CACHE_REF index, as the distribution header set it up. */
  atomCache?: (index: number) => Atom | undefined;
  /** At most this many bytes for the term, counting a COMPRESSED term's inflated size. */
  maxSize?: number;
  /** At most this many nested containers (tuples, lists, maps, fun environments). */
  maxDepth?: number;
  /** decodeAt only: whether the term starts with the version byte 131 (default true). */
  versionByte?: boolean;
}

const DEFAULT_MAX_SIZE = 256 * 1024 * 1024;

export function decode(bytes: Uint8Array, options?: DecodeOptions): Term {
  const { term, offset } = decodeFrom(bytes, 0, options, true);
  if (offset !== bytes.length) throw new EtfError("trailing_bytes", undefined, offset);
  return term;
}

export function decodeAt(bytes: Uint8Array, offset: number, options?: DecodeOptions): { term: Term; offset: number } {
  return decodeFrom(bytes, offset, options, options?.versionByte ?? true);
}

function decodeFrom(bytes: Uint8Array, offset: number, options: DecodeOptions | undefined, versionByte: boolean): { term: Term; offset: number } {
  const d = idle ?? new Decoder();
  idle = undefined;
  try {
    d.reset(bytes, offset, options);
    const term = d.external(versionByte);
    return { term, offset: d.pos };
  } finally {
    d.reset(EMPTY, 0, undefined);
    idle = d;
  }
}

/**
 * One idle decoder, reused: its container stacks then cost nothing per call, and a call
 * allocates little beyond the terms it returns. A decode that starts while another runs (from
 * an `atomCache` callback, say) simply makes a decoder of its own.
 */
let idle: Decoder | undefined;

const EMPTY = new Uint8Array(0);

/**
 * Terms that lie back to back in one buffer, as a distribution message's control term and
 * payload do: each `next` decodes one from where the last ended. It has a decoder of its own and
 * returns no result object, so a message costs nothing but its terms.
 */
export class TermReader {
  readonly #d = new Decoder();
  readonly #options: DecodeOptions | undefined;

  /** `options.versionByte` is not used: each `next` says whether its term has one. */
  constructor(options?: DecodeOptions) {
    this.#options = options;
  }

  /** Reads `bytes` from `offset` up to `end`; `maxSize` counts from `offset`. */
  start(bytes: Uint8Array, offset: number, end = bytes.length): void {
    this.#d.reset(bytes, offset, this.#options, end);
  }

  /** Where the next term starts. */
  get offset(): number {
    return this.#d.pos;
  }

  /** The byte at `offset`, or undefined at the end of the input. */
  peek(): number | undefined {
    return this.#d.peek();
  }

  /** The next term, with the version byte first when `versionByte`. Throws EtfError. */
  next(versionByte: boolean): Term {
    return this.#d.external(versionByte);
  }

  /** Lets go of the input. */
  finish(): void {
    this.#d.reset(EMPTY, 0, undefined);
  }
}

/**
 * What an open container is. Plain module constants, like the tags below: the optimising
 * compiler folds them into the code, where a const enum (an object under isolatedModules) or a
 * property of an imported table costs a load per use, several per subterm.
 */
const TUPLE = 0;
const LIST = 1;
/** A LIST_EXT whose elements are all read: the next value is its tail. */
const LIST_TAIL = 2;
const MAP = 3;
const FUN = 4;
type Kind = typeof TUPLE | typeof LIST | typeof LIST_TAIL | typeof MAP | typeof FUN;
const {
  NEW_FLOAT_EXT,
  BIT_BINARY_EXT,
  COMPRESSED,
  ATOM_CACHE_REF,
  NEW_PID_EXT,
  NEW_PORT_EXT,
  NEWER_REFERENCE_EXT,
  SMALL_INTEGER_EXT,
  INTEGER_EXT,
  FLOAT_EXT,
  ATOM_EXT,
  REFERENCE_EXT,
  PORT_EXT,
  PID_EXT,
  SMALL_TUPLE_EXT,
  LARGE_TUPLE_EXT,
  NIL_EXT,
  STRING_EXT,
  LIST_EXT,
  BINARY_EXT,
  SMALL_BIG_EXT,
  LARGE_BIG_EXT,
  NEW_FUN_EXT,
  EXPORT_EXT,
  NEW_REFERENCE_EXT,
  SMALL_ATOM_EXT,
  MAP_EXT,
  ATOM_UTF8_EXT,
  SMALL_ATOM_UTF8_EXT,
  V4_PORT_EXT,
  LOCAL_EXT,
} = Tag;
const { FLOAT_EXT_BYTES, OLD_CREATION, REFERENCE_WORDS } = Limit;

/** NEW_FUN_EXT: the fields read before the free variables. */
interface FunHead {
  arity: number;
  uniq: Uint8Array;
  index: number;
  module: Atom;
  oldIndex: Term;
  oldUniq: Term;
  pid: Pid;
}

/** Container arrays up to this size are allocated whole; larger ones grow as they fill. */
const PREALLOCATE = 1 << 16;
const MAX_SAFE_HIGH_BYTE = 0x1f; // a 7-byte magnitude below 2^53 has its top byte under 0x20
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const FLOAT_EXT_SYNTAX = /^[+-]?[0-9]+\.[0-9]+(?:[eE][+-]?[0-9]+)?$/;
/** What the tag switch yields when it opened a container instead of reading a value. */
const OPENED = Symbol("opened") as unknown as Term;

class Decoder {
  pos = 0;
  #bytes: Uint8Array = EMPTY;
  /** Reading past `#end` is an error: `truncated` up to `#inputEnd`, `too_large` up to maxSize. */
  #end = 0;
  /** Where the input ends: the end of `#bytes`, or of the frame in it that is being read. */
  #inputEnd = 0;
  /** Where maxSize ends, which may be past the input (a COMPRESSED term's inflated size counts). */
  #sizeEnd = 0;
  #options: DecodeOptions | undefined;
  #atomCache: ((index: number) => Atom | undefined) | undefined;
  #maxDepth = Infinity;
  #view: DataView | undefined;
  // The open containers, innermost last, as parallel arrays (no object per container).
  #depth = 0;
  readonly #kinds: Kind[] = [];
  readonly #items: Term[][] = [];
  readonly #filled: number[] = [];
  readonly #wanted: number[] = [];
  readonly #ats: number[] = [];
  readonly #funs: Array<FunHead | undefined> = [];

  /**
   * Points the decoder at new input, `bytes` up to `inputEnd`, read from `pos` and no further
   * than maxSize from there; what a failed decode left on the stacks is dropped.
   */
  reset(bytes: Uint8Array, pos: number, options: DecodeOptions | undefined, inputEnd = bytes.length): void {
    for (let k = 0; k < this.#depth; k++) {
      this.#items[k] = undefined!;
      this.#funs[k] = undefined;
    }
    this.#depth = 0;
    this.#bytes = bytes;
    this.#view = undefined;
    this.pos = pos;
    this.#sizeEnd = pos + (options?.maxSize ?? DEFAULT_MAX_SIZE);
    this.#inputEnd = inputEnd;
    this.#end = Math.min(inputEnd, this.#sizeEnd);
    this.#options = options;
    this.#atomCache = options?.atomCache;
    this.#maxDepth = options?.maxDepth ?? Infinity;
  }

  peek(): number | undefined {
    return this.pos < this.#end ? this.#bytes[this.pos] : undefined;
  }

  /** A term at `pos`, after the version byte when `versionByte` (and then possibly COMPRESSED). */
  external(versionByte: boolean): Term {
    if (versionByte) {
      const b = this.#bytes;
      const at = this.pos;
      if (at >= this.#inputEnd) throw new EtfError("truncated", undefined, at);
      if (b[at] !== VERSION_MAGIC) throw new EtfError("bad_version", undefined, at, `version byte ${b[at]}, not 131`);
      this.pos = at + 1;
      if (at + 1 < this.#end && b[at + 1] === COMPRESSED) return this.#compressed(at + 1);
    }
    return this.#guarded();
  }

  /**
   * The decoder keeps its own stack, but a map's keys are told apart by Erlang equality, and a
   * hostile term can nest map keys in map keys so that comparing them recurses thousands deep;
   * and a big number can be too big for a bigint. Both are the input's fault: EtfError.
   */
  #guarded(): Term {
    const at = this.pos;
    try {
      return this.term();
    } catch (e) {
      throw e instanceof RangeError ? fromRangeError(e, at) : e;
    }
  }

  /** A COMPRESSED term at `at`; the inner term must fill the inflated bytes exactly. */
  #compressed(at: number): Term {
    const b = this.#bytes;
    const input = this.#inputEnd < b.length ? b.subarray(0, this.#inputEnd) : b;
    const { inflated, used } = inflateTerm(input, at, this.#sizeEnd - at);
    // The inner term is decoded on its own buffer: offsets in its errors are inside the inflated data.
    const inner = new Decoder();
    inner.reset(inflated, 0, this.#options);
    const term = inner.#guarded();
    if (inner.pos !== inflated.length) {
      throw new EtfError("bad_compressed", COMPRESSED, at, `the term ends ${inflated.length - inner.pos} bytes before the inflated data`);
    }
    this.pos = at + used;
    return term;
  }

  #fail(code: EtfErrorCode, tag: number | undefined, at: number, detail?: string): never {
    throw new EtfError(code, tag, at, detail);
  }

  /** Makes sure `n` bytes from `from` are there; the tag at `at` is blamed if not. */
  #need(from: number, n: number, tag: number, at: number): void {
    if (from + n > this.#end) this.#overrun(from + n, tag, at, `needs ${n} bytes at ${from}`);
  }

  /**
   * Throws for a read that needs the bytes up to `end`, past #end: `truncated` when the input
   * stops first (with `detail`), else `too_large` (maxSize stops first). `tag` at `at` is blamed.
   */
  #overrun(end: number, tag: number | undefined, at: number, detail?: string): never {
    const truncated = end > this.#inputEnd;
    this.#fail(truncated ? "truncated" : "too_large", tag, at, truncated ? detail : undefined);
  }

  #u16(at: number): number {
    const b = this.#bytes;
    return (b[at]! << 8) | b[at + 1]!;
  }

  #u32(at: number): number {
    return readU32(this.#bytes, at);
  }

  /**
   * One complete term at `pos`. Containers are opened on an explicit stack and filled value by
   * value; a container is closed (made into its term) when its last value arrives.
   */
  term(): Term {
    const b = this.#bytes;
    // term() is re-entered for the integer fields of a fun: its containers sit above the caller's.
    const base = this.#depth;
    for (;;) {
      const at = this.pos;
      if (at >= this.#end) {
        // Blame the innermost open container: it promised more values than there are bytes.
        const open = this.#depth > base ? b[this.#ats[this.#depth - 1]!] : undefined;
        this.#overrun(at + 1, open, at);
      }
      const tag = b[at]!;
      let value: Term;
      switch (tag) {
        case SMALL_INTEGER_EXT:
          this.#need(at, 2, tag, at);
          value = b[at + 1]!;
          this.pos = at + 2;
          break;
        case INTEGER_EXT:
          this.#need(at, 5, tag, at);
          value = (b[at + 1]! << 24) | (b[at + 2]! << 16) | (b[at + 3]! << 8) | b[at + 4]!;
          this.pos = at + 5;
          break;
        case SMALL_ATOM_UTF8_EXT:
        case ATOM_UTF8_EXT:
        case ATOM_EXT:
        case SMALL_ATOM_EXT:
        case ATOM_CACHE_REF:
          value = this.#atom(at);
          break;
        case SMALL_TUPLE_EXT:
          this.#need(at, 2, tag, at);
          this.pos = at + 2;
          value = b[at + 1] === 0 ? new Tuple([]) : this.#open(TUPLE, b[at + 1]!, b[at + 1]!, at);
          break;
        case LARGE_TUPLE_EXT: {
          this.#need(at, 5, tag, at);
          const n = this.#u32(at + 1);
          this.pos = at + 5;
          value = n === 0 ? new Tuple([]) : this.#open(TUPLE, n, n, at);
          break;
        }
        case NIL_EXT:
          value = [];
          this.pos = at + 1;
          break;
        case LIST_EXT: {
          this.#need(at, 5, tag, at);
          const n = this.#u32(at + 1);
          this.pos = at + 5;
          value = this.#open(n === 0 ? LIST_TAIL : LIST, n, n + 1, at);
          break;
        }
        case STRING_EXT: {
          this.#need(at, 3, tag, at);
          const n = this.#u16(at + 1);
          this.#need(at + 3, n, tag, at);
          value = n === 0 ? [] : new Charlist(b.subarray(at + 3, at + 3 + n));
          this.pos = at + 3 + n;
          break;
        }
        case BINARY_EXT: {
          this.#need(at, 5, tag, at);
          const n = this.#u32(at + 1);
          this.#need(at + 5, n, tag, at);
          value = b.subarray(at + 5, at + 5 + n);
          this.pos = at + 5 + n;
          break;
        }
        case MAP_EXT: {
          this.#need(at, 5, tag, at);
          const n = this.#u32(at + 1);
          this.pos = at + 5;
          value = n === 0 ? new ErlMap() : this.#open(MAP, 2 * n, 2 * n, at);
          break;
        }
        case NEW_PID_EXT:
        case PID_EXT:
          value = this.#pid(at);
          break;
        case NEWER_REFERENCE_EXT:
        case NEW_REFERENCE_EXT:
        case REFERENCE_EXT:
          value = this.#ref(at);
          break;
        default:
          value = this.#rare(tag, at);
      }
      if (value === OPENED) continue;
      // Hand the value to the innermost open container, closing each container it completes.
      for (;;) {
        const k = this.#depth - 1;
        if (k < base) return value;
        const items = this.#items[k]!;
        if (this.#kinds[k] === LIST_TAIL) {
          // LIST_EXT's tail may itself be a list (never from OTP, but valid): one list then.
          value = items.length === 0 ? value : cons(items, value);
        } else {
          const i = this.#filled[k]!;
          items[i] = value;
          this.#filled[k] = i + 1;
          if (i + 1 < this.#wanted[k]!) break;
          if (this.#kinds[k] === LIST) {
            // The elements are read; a NIL tail (the usual one) is taken here, without a [].
            if (this.pos < this.#end && b[this.pos] === NIL_EXT) {
              this.pos++;
            } else {
              this.#kinds[k] = LIST_TAIL;
              break;
            }
          }
          value = this.#close(k);
        }
        this.#items[k] = undefined!;
        this.#funs[k] = undefined;
        this.#depth = k;
      }
    }
  }

  /** The tags that are not on the hot path. */
  #rare(tag: number, at: number): Term {
    const b = this.#bytes;
    switch (tag) {
      case SMALL_BIG_EXT: {
        this.#need(at, 3, tag, at);
        const n = b[at + 1]!;
        this.#need(at + 3, n, tag, at);
        this.pos = at + 3 + n;
        return this.#big(at + 3, n, b[at + 2]! !== 0);
      }
      case LARGE_BIG_EXT: {
        this.#need(at, 6, tag, at);
        const n = this.#u32(at + 1);
        this.#need(at + 6, n, tag, at);
        this.pos = at + 6 + n;
        return this.#big(at + 6, n, b[at + 5]! !== 0);
      }
      case NEW_FLOAT_EXT: {
        this.#need(at, 9, tag, at);
        this.#view ??= new DataView(b.buffer, b.byteOffset, b.byteLength);
        const f = this.#view.getFloat64(at + 1);
        if (!Number.isFinite(f)) this.#fail("bad_float", tag, at);
        this.pos = at + 9;
        return new Float(f);
      }
      case FLOAT_EXT:
        return this.#oldFloat(at);
      case BIT_BINARY_EXT:
        return this.#bitBinary(at);
      case NEW_PORT_EXT:
      case PORT_EXT:
      case V4_PORT_EXT:
        return this.#port(at);
      case EXPORT_EXT: {
        const module = this.#atom(at + 1);
        const function_ = this.#atom(this.pos);
        const arityAt = this.pos;
        const arity = this.#integerField(arityAt);
        if (typeof arity !== "number" || arity < 0) this.#fail("bad_integer", tag, arityAt, "a fun arity must be a non-negative integer");
        return new ExportFun(module, function_, arity);
      }
      case NEW_FUN_EXT:
        return this.#newFun(at);
      case COMPRESSED:
        throw new EtfError("bad_compressed", tag, at, "COMPRESSED is only allowed right after the version byte");
      case LOCAL_EXT:
        throw new EtfError("local_ext", tag, at);
      default:
        throw new EtfError("unknown_tag", tag, at, `unknown tag ${tag}`);
    }
  }

  /**
   * Opens a container that takes `n` values, checked first to fit in the bytes left (every
   * value takes at least one byte: `minBytes` of them in all).
   */
  #open(kind: Kind, n: number, minBytes: number, at: number, fun?: FunHead): Term {
    const tag = this.#bytes[at]!;
    this.#need(this.pos, minBytes, tag, at);
    const k = this.#depth;
    if (k >= this.#maxDepth) this.#fail("too_deep", tag, at, `nested deeper than ${this.#maxDepth}`);
    this.#kinds[k] = kind;
    this.#items[k] = n <= PREALLOCATE ? new Array<Term>(n) : [];
    this.#filled[k] = 0;
    this.#wanted[k] = n;
    this.#ats[k] = at;
    this.#funs[k] = fun;
    this.#depth = k + 1;
    return OPENED;
  }

  #close(k: number): Term {
    const items = this.#items[k]!;
    switch (this.#kinds[k]) {
      case TUPLE:
        return new Tuple(items);
      case LIST:
        return items;
      case MAP: {
        const m = new ErlMap();
        for (let i = 0; i < items.length; i += 2) {
          m.set(items[i]!, items[i + 1]!);
          if (m.size !== (i >> 1) + 1) this.#fail("duplicate_key", MAP_EXT, this.#ats[k]!);
        }
        return m;
      }
      default: {
        const f = this.#funs[k]!;
        return new Fun(f.arity, f.uniq, f.index, f.module, f.oldIndex, f.oldUniq, f.pid, items);
      }
    }
  }

  /** An atom at `at` in any of its encodings. */
  #atom(at: number): Atom {
    const b = this.#bytes;
    if (at >= this.#end) this.#overrun(at + 1, undefined, at);
    const tag = b[at]!;
    let start: number;
    let n: number;
    switch (tag) {
      case SMALL_ATOM_UTF8_EXT:
      case SMALL_ATOM_EXT:
        this.#need(at, 2, tag, at);
        n = b[at + 1]!;
        start = at + 2;
        break;
      case ATOM_UTF8_EXT:
      case ATOM_EXT:
        this.#need(at, 3, tag, at);
        n = this.#u16(at + 1);
        start = at + 3;
        break;
      case ATOM_CACHE_REF: {
        this.#need(at, 2, tag, at);
        const index = b[at + 1]!;
        let a: Atom | undefined;
        try {
          a = this.#atomCache?.(index);
        } catch {
          a = undefined;
        }
        if (!(a instanceof Atom)) this.#fail("no_atom_cache", tag, at, `no atom in the cache at index ${index}`);
        this.pos = at + 2;
        return a;
      }
      default:
        this.#fail("bad_atom", tag, at, `expected an atom, found tag ${tag}`);
    }
    this.#need(start, n, tag, at);
    const latin = tag === ATOM_EXT || tag === SMALL_ATOM_EXT;
    const a = latin ? latin1Atom(b, start, n) : utf8Atom(b, start, n);
    if (a === undefined) this.#fail("bad_atom", tag, at, latin ? `an atom of ${n} characters` : "not UTF-8, or over 255 characters");
    this.pos = start + n;
    return a;
  }

  /** A magnitude of `n` little-endian bytes at `from`: a number when safe, else a bigint. */
  #big(from: number, n: number, negative: boolean): number | bigint {
    const b = this.#bytes;
    let top = from + n - 1;
    while (top >= from && b[top] === 0) top--;
    const len = top - from + 1;
    if (len <= 6 || (len === 7 && b[top]! <= MAX_SAFE_HIGH_BYTE)) {
      let v = 0;
      for (let i = top; i >= from; i--) v = v * 256 + b[i]!;
      return negative && v !== 0 ? -v : v;
    }
    let hex = "0x";
    for (let i = top; i >= from; i--) hex += HEX[b[i]!];
    const v = BigInt(hex);
    return negative ? -v : v;
  }

  /** An integer field inside another term (export arity, fun old index and uniq). */
  #integerField(at: number): number | bigint {
    const b = this.#bytes;
    const tag = b[at];
    if (tag !== SMALL_INTEGER_EXT && tag !== INTEGER_EXT && tag !== SMALL_BIG_EXT && tag !== LARGE_BIG_EXT) {
      if (at >= this.#end) this.#overrun(at + 1, undefined, at);
      this.#fail("bad_integer", tag, at, `expected an integer, found tag ${tag}`);
    }
    this.pos = at;
    return this.term() as number | bigint;
  }

  /** FLOAT_EXT: 31 bytes of `%.20e` text, NUL-padded; the emulator wants digits on both sides of the point. */
  #oldFloat(at: number): Float {
    const b = this.#bytes;
    this.#need(at, 1 + FLOAT_EXT_BYTES, FLOAT_EXT, at);
    let n = 0;
    while (n < FLOAT_EXT_BYTES && b[at + 1 + n] !== 0) n++;
    const text = latin1(b, at + 1, n);
    const f = FLOAT_EXT_SYNTAX.test(text) ? Number(text) : NaN;
    if (!Number.isFinite(f)) this.#fail("bad_float", FLOAT_EXT, at, `not a float: ${JSON.stringify(text)}`);
    this.pos = at + 1 + FLOAT_EXT_BYTES;
    return new Float(f);
  }

  #bitBinary(at: number): Uint8Array | BitBinary {
    const b = this.#bytes;
    this.#need(at, 6, BIT_BINARY_EXT, at);
    const n = this.#u32(at + 1);
    const bits = b[at + 5]!;
    this.#need(at + 6, n, BIT_BINARY_EXT, at);
    if (bits > 8 || (n === 0) !== (bits === 0)) {
      this.#fail("bad_bit_binary", BIT_BINARY_EXT, at, `${bits} bits in the last of ${n} bytes`);
    }
    this.pos = at + 6 + n;
    const bytes = b.subarray(at + 6, at + 6 + n);
    if (bits === 8 || n === 0) return bytes;
    // The unused low bits of the last byte are not part of the value: clear them (a copy only then).
    const mask = (0xff << (8 - bits)) & 0xff;
    if ((bytes[n - 1]! & ~mask) === 0) return new BitBinary(bytes, bits);
    const clean = Uint8Array.from(bytes);
    clean[n - 1]! &= mask;
    return new BitBinary(clean, bits);
  }

  /** A creation in a 1-byte field (old encodings) or a 4-byte one. */
  #creation(at: number, wide: boolean, tag: number, tagAt: number): number {
    if (wide) return this.#u32(at);
    const c = this.#bytes[at]!;
    if (c > OLD_CREATION) this.#fail("bad_creation", tag, tagAt, `creation ${c} in a 2-bit field`);
    return c;
  }

  #pid(at: number): Pid {
    const tag = this.#bytes[at]!;
    if (tag !== NEW_PID_EXT && tag !== PID_EXT) {
      if (at >= this.#end) this.#overrun(at + 1, undefined, at);
      this.#fail("bad_pid", tag, at, `expected a pid, found tag ${tag}`);
    }
    const node = this.#atom(at + 1);
    const p = this.pos;
    const wide = tag === NEW_PID_EXT;
    this.#need(p, wide ? 12 : 9, tag, at);
    this.pos = p + (wide ? 12 : 9);
    return new Pid(node, this.#u32(p), this.#u32(p + 4), this.#creation(p + 8, wide, tag, at));
  }

  #port(at: number): Port {
    const tag = this.#bytes[at]!;
    const node = this.#atom(at + 1);
    const p = this.pos;
    if (tag === V4_PORT_EXT) {
      this.#need(p, 12, tag, at);
      this.pos = p + 12;
      const id = (BigInt(this.#u32(p)) << 32n) | BigInt(this.#u32(p + 4));
      return new Port(node, id, this.#u32(p + 8));
    }
    const wide = tag === NEW_PORT_EXT;
    this.#need(p, wide ? 8 : 5, tag, at);
    this.pos = p + (wide ? 8 : 5);
    return new Port(node, BigInt(this.#u32(p)), this.#creation(p + 4, wide, tag, at));
  }

  #ref(at: number): Ref {
    const tag = this.#bytes[at]!;
    if (tag === REFERENCE_EXT) {
      const node = this.#atom(at + 1);
      const p = this.pos;
      this.#need(p, 5, tag, at);
      this.pos = p + 5;
      return new Ref(node, this.#creation(p + 4, false, tag, at), [this.#u32(p)]);
    }
    this.#need(at, 3, tag, at);
    const n = this.#u16(at + 1);
    if (n > REFERENCE_WORDS) this.#fail("bad_reference", tag, at, `${n} id words`);
    const node = this.#atom(at + 3);
    const p = this.pos;
    const wide = tag === NEWER_REFERENCE_EXT;
    const idsAt = p + (wide ? 4 : 1);
    this.#need(p, (wide ? 4 : 1) + 4 * n, tag, at);
    const creation = this.#creation(p, wide, tag, at);
    // Made at its size: an array grown by push starts with room for 17 words.
    const ids = new Array<number>(n);
    for (let i = 0; i < n; i++) ids[i] = this.#u32(idsAt + 4 * i);
    this.pos = idsAt + 4 * n;
    return new Ref(node, creation, ids);
  }

  /**
   * NEW_FUN_EXT: Size:32 Arity:8 Uniq:16/binary Index:32 NumFree:32 Module OldIndex OldUniq Pid
   * FreeVars. Size (from the Size field to the end of the fun) is not checked: the emulator
   * ignores it too, and the encoder computes it afresh.
   */
  #newFun(at: number): Term {
    const b = this.#bytes;
    this.#need(at, 1 + 4 + 1 + 16 + 4 + 4, NEW_FUN_EXT, at);
    const arity = b[at + 5]!;
    const uniq = b.subarray(at + 6, at + 22);
    const index = this.#u32(at + 22);
    const numFree = this.#u32(at + 26);
    const module = this.#atom(at + 30);
    const oldIndex = this.#integerField(this.pos);
    const oldUniq = this.#integerField(this.pos);
    const pid = this.#pid(this.pos);
    if (numFree === 0) return new Fun(arity, uniq, index, module, oldIndex, oldUniq, pid, []);
    return this.#open(FUN, numFree, numFree, at, { arity, uniq, index, module, oldIndex, oldUniq, pid });
  }
}
