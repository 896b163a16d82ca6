/**
 * The External Term Format encoder.
 *
 *   encode(term, { compressed? }): Buffer
 *     `131` and the term: the bytes of OTP's `term_to_binary(Term, [{minor_version, 2}])` for
 *     every term that has one encoding (a map of more than 32 keys is written in insertion
 *     order, where the emulator uses its hash order). `compressed: true` (zlib level 6) or a
 *     level 0-9 gives `term_to_binary(Term, [{compressed, Level}])`: kept only when smaller, as
 *     the emulator does (zlib output itself may differ from the emulator's byte for byte).
 *
 *   new Encoder({ chunkThreshold? }): a reusable byte builder (ByteBuilder, bytes.ts: u8, u16,
 *     u32, bytes, reserveU32/patchU32, finish/finishChunks/reset) that also writes terms:
 *     term(t) without the version byte, external(t) with it. Binaries of `chunkThreshold`
 *     bytes or more are handed over by reference in finishChunks() (an iovec for `writev`).
 *     If term() throws, the output under construction is discarded, as by reset().
 *
 * Integers are written by value (a `bigint` that fits in a byte is SMALL_INTEGER_EXT); a list of
 * at most 65535 integers 0..255 is STRING_EXT, as in the emulator. Anything that is not a term
 * (see terms.ts) throws EtfError with code `unencodable` and the output offset.
 *
 * Terms are walked with an explicit stack, so a term of any depth (a decoded one, say) encodes
 * without exhausting the JS stack. (Only the key order of maps whose keys are maps nested
 * thousands deep could: that is reported as EtfError `too_deep`.)
 */
import { EtfError, fromRangeError } from "./errors.js";
import { sortedEntries } from "./order.js";
import { atomWire, writeAtom } from "./atoms.js";
import { ByteBuilder, SLAB, writeU32 } from "./bytes.js";
import { compressTerm } from "./compressed.js";
import { Limit, Tag, VERSION_MAGIC } from "./tags.js";
import {
  Atom,
  BitBinary,
  Charlist,
  ErlMap,
  ExportFun,
  Float,
  Fun,
  ImproperList,
  Pid,
  Port,
  Ref,
  Tuple,
  atomWireForm,
  cons,
  type Term,
} from "./terms.js";

export interface EncodeOptions {
  /** `true` for zlib level 6 (the emulator's default), or a level 0-9; 0 means uncompressed. */
  compressed?: boolean | number;
}

const DEFAULT_LEVEL = 6;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const U64_LIMIT = 1n << 64n;
const PORT_ID_28 = 1n << 28n;
/**
 * Room made once per subterm, enough for any fixed-size part (a SMALL_BIG_EXT of a safe integer
 * is the longest, 10 bytes) and for most atoms; longer atoms, binaries and node names check for
 * more.
 */
const HEADROOM = 32;

/**
 * What the walk is inside of, which says how its items are read and what follows the last one.
 * ROOT is the term itself; MAP items are `[key, value]` entries, read as two terms each. TUPLE,
 * MAP and LIST (first) end in nothing or a NIL_EXT, so a container that is their last item can
 * take their place: the NIL_EXTs owed are counted and written once that container ends (a list
 * nested a thousand deep, each the last item of the one before, is one frame and then a thousand
 * NIL_EXTs, as the emulator writes it).
 *
 * Plain module constants, here and for the tags below: the optimising compiler folds those into
 * the code, where a const enum (an object in a `var` under isolatedModules) or a property of an
 * imported table is a load per use, and the walk makes several per subterm.
 */
const TUPLE = 0;
const MAP = 1;
const LIST = 2;
const ROOT = 3;
const IMPROPER = 4;
const FUN = 5;
type Frame = typeof TUPLE | typeof MAP | typeof LIST | typeof ROOT | typeof IMPROPER | typeof FUN;
const { SMALL_INTEGER_EXT, INTEGER_EXT, SMALL_TUPLE_EXT, LARGE_TUPLE_EXT, NIL_EXT, LIST_EXT, BINARY_EXT, MAP_EXT } = Tag;
const { STRING_EXT_LENGTH, FLATMAP_KEYS } = Limit;
/** Frames kept between walks; a deeper term's stack is let go once written. */
const KEPT_FRAMES = 1024;

type Entry = readonly [Term, Term];
const NO_ITEMS: readonly Term[] = [];

export class Encoder extends ByteBuilder {
  /**
   * The containers around the one being written, four slots each: its items, where it is at,
   * where it ends, and its Frame plus 8 times the NIL_EXTs owed after it. Kept across calls, so
   * a walk allocates nothing per container.
   */
  readonly #frames: unknown[] = [];
  /** By depth: the tail of the improper list, or the Size mark of the fun, open there. */
  readonly #tails: Array<Term | undefined> = [];
  readonly #marks: number[] = [];

  /** The version byte and the term. */
  external(t: Term): this {
    this.u8(VERSION_MAGIC);
    return this.term(t);
  }

  /** The term, without the version byte. */
  term(t: Term): this {
    try {
      this.#walk(t);
      if (this.#frames.length > 4 * KEPT_FRAMES) this.#dropFrames();
      return this;
    } catch (e) {
      this.reset();
      this.#dropFrames();
      // Sorting maps whose keys are maps nested thousands deep recurses through the term order,
      // and a term can be too big for a Buffer: both are the caller's term, not a bug here.
      throw e instanceof RangeError ? fromRangeError(e, this.length) : e;
    }
  }

  /**
   * Writes `root`, depth first, with an explicit stack: no recursion, so no depth limit, and
   * the output position stays in a local. Every subterm is one pass through the loop: make
   * room, find its type (commonest first), write it, or write a container's header and step
   * into its items.
   */
  #walk(root: Term): void {
    const frames = this.#frames;
    let sp = 0;
    let items: readonly unknown[] = NO_ITEMS;
    let i = 0;
    let end = 0;
    let kind: Frame = ROOT;
    // NIL_EXTs to write after the current container: those of lists it ends (see Frame).
    let nils = 0;
    let v = this.view;
    let cap = this.capacity;
    let p = this.pos;
    let t = root;
    for (;;) {
      if (p + HEADROOM > cap) {
        this.pos = p;
        this.ensure(HEADROOM);
        v = this.view;
        cap = this.capacity;
        p = this.pos;
      }
      // A container met sets these, to be stepped into below.
      let inner: readonly unknown[] | undefined;
      let innerEnd = 0;
      let innerKind: Frame = TUPLE;
      let innerTail: Term | undefined;
      let innerMark = 0;
      if (typeof t === "number") {
        if ((t | 0) === t && t >= 0 && t <= 0xff) {
          v.setUint16(p, (SMALL_INTEGER_EXT << 8) | t);
          p += 2;
        } else if ((t | 0) === t) {
          v.setUint8(p, INTEGER_EXT);
          v.setInt32(p + 1, t);
          p += 5;
        } else {
          this.pos = p;
          this.#integer(t);
          v = this.view;
          cap = this.capacity;
          p = this.pos;
        }
      } else if (Array.isArray(t)) {
        const n = t.length;
        if (n === 0) {
          v.setUint8(p++, NIL_EXT);
        } else if (n <= STRING_EXT_LENGTH && maybeByteList(t) && isByteList(t)) {
          this.pos = p;
          this.#byteList(t);
          v = this.view;
          cap = this.capacity;
          p = this.pos;
        } else {
          v.setUint8(p, LIST_EXT);
          v.setUint32(p + 1, n);
          p += 5;
          inner = t;
          innerEnd = n;
          innerKind = LIST;
        }
      } else if (t instanceof Atom) {
        const w = t[atomWireForm] ?? atomWire(t);
        if (w === undefined || w === null) this.#unencodable(p, `the atom name ${JSON.stringify(t.name.slice(0, 40))}`);
        // An atom of up to 30 bytes fits in the headroom already made.
        if (w.length > HEADROOM / 4 + 1 && p + 4 * w.length > cap) {
          this.pos = p;
          this.ensure(4 * w.length);
          v = this.view;
          cap = this.capacity;
          p = this.pos;
        }
        p += writeAtom(v, p, w);
      } else if (t instanceof Tuple) {
        const n = t.elements.length;
        if (n <= 0xff) {
          v.setUint16(p, (SMALL_TUPLE_EXT << 8) | n);
          p += 2;
        } else {
          v.setUint8(p, LARGE_TUPLE_EXT);
          v.setUint32(p + 1, n);
          p += 5;
        }
        if (n > 0) {
          inner = t.elements;
          innerEnd = n;
        }
      } else if (t instanceof Uint8Array) {
        v.setUint8(p, BINARY_EXT);
        v.setUint32(p + 1, t.length);
        this.pos = p + 5;
        this.bytes(t);
        v = this.view;
        cap = this.capacity;
        p = this.pos;
      } else if (t instanceof ErlMap) {
        const n = t.size;
        v.setUint8(p, MAP_EXT);
        v.setUint32(p + 1, n);
        p += 5;
        if (n > 0) {
          inner = n <= FLATMAP_KEYS ? sortedEntries(t) : t.entries();
          innerEnd = 2 * n;
          innerKind = MAP;
        }
      } else if (t instanceof ImproperList) {
        const tail = t.tail;
        const n = t.elements.length;
        if (n === 0 || Array.isArray(tail) || tail instanceof Charlist || tail instanceof ImproperList) {
          // `[1 | [2]]` is `[1, 2]`: written as the one list it stands for.
          t = n === 0 ? tail : cons(t.elements, tail);
          continue;
        }
        v.setUint8(p, LIST_EXT);
        v.setUint32(p + 1, n);
        p += 5;
        inner = t.elements;
        innerEnd = n;
        innerKind = IMPROPER;
        innerTail = tail;
      } else {
        this.pos = p;
        if (t instanceof Pid) this.#pid(t);
        else if (t instanceof Ref) this.#ref(t);
        else if (t instanceof Fun) {
          innerMark = this.#funHeader(t);
          inner = [t.oldIndex, t.oldUniq, t.pid, ...t.freeVars];
          innerEnd = inner.length;
          innerKind = FUN;
        } else this.#scalar(t);
        v = this.view;
        cap = this.capacity;
        p = this.pos;
      }
      if (inner !== undefined) {
        // The last item of a tuple, map or list takes its place, if what it owes can follow.
        const owed = kind === LIST ? nils + 1 : nils;
        if (i === end && kind <= LIST && (owed === 0 || innerKind <= LIST)) {
          nils = owed;
        } else {
          frames[4 * sp] = items;
          frames[4 * sp + 1] = i;
          frames[4 * sp + 2] = end;
          frames[4 * sp + 3] = kind + 8 * nils;
          sp++;
          nils = 0;
        }
        items = inner;
        i = 0;
        end = innerEnd;
        kind = innerKind;
        if (kind === IMPROPER) this.#tails[sp] = innerTail;
        else if (kind === FUN) this.#marks[sp] = innerMark;
      }
      // The next subterm: the next item, or, past the last, what ends each container left.
      for (;;) {
        if (i < end) {
          t = (kind === MAP ? (items[i >> 1] as Entry)[i & 1] : items[i]) as Term;
          i++;
          break;
        }
        const ended = kind;
        if (ended <= LIST) {
          const count = ended === LIST ? nils + 1 : nils;
          if (count > 0) {
            if (p + count > cap) {
              this.pos = p;
              this.ensure(count);
              v = this.view;
              cap = this.capacity;
              p = this.pos;
            }
            for (let k = 0; k < count; k++) v.setUint8(p + k, NIL_EXT);
            p += count;
          }
        } else if (ended === ROOT) {
          this.pos = p;
          return;
        } else if (ended === IMPROPER) {
          t = this.#tails[sp]!;
          this.#tails[sp] = undefined;
        } else if (ended === FUN) {
          this.pos = p;
          const mark = this.#marks[sp]!;
          this.patchU32(mark, this.length - mark);
        }
        sp--;
        items = frames[4 * sp] as readonly unknown[];
        frames[4 * sp] = NO_ITEMS;
        i = frames[4 * sp + 1] as number;
        end = frames[4 * sp + 2] as number;
        const packed = frames[4 * sp + 3] as number;
        kind = (packed & 7) as Frame;
        nils = packed >>> 3;
        // An improper list's tail comes after its elements, as a subterm of its own.
        if (ended === IMPROPER) break;
      }
    }
  }

  #dropFrames(): void {
    this.#frames.length = 0;
    this.#tails.length = 0;
    this.#marks.length = 0;
  }

  /** Throws EtfError `unencodable` at output position `p`. */
  #unencodable(p: number, what: string): never {
    this.pos = p;
    throw new EtfError("unencodable", undefined, this.length, what);
  }

  /** The terms that hold no other and are not on the walk's fast path. */
  #scalar(t: Term): void {
    if (typeof t === "bigint") {
      if (t >= INT32_MIN && t <= INT32_MAX) this.#integer(Number(t));
      else this.#bigint(t);
    } else if (t instanceof Float) {
      if (!Number.isFinite(t.value)) this.#unencodable(this.pos, `the float ${t.value}`);
      this.ensure(9);
      this.buf[this.pos] = Tag.NEW_FLOAT_EXT;
      this.buf.writeDoubleBE(t.value, this.pos + 1);
      this.pos += 9;
    } else if (t instanceof Charlist) {
      this.#charlist(t.bytes);
    } else if (t instanceof BitBinary) {
      this.#bitBinary(t);
    } else if (t instanceof Port) {
      if (typeof t.id !== "bigint" || t.id < 0n || t.id >= U64_LIMIT) this.#unencodable(this.pos, `port id ${t.id}`);
      // OTP 24+ writes V4_PORT_EXT only for ids past the 28 bits that NEW_PORT_EXT always carried.
      const wide = t.id >= PORT_ID_28;
      const p = this.#nodeHeader(wide ? Tag.V4_PORT_EXT : Tag.NEW_PORT_EXT, 1, t.node, 12);
      if (wide) writeU32(this.buf, p, Number(t.id >> 32n));
      writeU32(this.buf, wide ? p + 4 : p, Number(t.id & 0xffffffffn));
      this.pos = wide ? p + 8 : p + 4;
      this.#u32Field(t.creation, "creation");
    } else if (t instanceof ExportFun) {
      if (!Number.isSafeInteger(t.arity) || t.arity < 0) this.#unencodable(this.pos, `fun arity ${t.arity}`);
      this.u8(Tag.EXPORT_EXT);
      this.#atom(t.module);
      this.#atom(t.function_);
      this.#integer(t.arity);
    } else {
      this.#unencodable(this.pos, `not a term: ${describe(t)}`);
    }
  }

  #pid(t: Pid): void {
    if (!(isU32(t.id) && isU32(t.serial) && isU32(t.creation))) this.#unencodable(this.pos, `a pid field is not a 32-bit unsigned integer: ${t}`);
    const p = this.#nodeHeader(Tag.NEW_PID_EXT, 1, t.node, 12);
    const v = this.view;
    v.setUint32(p, t.id);
    v.setUint32(p + 4, t.serial);
    v.setUint32(p + 8, t.creation);
    this.pos = p + 12;
  }

  #ref(t: Ref): void {
    const ids = t.ids;
    const n = ids.length;
    if (n > Limit.REFERENCE_WORDS) this.#unencodable(this.pos, `a reference of ${n} words`);
    let valid = isU32(t.creation);
    for (let i = 0; i < n; i++) valid &&= isU32(ids[i]!);
    if (!valid) this.#unencodable(this.pos, `a reference field is not a 32-bit unsigned integer: ${t}`);
    // NEWER_REFERENCE_EXT has its word count before the node.
    const p = this.#nodeHeader((Tag.NEWER_REFERENCE_EXT << 16) | n, 3, t.node, 4 + 4 * n);
    const v = this.view;
    v.setUint32(p, t.creation);
    for (let i = 0; i < n; i++) v.setUint32(p + 4 + 4 * i, ids[i]!);
    this.pos = p + 4 + 4 * n;
  }

  /**
   * Writes the head of a pid, port or reference (the `size` low bytes of `head`: its tag, and a
   * reference's word count) and its node atom, and makes room for the `rest` bytes that follow;
   * returns where they go (the caller moves pos past them).
   */
  #nodeHeader(head: number, size: 1 | 3, node: Atom, rest: number): number {
    const w = node instanceof Atom ? (node[atomWireForm] ?? atomWire(node)) : undefined;
    if (w === undefined || w === null) this.#unencodable(this.pos, `a node name that is not an atom: ${describe(node)}`);
    this.ensure(size + w[0]! + Math.max(3, rest));
    const v = this.view;
    const p = this.pos;
    if (size === 1) {
      v.setUint8(p, head);
    } else {
      v.setUint8(p, head >>> 16);
      v.setUint16(p + 1, head);
    }
    return p + size + writeAtom(v, p + size, w);
  }

  /** A list of integers 0..255, as STRING_EXT. */
  #byteList(t: readonly Term[]): void {
    const n = t.length;
    this.ensure(3 + n);
    const b = this.buf;
    let p = this.pos;
    b[p] = Tag.STRING_EXT;
    b[p + 1] = n >> 8;
    b[p + 2] = n & 0xff;
    p += 3;
    for (let i = 0; i < n; i++) b[p++] = Number(t[i]);
    this.pos = p;
  }

  #integer(v: number): void {
    if ((v | 0) === v) {
      this.ensure(5);
      const b = this.buf;
      const p = this.pos;
      if (v >= 0 && v <= 0xff) {
        b[p] = Tag.SMALL_INTEGER_EXT;
        b[p + 1] = v;
        this.pos = p + 2;
      } else {
        b[p] = Tag.INTEGER_EXT;
        writeU32(b, p + 1, v);
        this.pos = p + 5;
      }
    } else if (Number.isSafeInteger(v)) {
      // Below 2^53: at most 7 digit bytes, computed without a bigint.
      let m = Math.abs(v);
      this.ensure(3 + 7);
      const b = this.buf;
      const at = this.pos;
      let n = 0;
      while (m > 0) {
        b[at + 3 + n++] = m % 256;
        m = Math.floor(m / 256);
      }
      b[at] = Tag.SMALL_BIG_EXT;
      b[at + 1] = n;
      b[at + 2] = v < 0 ? 1 : 0;
      this.pos = at + 3 + n;
    } else if (Number.isInteger(v)) {
      this.#bigint(BigInt(v));
    } else {
      this.#unencodable(this.pos, `the number ${v} (an integer must be integral; a float is a Float)`);
    }
  }

  #bigint(v: bigint): void {
    const negative = v < 0n;
    let hex = (negative ? -v : v).toString(16);
    if (hex.length % 2 === 1) hex = "0" + hex;
    const digits = Buffer.from(hex, "hex").reverse();
    const n = digits.length;
    if (n <= 0xff) this.u8(Tag.SMALL_BIG_EXT).u8(n);
    else this.u8(Tag.LARGE_BIG_EXT).u32(n);
    this.u8(negative ? 1 : 0);
    this.ensure(n);
    this.buf.set(digits, this.pos);
    this.pos += n;
  }

  #u32Field(v: number, what: string): this {
    if (!isU32(v)) this.#unencodable(this.pos, `${what} ${v} is not a 32-bit unsigned integer`);
    return this.u32(v);
  }

  #atom(a: Atom): void {
    const w = a instanceof Atom ? (a[atomWireForm] ?? atomWire(a)) : undefined;
    if (w === undefined) this.#unencodable(this.pos, `expected an atom: ${describe(a)}`);
    if (w === null) this.#unencodable(this.pos, `the atom name ${JSON.stringify(a.name.slice(0, 40))}`);
    this.ensure(w[0]! + 3);
    this.pos += writeAtom(this.view, this.pos, w);
  }

  #charlist(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n === 0) {
      this.u8(Tag.NIL_EXT);
    } else if (n <= Limit.STRING_EXT_LENGTH) {
      this.u8(Tag.STRING_EXT).u16(n);
      this.ensure(n);
      this.buf.set(bytes, this.pos);
      this.pos += n;
    } else {
      // Too long for STRING_EXT: a list of small integers, as the emulator writes it.
      this.ensure(5 + 2 * n + 1);
      const b = this.buf;
      let p = this.pos;
      b[p] = Tag.LIST_EXT;
      writeU32(b, p + 1, n);
      p += 5;
      for (let i = 0; i < n; i++) {
        b[p++] = Tag.SMALL_INTEGER_EXT;
        b[p++] = bytes[i]!;
      }
      b[p++] = Tag.NIL_EXT;
      this.pos = p;
    }
  }

  #bitBinary(t: BitBinary): void {
    const n = t.bytes.length;
    if (!Number.isInteger(t.bits) || t.bits < 1 || t.bits > 7 || n === 0) {
      this.#unencodable(this.pos, `a bitstring with ${t.bits} bits in the last of ${n} bytes`);
    }
    this.ensure(6 + n);
    const b = this.buf;
    b[this.pos] = Tag.BIT_BINARY_EXT;
    writeU32(b, this.pos + 1, n);
    b[this.pos + 5] = t.bits;
    b.set(t.bytes, this.pos + 6);
    // The unused low bits of the last byte are written as zeros, as the emulator does.
    b[this.pos + 5 + n]! &= (0xff << (8 - t.bits)) & 0xff;
    this.pos += 6 + n;
  }

  /**
   * NEW_FUN_EXT up to its free variables; returns where its Size field is, to be filled in once
   * they are written.
   */
  #funHeader(t: Fun): number {
    if (t.uniq.length !== Limit.FUN_UNIQ_BYTES) this.#unencodable(this.pos, `a fun uniq of ${t.uniq.length} bytes`);
    if (!isU32(t.arity) || t.arity > 0xff) this.#unencodable(this.pos, `fun arity ${t.arity}`);
    if (!(t.pid instanceof Pid)) this.#unencodable(this.pos, `a fun whose pid is ${describe(t.pid)}`);
    this.u8(Tag.NEW_FUN_EXT);
    const mark = this.reserveU32();
    this.u8(t.arity);
    this.ensure(16);
    this.buf.set(t.uniq, this.pos);
    this.pos += 16;
    this.#u32Field(t.index, "fun index").#u32Field(t.freeVars.length, "free variable count");
    this.#atom(t.module);
    return mark;
  }
}

function isU32(v: number): boolean {
  return v >>> 0 === v;
}

/** False when the first element already says the list is not one of bytes (most lists). */
function maybeByteList(t: readonly Term[]): boolean {
  const first = t[0];
  return typeof first === "number" || typeof first === "bigint";
}

/** True if every element is an integer 0..255 (so the list is written as STRING_EXT). */
function isByteList(t: readonly Term[]): boolean {
  for (const x of t) {
    if (typeof x === "number") {
      if (!(x >= 0 && x <= 0xff && Number.isInteger(x))) return false;
    } else if (typeof x === "bigint") {
      if (!(x >= 0n && x <= 0xffn)) return false;
    } else {
      return false;
    }
  }
  return true;
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (typeof x === "object") return `a ${(x as object).constructor?.name ?? "object"}`;
  return `${typeof x} ${String(x).slice(0, 40)}`;
}

/**
 * The encoder `encode` writes with. What it hands over is a view of its current slab, never
 * written again; measured faster than copying each output into a buffer of its own. A binary of
 * half a slab or more is referenced while the term is walked and copied once, into an output of
 * exactly the term's size: less to allocate and copy than growing the slab around it.
 */
const shared = new Encoder({ chunkThreshold: SLAB / 2 });

export function encode(term: Term, options?: EncodeOptions): Buffer {
  const out = shared.external(term).finish();
  const c = options?.compressed;
  const level = c === true ? DEFAULT_LEVEL : typeof c === "number" ? c : 0;
  if (level === 0) return out;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new EtfError("unencodable", undefined, 0, `compression level ${level}`);
  return compressTerm(out, level);
}
