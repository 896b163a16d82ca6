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
 *   new Encoder({ chunkThreshold? }): a growable byte builder, reusable across outputs.
 *     u8/u16/u32/bytes write raw bytes, term(t) writes a term without the version byte,
 *     external(t) writes it with one, reserveU32()/patchU32() leave a length to fill in later.
 *     finish() hands over the output as one Buffer; finishChunks() as a list of chunks
 *     (an iovec for `writev`) in which binaries of `chunkThreshold` bytes or more are the
 *     caller's own memory, not copies. Bytes handed over are never written again.
 *     If term() throws, the output under construction is discarded, as by reset().
 *
 * Integers are written by value (a `bigint` that fits in a byte is SMALL_INTEGER_EXT); a list of
 * at most 65535 integers 0..255 is STRING_EXT, as in the emulator. Anything that is not a term
 * (see terms.ts) throws EtfError with code `unencodable` and the output offset.
 */
import { deflateSync } from "node:zlib";
import { EtfError } from "./errors.js";
import { sortedEntries } from "./order.js";
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
  cons,
  type Term,
} from "./terms.js";

export interface EncodeOptions {
  /** `true` for zlib level 6 (the emulator's default), or a level 0-9; 0 means uncompressed. */
  compressed?: boolean | number;
}

const SLAB = 16 * 1024;
const DEFAULT_LEVEL = 6;

/** The remaining elements of a tuple, list or map still to be written, from `from` on. */
class Seq {
  constructor(
    readonly items: readonly Term[],
    public from: number,
  ) {}
}

/** Written when a NEW_FUN_EXT is complete: its Size field, reserved at `mark`, is filled in. */
class FunEnd {
  constructor(readonly mark: number) {}
}

type Work = Term | Seq | FunEnd;

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const U64_LIMIT = 1n << 64n;
const PORT_ID_28 = 1n << 28n;

export class Encoder {
  #buf: Buffer;
  /** Where the output under construction starts in #buf (what is before it was handed over). */
  #start = 0;
  #pos = 0;
  /** Parts of the output already closed off because a large binary was referenced after them. */
  #chunks: Uint8Array[] = [];
  #chunked = 0;
  readonly #chunkThreshold: number;
  readonly #atoms = new Map<Atom, Buffer>();

  constructor(options?: { chunkThreshold?: number; initialSize?: number }) {
    this.#chunkThreshold = options?.chunkThreshold ?? Infinity;
    this.#buf = Buffer.allocUnsafe(options?.initialSize ?? SLAB);
  }

  /** Bytes in the output under construction. */
  get length(): number {
    return this.#chunked + this.#pos - this.#start;
  }

  /** Room for `n` more bytes; only the output under construction moves to a new buffer. */
  #ensure(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const used = this.#pos - this.#start;
    const next = Buffer.allocUnsafe(Math.max(SLAB, 2 * (used + n)));
    this.#buf.copy(next, 0, this.#start, this.#pos);
    this.#buf = next;
    this.#start = 0;
    this.#pos = used;
  }

  u8(v: number): this {
    this.#ensure(1);
    this.#buf[this.#pos++] = v;
    return this;
  }

  u16(v: number): this {
    this.#ensure(2);
    this.#buf.writeUInt16BE(v, this.#pos);
    this.#pos += 2;
    return this;
  }

  u32(v: number): this {
    this.#ensure(4);
    this.#buf.writeUInt32BE(v, this.#pos);
    this.#pos += 4;
    return this;
  }

  /** Raw bytes: copied, or referenced as a chunk of their own when at least chunkThreshold long. */
  bytes(b: Uint8Array): this {
    if (b.length >= this.#chunkThreshold) {
      if (this.#pos > this.#start) this.#chunks.push(this.#buf.subarray(this.#start, this.#pos));
      this.#chunks.push(b);
      this.#chunked += this.#pos - this.#start + b.length;
      this.#start = this.#pos;
      return this;
    }
    this.#ensure(b.length);
    this.#buf.set(b, this.#pos);
    this.#pos += b.length;
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
      this.#buf.writeUInt32BE(v, this.#start + mark - this.#chunked);
      return this;
    }
    // The mark is in a closed-off part: always one of our own buffers, since reserved bytes are.
    let at = mark;
    for (const c of this.#chunks) {
      if (at < c.length) {
        (c as Buffer).writeUInt32BE(v, at);
        return this;
      }
      at -= c.length;
    }
    throw new RangeError(`no reserved bytes at ${mark}`);
  }

  /** The output so far as one Buffer (a view of the encoder's memory unless chunks were referenced). */
  finish(): Buffer {
    const tail = this.#buf.subarray(this.#start, this.#pos);
    const out = this.#chunks.length === 0 ? tail : Buffer.concat([...this.#chunks, tail]);
    this.#handOver();
    return out;
  }

  /** The output so far as chunks to write in order (large binaries are not copied). */
  finishChunks(): Uint8Array[] {
    const out = this.#chunks;
    if (this.#pos > this.#start) out.push(this.#buf.subarray(this.#start, this.#pos));
    this.#handOver();
    return out;
  }

  /** Drops the output under construction. */
  reset(): this {
    this.#pos = this.#start;
    this.#chunks = [];
    this.#chunked = 0;
    return this;
  }

  #handOver(): void {
    this.#start = this.#pos;
    this.#chunks = [];
    this.#chunked = 0;
  }

  /** The version byte and the term. */
  external(t: Term): this {
    this.u8(VERSION_MAGIC);
    return this.term(t);
  }

  /** The term, without the version byte. */
  term(t: Term): this {
    try {
      if (this.#scalar(t)) return this;
      const stack: Work[] = [];
      this.#container(t, stack);
      while (stack.length > 0) {
        const w = stack.pop()!;
        if (w instanceof Seq) this.#seq(w, stack);
        else if (w instanceof FunEnd) this.patchU32(w.mark, this.length - w.mark);
        else if (!this.#scalar(w)) this.#container(w, stack);
      }
      return this;
    } catch (e) {
      this.reset();
      throw e;
    }
  }

  #unencodable(what: string): never {
    throw new EtfError("unencodable", undefined, this.length, what);
  }

  /** Writes the elements of `s` in order until one is a container, which it opens and leaves. */
  #seq(s: Seq, stack: Work[]): void {
    const items = s.items;
    for (let i = s.from; i < items.length; i++) {
      const x = items[i]!;
      if (this.#scalar(x)) continue;
      if (i + 1 < items.length) {
        s.from = i + 1;
        stack.push(s);
      }
      this.#container(x, stack);
      return;
    }
  }

  /** Writes `t` if it holds no other term to walk (numbers, atoms, binaries, pids...). */
  #scalar(t: Term): boolean {
    if (typeof t === "number") {
      this.#integer(t);
      return true;
    }
    if (t instanceof Atom) {
      this.#atom(t);
      return true;
    }
    if (Array.isArray(t)) {
      if (t.length > 0) return false;
      this.u8(Tag.NIL_EXT);
      return true;
    }
    if (t instanceof Uint8Array) {
      this.#ensure(5);
      this.#buf[this.#pos] = Tag.BINARY_EXT;
      this.#buf.writeUInt32BE(t.length, this.#pos + 1);
      this.#pos += 5;
      this.bytes(t);
      return true;
    }
    if (typeof t === "bigint") {
      if (t >= INT32_MIN && t <= INT32_MAX) this.#integer(Number(t));
      else this.#bigint(t);
      return true;
    }
    if (t instanceof Float) {
      if (!Number.isFinite(t.value)) this.#unencodable(`the float ${t.value}`);
      this.#ensure(9);
      this.#buf[this.#pos] = Tag.NEW_FLOAT_EXT;
      this.#buf.writeDoubleBE(t.value, this.#pos + 1);
      this.#pos += 9;
      return true;
    }
    if (t instanceof Charlist) {
      this.#charlist(t.bytes);
      return true;
    }
    if (t instanceof Pid) {
      this.u8(Tag.NEW_PID_EXT);
      this.#atom(t.node);
      this.#u32Field(t.id, "pid id").#u32Field(t.serial, "pid serial").#u32Field(t.creation, "creation");
      return true;
    }
    if (t instanceof Ref) {
      if (t.ids.length > Limit.REFERENCE_WORDS) this.#unencodable(`a reference of ${t.ids.length} words`);
      this.u8(Tag.NEWER_REFERENCE_EXT).u16(t.ids.length);
      this.#atom(t.node);
      this.#u32Field(t.creation, "creation");
      for (const id of t.ids) this.#u32Field(id, "reference id");
      return true;
    }
    if (t instanceof Port) {
      if (typeof t.id !== "bigint" || t.id < 0n || t.id >= U64_LIMIT) this.#unencodable(`port id ${t.id}`);
      // OTP 24+ writes V4_PORT_EXT only for ids past the 28 bits that NEW_PORT_EXT always carried.
      const wide = t.id >= PORT_ID_28;
      this.u8(wide ? Tag.V4_PORT_EXT : Tag.NEW_PORT_EXT);
      this.#atom(t.node);
      if (wide) this.u32(Number(t.id >> 32n));
      this.u32(Number(t.id & 0xffffffffn));
      this.#u32Field(t.creation, "creation");
      return true;
    }
    if (t instanceof BitBinary) {
      this.#bitBinary(t);
      return true;
    }
    if (t instanceof ExportFun) {
      if (!Number.isSafeInteger(t.arity) || t.arity < 0) this.#unencodable(`fun arity ${t.arity}`);
      this.u8(Tag.EXPORT_EXT);
      this.#atom(t.module);
      this.#atom(t.function_);
      this.#integer(t.arity);
      return true;
    }
    return false;
  }

  /** Writes the header of a term that holds others and queues what it holds. */
  #container(t: Term, stack: Work[]): void {
    if (Array.isArray(t)) {
      if (t.length <= Limit.STRING_EXT_LENGTH && isByteList(t)) {
        this.#ensure(3 + t.length);
        const b = this.#buf;
        let p = this.#pos;
        b[p] = Tag.STRING_EXT;
        b[p + 1] = t.length >> 8;
        b[p + 2] = t.length & 0xff;
        p += 3;
        for (const x of t) b[p++] = Number(x);
        this.#pos = p;
        return;
      }
      this.#listHeader(t.length);
      stack.push([], new Seq(t, 0));
      return;
    }
    if (t instanceof Tuple) {
      const n = t.elements.length;
      if (n <= 0xff) this.u8(Tag.SMALL_TUPLE_EXT).u8(n);
      else this.u8(Tag.LARGE_TUPLE_EXT).u32(n);
      if (n > 0) stack.push(new Seq(t.elements, 0));
      return;
    }
    if (t instanceof ErlMap) {
      this.u8(Tag.MAP_EXT).u32(t.size);
      const entries = t.size <= Limit.FLATMAP_KEYS ? sortedEntries(t) : t.entries();
      const flat: Term[] = [];
      for (const [k, v] of entries) flat.push(k, v);
      if (flat.length > 0) stack.push(new Seq(flat, 0));
      return;
    }
    if (t instanceof ImproperList) {
      // Written as the one list it stands for: `[1 | [2]]` is `[1, 2]`, `[ | T]` is T.
      const tail = t.tail;
      if (t.elements.length === 0 || Array.isArray(tail) || tail instanceof Charlist || tail instanceof ImproperList) {
        const normal = t.elements.length === 0 ? tail : cons(t.elements, tail);
        if (!this.#scalar(normal)) this.#container(normal, stack);
        return;
      }
      this.#listHeader(t.elements.length);
      stack.push(tail, new Seq(t.elements, 0));
      return;
    }
    if (t instanceof Fun) {
      this.#fun(t, stack);
      return;
    }
    this.#unencodable(`not a term: ${describe(t)}`);
  }

  #listHeader(n: number): void {
    this.#ensure(5);
    this.#buf[this.#pos] = Tag.LIST_EXT;
    this.#buf.writeUInt32BE(n, this.#pos + 1);
    this.#pos += 5;
  }

  #integer(v: number): void {
    if (v >= 0 && v <= 0xff && Number.isInteger(v)) {
      this.#ensure(2);
      this.#buf[this.#pos] = Tag.SMALL_INTEGER_EXT;
      this.#buf[this.#pos + 1] = v;
      this.#pos += 2;
    } else if (v >= INT32_MIN && v <= INT32_MAX && Number.isInteger(v)) {
      this.#ensure(5);
      this.#buf[this.#pos] = Tag.INTEGER_EXT;
      this.#buf.writeInt32BE(v, this.#pos + 1);
      this.#pos += 5;
    } else if (Number.isSafeInteger(v)) {
      // Below 2^53: at most 7 digit bytes, computed without a bigint.
      let m = Math.abs(v);
      this.#ensure(3 + 7);
      const b = this.#buf;
      const at = this.#pos;
      let n = 0;
      while (m > 0) {
        b[at + 3 + n++] = m % 256;
        m = Math.floor(m / 256);
      }
      b[at] = Tag.SMALL_BIG_EXT;
      b[at + 1] = n;
      b[at + 2] = v < 0 ? 1 : 0;
      this.#pos = at + 3 + n;
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
    this.#ensure(n);
    this.#buf.set(digits, this.#pos);
    this.#pos += n;
  }

  #u32Field(v: number, what: string): this {
    if (v >>> 0 !== v) this.#unencodable(`${what} ${v} is not a 32-bit unsigned integer`);
    return this.u32(v);
  }

  #atom(a: Atom): void {
    if (!(a instanceof Atom)) this.#unencodable(`expected an atom: ${describe(a)}`);
    let enc = this.#atoms.get(a);
    if (enc === undefined) {
      enc = atomBytes(a);
      if (enc === undefined) this.#unencodable(`the atom name ${JSON.stringify(a.name.slice(0, 40))}`);
      this.#atoms.set(a, enc);
    }
    this.#ensure(enc.length);
    this.#buf.set(enc, this.#pos);
    this.#pos += enc.length;
  }

  #charlist(bytes: Uint8Array): void {
    const n = bytes.length;
    if (n === 0) {
      this.u8(Tag.NIL_EXT);
    } else if (n <= Limit.STRING_EXT_LENGTH) {
      this.u8(Tag.STRING_EXT).u16(n);
      this.#ensure(n);
      this.#buf.set(bytes, this.#pos);
      this.#pos += n;
    } else {
      // Too long for STRING_EXT: a list of small integers, as the emulator writes it.
      this.#listHeader(n);
      this.#ensure(2 * n + 1);
      const b = this.#buf;
      let p = this.#pos;
      for (let i = 0; i < n; i++) {
        b[p++] = Tag.SMALL_INTEGER_EXT;
        b[p++] = bytes[i]!;
      }
      b[p++] = Tag.NIL_EXT;
      this.#pos = p;
    }
  }

  #bitBinary(t: BitBinary): void {
    const n = t.bytes.length;
    if (!Number.isInteger(t.bits) || t.bits < 1 || t.bits > 7 || n === 0) {
      this.#unencodable(`a bitstring with ${t.bits} bits in the last of ${n} bytes`);
    }
    this.#ensure(6 + n);
    const b = this.#buf;
    b[this.#pos] = Tag.BIT_BINARY_EXT;
    b.writeUInt32BE(n, this.#pos + 1);
    b[this.#pos + 5] = t.bits;
    b.set(t.bytes, this.#pos + 6);
    // The unused low bits of the last byte are written as zeros, as the emulator does.
    b[this.#pos + 5 + n]! &= (0xff << (8 - t.bits)) & 0xff;
    this.#pos += 6 + n;
  }

  /** NEW_FUN_EXT; its Size field is filled in once the free variables are written. */
  #fun(t: Fun, stack: Work[]): void {
    if (t.uniq.length !== Limit.FUN_UNIQ_BYTES) this.#unencodable(`a fun uniq of ${t.uniq.length} bytes`);
    if (t.arity >>> 0 !== t.arity || t.arity > 0xff) this.#unencodable(`fun arity ${t.arity}`);
    if (!(t.pid instanceof Pid)) this.#unencodable(`a fun whose pid is ${describe(t.pid)}`);
    this.u8(Tag.NEW_FUN_EXT);
    const mark = this.reserveU32();
    this.u8(t.arity);
    this.bytes(Buffer.from(t.uniq.buffer, t.uniq.byteOffset, t.uniq.length));
    this.#u32Field(t.index, "fun index").#u32Field(t.freeVars.length, "free variable count");
    this.#atom(t.module);
    stack.push(new FunEnd(mark));
    if (t.freeVars.length > 0) stack.push(new Seq(t.freeVars, 0));
    stack.push(t.pid, t.oldUniq, t.oldIndex);
  }
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

const SURROGATE = /[\uD800-\uDFFF]/;

/** SMALL_ATOM_UTF8_EXT or ATOM_UTF8_EXT, or undefined if the name cannot be an atom. */
function atomBytes(a: Atom): Buffer | undefined {
  const name = a.name;
  if (typeof name !== "string" || SURROGATE.test(name.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ""))) return undefined;
  let chars = 0;
  for (const _ of name) chars++;
  if (chars > Limit.ATOM_CHARACTERS) return undefined;
  const utf8 = Buffer.from(name, "utf8");
  const small = utf8.length <= 0xff;
  const out = Buffer.allocUnsafe((small ? 2 : 3) + utf8.length);
  if (small) {
    out[0] = Tag.SMALL_ATOM_UTF8_EXT;
    out[1] = utf8.length;
  } else {
    out[0] = Tag.ATOM_UTF8_EXT;
    out.writeUInt16BE(utf8.length, 1);
  }
  utf8.copy(out, small ? 2 : 3);
  return out;
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (typeof x === "object") return `a ${(x as object).constructor?.name ?? "object"}`;
  return `${typeof x} ${String(x).slice(0, 40)}`;
}

/** The encoder `encode` writes with; what it hands over is never written again. */
const shared = new Encoder();

export function encode(term: Term, options?: EncodeOptions): Buffer {
  const out = shared.external(term).finish();
  const c = options?.compressed;
  const level = c === true ? DEFAULT_LEVEL : typeof c === "number" ? c : 0;
  if (level === 0) return out;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new EtfError("unencodable", undefined, 0, `compression level ${level}`);
  return compress(out, level);
}

/**
 * `131, 80, UncompressedSize:32, zlib data`, kept only when the zlib data is at most 5 bytes
 * shorter than the term it replaces (the emulator gives deflate that much room, no more).
 */
function compress(external: Buffer, level: number): Buffer {
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
