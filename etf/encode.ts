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
 * Terms are walked recursively up to a depth of MAX_RECURSION, and with an explicit stack below
 * that, so a term of any depth (a decoded one, say) encodes without exhausting the JS stack.
 * (Only the key order of maps whose keys are maps nested thousands deep could: that is
 * reported as EtfError `too_deep`.)
 */
import { EtfError } from "./errors.js";
import { sortedEntries } from "./order.js";
import { atomWire } from "./atoms.js";
import { ByteBuilder } from "./bytes.js";
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
/**
 * Nesting handled by recursion (fast); deeper subterms go on an explicit stack. An unoptimised
 * #term frame is large: Node's default stack holds about 3,000 of them, so this leaves room.
 */
const MAX_RECURSION = 500;
const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const U64_LIMIT = 1n << 64n;
const PORT_ID_28 = 1n << 28n;

/** What to write once a container's elements are written. */
class Tail {
  constructor(readonly tail: Term) {}
}
/** The NIL ending a proper list. */
const NIL_TAIL = new Tail([]);
/** A NEW_FUN_EXT is complete: its Size field, reserved at `mark`, is filled in. */
class FunEnd {
  constructor(readonly mark: number) {}
}
type Closing = Tail | FunEnd | undefined;

export class Encoder extends ByteBuilder {
  /** Set by #open for the container it opened: what follows its elements. */
  #closing: Closing;

  /** The version byte and the term. */
  external(t: Term): this {
    this.u8(VERSION_MAGIC);
    return this.term(t);
  }

  /** The term, without the version byte. */
  term(t: Term): this {
    try {
      this.#term(t, 0);
      return this;
    } catch (e) {
      this.reset();
      // Sorting maps whose keys are maps nested thousands deep recurses through the term order,
      // and a term can be too big for a Buffer: both are the caller's term, not a bug here.
      if (e instanceof RangeError) {
        throw new EtfError(/call stack/.test(e.message) ? "too_deep" : "too_large", undefined, this.length, e.message);
      }
      throw e;
    }
  }

  #term(t: Term, depth: number): void {
    // The common terms first, written here without the generality of #open (the hot path).
    if (typeof t === "number") {
      if ((t | 0) === t) this.#int32(t);
      else this.#integer(t);
      return;
    }
    const c = (t as object | null | undefined)?.constructor;
    if (c === Atom) {
      this.#wire(t as Atom);
      return;
    }
    if (depth < MAX_RECURSION) {
      if (c === Tuple) {
        const els = (t as Tuple).elements;
        this.#tupleHeader(els.length);
        for (let i = 0; i < els.length; i++) this.#term(els[i]!, depth + 1);
        return;
      }
      if (c === Array && (t as Term[]).length > 0 && !(maybeByteList(t as Term[]) && isByteList(t as Term[]))) {
        const els = t as Term[];
        this.#listHeader(els.length);
        for (let i = 0; i < els.length; i++) this.#term(els[i]!, depth + 1);
        this.u8(Tag.NIL_EXT);
        return;
      }
      if (c === ErlMap) {
        const m = t as ErlMap;
        this.#mapHeader(m.size);
        const entries = m.size <= Limit.FLATMAP_KEYS ? sortedEntries(m) : m.entries();
        for (let i = 0; i < entries.length; i++) {
          const e = entries[i]!;
          this.#term(e[0], depth + 1);
          this.#term(e[1], depth + 1);
        }
        return;
      }
    }
    const kids = this.#open(t, c);
    if (kids === undefined) return;
    const closing = this.#closing;
    if (depth >= MAX_RECURSION) {
      this.#iterate(kids, closing);
      return;
    }
    for (let i = 0; i < kids.length; i++) this.#term(kids[i]!, depth + 1);
    if (closing === NIL_TAIL) this.u8(Tag.NIL_EXT);
    else if (closing instanceof Tail) this.#term(closing.tail, depth + 1);
    else if (closing !== undefined) this.patchU32(closing.mark, this.length - closing.mark);
  }

  #tupleHeader(n: number): void {
    this.ensure(5);
    const b = this.buf;
    const p = this.pos;
    if (n <= 0xff) {
      b[p] = Tag.SMALL_TUPLE_EXT;
      b[p + 1] = n;
      this.pos = p + 2;
    } else {
      b[p] = Tag.LARGE_TUPLE_EXT;
      this.pos = p + 1;
      this.u32(n);
    }
  }

  #listHeader(n: number): void {
    this.ensure(5);
    const b = this.buf;
    const p = this.pos;
    b[p] = Tag.LIST_EXT;
    b[p + 1] = n >>> 24;
    b[p + 2] = n >>> 16;
    b[p + 3] = n >>> 8;
    b[p + 4] = n;
    this.pos = p + 5;
  }

  /**
   * The elements `kids` and what closes them, walked with an explicit stack: the open sequences,
   * where each is at, and what closes each, as parallel arrays.
   */
  #iterate(kids: readonly Term[], closing: Closing): void {
    const seqs: Array<readonly Term[]> = [kids];
    const next: number[] = [0];
    const closings: Closing[] = [closing];
    let top = 0;
    while (top >= 0) {
      const items = seqs[top]!;
      const i = next[top]!;
      if (i < items.length) {
        next[top] = i + 1;
        const inner = this.#open(items[i]!);
        if (inner !== undefined) {
          top++;
          seqs[top] = inner;
          next[top] = 0;
          closings[top] = this.#closing;
        }
        continue;
      }
      const c = closings[top];
      top--;
      if (c === NIL_TAIL) {
        this.u8(Tag.NIL_EXT);
      } else if (c instanceof Tail) {
        top++;
        seqs[top] = [c.tail];
        next[top] = 0;
        closings[top] = undefined;
      } else if (c !== undefined) {
        this.patchU32(c.mark, this.length - c.mark);
      }
    }
  }

  #unencodable(what: string): never {
    throw new EtfError("unencodable", undefined, this.length, what);
  }

  /**
   * Writes a term that holds no other (integer, atom, binary, pid...) and returns undefined; or
   * writes the header of one that does and returns the terms it holds, in order, leaving in
   * #closing what follows them.
   */
  #open(t: Term, c: unknown = (t as object | null | undefined)?.constructor): readonly Term[] | undefined {
    if (typeof t === "number") {
      this.#integer(t);
      return undefined;
    }
    switch (c) {
      case Atom:
        this.#atom(t as Atom);
        return undefined;
      case Tuple:
        this.#tupleHeader((t as Tuple).elements.length);
        this.#closing = undefined;
        return (t as Tuple).elements;
      case Array:
        return this.#list(t as Term[]);
      case Buffer:
      case Uint8Array:
        this.#binary(t as Uint8Array);
        return undefined;
      case Pid:
        this.#pid(t as Pid);
        return undefined;
      case Ref:
        this.#ref(t as Ref);
        return undefined;
      case ImproperList:
        return this.#improper(t as ImproperList);
      case ErlMap:
        return this.#map(t as ErlMap);
      case Float:
        this.#float(t as Float);
        return undefined;
      case Charlist:
        this.#charlist((t as Charlist).bytes);
        return undefined;
    }
    return this.#openOther(t);
  }

  /** The rest of #open: rarer terms, and subclasses of the term types. */
  #openOther(t: Term): readonly Term[] | undefined {
    if (typeof t === "bigint") {
      if (t >= INT32_MIN && t <= INT32_MAX) this.#int32(Number(t));
      else this.#bigint(t);
    } else if (t instanceof Atom) {
      this.#atom(t);
    } else if (t instanceof Uint8Array) {
      this.#binary(t);
    } else if (Array.isArray(t)) {
      return this.#list(t);
    } else if (t instanceof Tuple) {
      return this.#open(new Tuple(t.elements));
    } else if (t instanceof ErlMap) {
      return this.#map(t);
    } else if (t instanceof Float) {
      this.#float(t);
    } else if (t instanceof Charlist) {
      this.#charlist(t.bytes);
    } else if (t instanceof ImproperList) {
      return this.#improper(t);
    } else if (t instanceof Ref) {
      this.#ref(t);
    } else if (t instanceof Pid) {
      this.#pid(t);
    } else if (t instanceof Port) {
      if (typeof t.id !== "bigint" || t.id < 0n || t.id >= U64_LIMIT) this.#unencodable(`port id ${t.id}`);
      // OTP 24+ writes V4_PORT_EXT only for ids past the 28 bits that NEW_PORT_EXT always carried.
      const wide = t.id >= PORT_ID_28;
      this.u8(wide ? Tag.V4_PORT_EXT : Tag.NEW_PORT_EXT);
      this.#atom(t.node);
      if (wide) this.u32(Number(t.id >> 32n));
      this.u32(Number(t.id & 0xffffffffn));
      this.#u32Field(t.creation, "creation");
    } else if (t instanceof BitBinary) {
      this.#bitBinary(t);
    } else if (t instanceof ExportFun) {
      if (!Number.isSafeInteger(t.arity) || t.arity < 0) this.#unencodable(`fun arity ${t.arity}`);
      this.u8(Tag.EXPORT_EXT);
      this.#atom(t.module);
      this.#atom(t.function_);
      this.#integer(t.arity);
    } else if (t instanceof Fun) {
      return this.#fun(t);
    } else {
      this.#unencodable(`not a term: ${describe(t)}`);
    }
    return undefined;
  }

  #mapHeader(n: number): void {
    this.ensure(5);
    const b = this.buf;
    const p = this.pos;
    b[p] = Tag.MAP_EXT;
    b[p + 1] = n >>> 24;
    b[p + 2] = n >>> 16;
    b[p + 3] = n >>> 8;
    b[p + 4] = n;
    this.pos = p + 5;
  }

  #map(t: ErlMap): readonly Term[] {
    this.#mapHeader(t.size);
    const entries = t.size <= Limit.FLATMAP_KEYS ? sortedEntries(t) : t.entries();
    const flat: Term[] = [];
    for (const [k, v] of entries) flat.push(k, v);
    this.#closing = undefined;
    return flat;
  }

  #pid(t: Pid): void {
    if (!(isU32(t.id) && isU32(t.serial) && isU32(t.creation))) this.#unencodable(`a pid field is not a 32-bit unsigned integer: ${t}`);
    const p = this.#nodeHeader(Tag.NEW_PID_EXT, t.node, 12);
    const b = this.buf;
    writeU32(b, p, t.id);
    writeU32(b, p + 4, t.serial);
    writeU32(b, p + 8, t.creation);
    this.pos = p + 12;
  }

  #ref(t: Ref): void {
    const ids = t.ids;
    const n = ids.length;
    if (n > Limit.REFERENCE_WORDS) this.#unencodable(`a reference of ${n} words`);
    if (!isU32(t.creation) || !ids.every(isU32)) this.#unencodable(`a reference field is not a 32-bit unsigned integer: ${t}`);
    // NEWER_REFERENCE_EXT has its word count before the node.
    this.ensure(3);
    this.buf[this.pos] = Tag.NEWER_REFERENCE_EXT;
    this.buf[this.pos + 1] = n >> 8;
    this.buf[this.pos + 2] = n;
    this.pos += 3;
    const p = this.#nodeHeader(-1, t.node, 4 + 4 * n);
    const b = this.buf;
    writeU32(b, p, t.creation);
    for (let i = 0; i < n; i++) writeU32(b, p + 4 + 4 * i, ids[i]!);
    this.pos = p + 4 + 4 * n;
  }

  /**
   * Writes `tag` (unless negative) and the node atom of a pid, port or reference, and makes room
   * for the `rest` bytes that follow; returns where they go (the caller moves pos past them).
   */
  #nodeHeader(tag: number, node: Atom, rest: number): number {
    const w = node instanceof Atom ? (node[atomWireForm] ?? atomWire(node)) : undefined;
    if (w === undefined || w === null) this.#unencodable(`a node name that is not an atom: ${describe(node)}`);
    const n = w.length;
    this.ensure(1 + n + rest);
    const b = this.buf;
    let p = this.pos;
    if (tag >= 0) b[p++] = tag;
    for (let i = 0; i < n; i++) b[p + i] = w[i]!;
    return p + n;
  }

  #float(t: Float): void {
    if (!Number.isFinite(t.value)) this.#unencodable(`the float ${t.value}`);
    this.ensure(9);
    this.buf[this.pos] = Tag.NEW_FLOAT_EXT;
    this.buf.writeDoubleBE(t.value, this.pos + 1);
    this.pos += 9;
  }

  #list(t: Term[]): readonly Term[] | undefined {
    const n = t.length;
    if (n === 0) {
      this.u8(Tag.NIL_EXT);
      return undefined;
    }
    if (n <= Limit.STRING_EXT_LENGTH && maybeByteList(t) && isByteList(t)) {
      this.ensure(3 + n);
      const b = this.buf;
      let p = this.pos;
      b[p] = Tag.STRING_EXT;
      b[p + 1] = n >> 8;
      b[p + 2] = n & 0xff;
      p += 3;
      for (let i = 0; i < n; i++) b[p++] = Number(t[i]);
      this.pos = p;
      return undefined;
    }
    this.#listHeader(n);
    this.#closing = NIL_TAIL;
    return t;
  }

  /** `[E1, ..., En | Tail]`, written as the one list it stands for: `[1 | [2]]` is `[1, 2]`. */
  #improper(t: ImproperList): readonly Term[] | undefined {
    const tail = t.tail;
    if (t.elements.length === 0 || Array.isArray(tail) || tail instanceof Charlist || tail instanceof ImproperList) {
      return this.#open(t.elements.length === 0 ? tail : cons(t.elements, tail));
    }
    this.#listHeader(t.elements.length);
    this.#closing = new Tail(tail);
    return t.elements;
  }

  #binary(t: Uint8Array): void {
    this.ensure(5);
    const b = this.buf;
    const p = this.pos;
    const n = t.length;
    b[p] = Tag.BINARY_EXT;
    b[p + 1] = n >>> 24;
    b[p + 2] = n >>> 16;
    b[p + 3] = n >>> 8;
    b[p + 4] = n;
    this.pos = p + 5;
    this.bytes(t);
  }

  /** SMALL_INTEGER_EXT or INTEGER_EXT for a 32-bit integer. */
  #int32(v: number): void {
    this.ensure(5);
    const b = this.buf;
    const p = this.pos;
    if (v >= 0 && v <= 0xff) {
      b[p] = Tag.SMALL_INTEGER_EXT;
      b[p + 1] = v;
      this.pos = p + 2;
    } else {
      b[p] = Tag.INTEGER_EXT;
      b[p + 1] = v >>> 24;
      b[p + 2] = v >>> 16;
      b[p + 3] = v >>> 8;
      b[p + 4] = v;
      this.pos = p + 5;
    }
  }

  #integer(v: number): void {
    if ((v | 0) === v) {
      this.#int32(v);
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
      this.#unencodable(`the number ${v} (an integer must be integral; a float is a Float)`);
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
    if (v >>> 0 !== v) this.#unencodable(`${what} ${v} is not a 32-bit unsigned integer`);
    return this.u32(v);
  }

  #atom(a: Atom): void {
    if (!(a instanceof Atom)) this.#unencodable(`expected an atom: ${describe(a)}`);
    this.#wire(a);
  }

  /** An atom known to be one: its memoised wire form. */
  #wire(a: Atom): void {
    const w = a[atomWireForm] ?? atomWire(a);
    if (w === undefined || w === null) this.#unencodable(`the atom name ${JSON.stringify(a.name.slice(0, 40))}`);
    const n = w.length;
    this.ensure(n);
    const b = this.buf;
    const p = this.pos;
    for (let i = 0; i < n; i++) b[p + i] = w[i]!;
    this.pos = p + n;
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
      this.#listHeader(n);
      this.ensure(2 * n + 1);
      const b = this.buf;
      let p = this.pos;
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
      this.#unencodable(`a bitstring with ${t.bits} bits in the last of ${n} bytes`);
    }
    this.ensure(6 + n);
    const b = this.buf;
    b[this.pos] = Tag.BIT_BINARY_EXT;
    b.writeUInt32BE(n, this.pos + 1);
    b[this.pos + 5] = t.bits;
    b.set(t.bytes, this.pos + 6);
    // The unused low bits of the last byte are written as zeros, as the emulator does.
    b[this.pos + 5 + n]! &= (0xff << (8 - t.bits)) & 0xff;
    this.pos += 6 + n;
  }

  /** NEW_FUN_EXT; its Size field is filled in once the free variables are written. */
  #fun(t: Fun): readonly Term[] {
    if (t.uniq.length !== Limit.FUN_UNIQ_BYTES) this.#unencodable(`a fun uniq of ${t.uniq.length} bytes`);
    if (t.arity >>> 0 !== t.arity || t.arity > 0xff) this.#unencodable(`fun arity ${t.arity}`);
    if (!(t.pid instanceof Pid)) this.#unencodable(`a fun whose pid is ${describe(t.pid)}`);
    this.u8(Tag.NEW_FUN_EXT);
    const mark = this.reserveU32();
    this.u8(t.arity);
    this.ensure(16);
    this.buf.set(t.uniq, this.pos);
    this.pos += 16;
    this.#u32Field(t.index, "fun index").#u32Field(t.freeVars.length, "free variable count");
    this.#atom(t.module);
    this.#closing = new FunEnd(mark);
    return [t.oldIndex, t.oldUniq, t.pid, ...t.freeVars];
  }
}

function isU32(v: number): boolean {
  return v >>> 0 === v;
}

function writeU32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = v >>> 16;
  b[p + 2] = v >>> 8;
  b[p + 3] = v;
}

/** True if every element is an integer 0..255 (so the list is written as STRING_EXT). */
/** False when the first element already says the list is not one of bytes (most lists). */
function maybeByteList(t: readonly Term[]): boolean {
  const first = t[0];
  return typeof first === "number" || typeof first === "bigint";
}

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
 * written again; measured faster than copying each output into a buffer of its own.
 */
const shared = new Encoder();

export function encode(term: Term, options?: EncodeOptions): Buffer {
  const out = shared.external(term).finish();
  const c = options?.compressed;
  const level = c === true ? DEFAULT_LEVEL : typeof c === "number" ? c : 0;
  if (level === 0) return out;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new EtfError("unencodable", undefined, 0, `compression level ${level}`);
  return compressTerm(out, level);
}
