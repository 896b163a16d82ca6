/**
 * The TypeScript representation of Erlang terms: one type per Erlang type, written down once.
 *
 * | Erlang                      | TypeScript                                              |
 * | --------------------------- | ------------------------------------------------------- |
 * | integer                     | `number` when it is a safe integer, else `bigint`       |
 * | float                       | `Float` (so that `1.0` stays a float and `1` an integer)|
 * | atom                        | `Atom`, interned: compare with `===`                    |
 * | binary                      | `Uint8Array` (a `Buffer` is one); decoded as a view     |
 * | bitstring (not a binary)    | `BitBinary`                                             |
 * | list                        | `Term[]` for a proper list (`[]` is nil);               |
 * |                             | `Charlist` for what arrived as STRING_EXT;              |
 * |                             | `ImproperList` for `[H | T]` with T not a list          |
 * | tuple                       | `Tuple`                                                 |
 * | map                         | `ErlMap`                                                |
 * | pid, reference, port        | `Pid`, `Ref`, `Port`                                    |
 * | fun M:F/A, fun              | `ExportFun`, `Fun`                                      |
 *
 * A JS `string` is not a term: say `atom("ok")`, `charlist("abc")` or `Buffer.from("abc")`.
 * A `Charlist` and a `Term[]` of the same small integers are the same Erlang term (`termEquals`
 * says so); the decoder gives a `Charlist` for STRING_EXT so that a 64 KiB charlist stays a view
 * of the input, and the encoder writes a list of small integers as STRING_EXT, as
 * `term_to_binary/1` does.
 */

export type Term =
  | number
  | bigint
  | Float
  | Atom
  | Uint8Array
  | BitBinary
  | Charlist
  | Term[]
  | ImproperList
  | Tuple
  | ErlMap
  | Pid
  | Ref
  | Port
  | ExportFun
  | Fun;

/** The slot where etf/atoms.ts memoises an atom's wire form; of no use elsewhere. */
export const atomWireForm: unique symbol = Symbol("atomWireForm");

/** An atom. Interned: `atom("ok") === atom("ok")`. */
export class Atom {
  static readonly #table = new Map<string, Atom>();

  /** The encoded atom (see AtomWire in atoms.ts), null if it cannot be one; set on first encode. */
  [atomWireForm]: Int32Array | null | undefined = undefined;

  private constructor(readonly name: string) {}

  static of(name: string): Atom {
    let a = Atom.#table.get(name);
    if (a === undefined) {
      a = new Atom(name);
      Atom.#table.set(name, a);
    }
    return a;
  }

  toString(): string {
    return this.name;
  }
}

export function atom(name: string): Atom {
  return Atom.of(name);
}

/** Atoms the whole code base uses, made once. */
export const ok = atom("ok");
export const error = atom("error");
export const true_ = atom("true");
export const false_ = atom("false");
export const undefined_ = atom("undefined");

export function bool(value: boolean): Atom {
  return value ? true_ : false_;
}

/** An Erlang float; a distinct type so that `1.0` and `1` stay apart. */
export class Float {
  constructor(readonly value: number) {}
}

/** A bitstring whose size is not a whole number of bytes. `bits` (1-7) of the last byte count. */
export class BitBinary {
  constructor(
    readonly bytes: Uint8Array,
    readonly bits: number,
  ) {}
}

/** A list of bytes that arrived as STRING_EXT (or that a caller wants sent as one). */
export class Charlist {
  constructor(readonly bytes: Uint8Array) {}

  get length(): number {
    return this.bytes.length;
  }

  /** The bytes as a latin1 string (one character per list element). */
  toString(): string {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString("latin1");
  }

  toArray(): number[] {
    return Array.from(this.bytes);
  }
}

/** A charlist of the latin1 characters of `s` (each must be below 256). */
export function charlist(s: string): Charlist {
  return new Charlist(Buffer.from(s, "latin1"));
}

/** `[E1, ..., En | Tail]` where Tail is not a list and `elements` is not empty: make it with `cons`. */
export class ImproperList {
  constructor(
    readonly elements: Term[],
    readonly tail: Term,
  ) {}
}

export class Tuple {
  constructor(readonly elements: Term[]) {}

  get size(): number {
    return this.elements.length;
  }

  /** The element at 0-based position `i` (Erlang's `element(i + 1, T)`). */
  at(i: number): Term | undefined {
    return this.elements[i];
  }
}

export function tuple(...elements: Term[]): Tuple {
  return new Tuple(elements);
}

/**
 * A map. Keys may be any term and are found by Erlang equality (`termEquals`): atoms and integers
 * through a `Map` keyed by the value itself, other keys through a structural hash (`termHash`).
 * `entries()` keeps insertion order; the encoder sorts small maps as the emulator does.
 */
export class ErlMap {
  readonly #entries: Array<[Term, Term]> = [];
  /** Atom and integer keys (normalised so that `1` and `1n` meet) -> index in #entries. */
  readonly #byIdentity = new Map<Term, number>();
  /** termHash -> indexes in #entries, for every other key; made on the first such key. */
  #byHash: Map<number, number[]> | undefined;

  constructor(entries: Iterable<readonly [Term, Term]> = []) {
    for (const [k, v] of entries) this.set(k, v);
  }

  get size(): number {
    return this.#entries.length;
  }

  entries(): ReadonlyArray<readonly [Term, Term]> {
    return this.#entries;
  }

  get(key: Term): Term | undefined {
    const i = this.#find(key);
    return i < 0 ? undefined : this.#entries[i]![1];
  }

  has(key: Term): boolean {
    return this.#find(key) >= 0;
  }

  /** Sets `key`, replacing an equal key's value (maps have no duplicate keys). */
  set(key: Term, value: Term): this {
    const index = this.#entries.length;
    // The key's identity or hash is worked out once, to look it up and to file it if new.
    const id = identityKey(key);
    if (id !== undefined) {
      const i = this.#byIdentity.get(id);
      if (i !== undefined) {
        this.#entries[i]![1] = value;
        return this;
      }
      this.#byIdentity.set(id, index);
    } else {
      this.#byHash ??= new Map();
      const h = termHash(key);
      const bucket = this.#byHash.get(h);
      const i = this.#inBucket(bucket, key);
      if (i >= 0) {
        this.#entries[i]![1] = value;
        return this;
      }
      if (bucket === undefined) this.#byHash.set(h, [index]);
      else bucket.push(index);
    }
    this.#entries.push([key, value]);
    return this;
  }

  #find(key: Term): number {
    const id = identityKey(key);
    if (id !== undefined) return this.#byIdentity.get(id) ?? -1;
    return this.#inBucket(this.#byHash?.get(termHash(key)), key);
  }

  /** The index of the entry in `bucket` whose key equals `key`, or -1. */
  #inBucket(bucket: number[] | undefined, key: Term): number {
    if (bucket !== undefined) for (const i of bucket) if (termEquals(this.#entries[i]![0], key)) return i;
    return -1;
  }
}

/** The `Map` key standing for an atom or integer key, or undefined for any other key. */
function identityKey(t: Term): Term | undefined {
  if (t instanceof Atom) return t;
  if (typeof t === "number") return Number.isSafeInteger(t) ? t : BigInt(t);
  if (typeof t === "bigint") return t >= -MAX_SAFE && t <= MAX_SAFE ? Number(t) : t;
  return undefined;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A hash of `t` that agrees with `termEquals` (equal terms hash alike). It looks at a bounded part
 * of the term (a few levels, the first elements of long lists, the first bytes of long binaries),
 * so it costs little on big keys and is only a bucket index, never an identity.
 */
export function termHash(t: Term, depth = 3): number {
  if (typeof t === "number") return mixNumber(t);
  if (typeof t === "bigint") return mixNumber(Number(t));
  if (t instanceof Atom) return mixString(t.name, 0x41);
  if (t instanceof Float) return mixNumber(t.value === 0 ? 0 : t.value) ^ 0x5f;
  if (t instanceof Uint8Array) return mixBytes(t, 0x62);
  // The last byte of a bitstring holds unused bits that equality ignores: it is left out.
  if (t instanceof BitBinary) return mixBytes(t.bytes.subarray(0, t.bytes.length - 1), 0x74 + t.bits);
  if (t instanceof Charlist) {
    // Exactly as the list of the same integers hashes (below).
    let h = mixNumber(t.bytes.length) ^ 0x6c;
    for (let i = 0; i < Math.min(t.bytes.length, HASH_ELEMENTS); i++) h = mix(h, depth > 0 ? mixNumber(t.bytes[i]!) : 0);
    return h;
  }
  if (Array.isArray(t)) {
    let h = mixNumber(t.length) ^ 0x6c;
    for (let i = 0; i < Math.min(t.length, HASH_ELEMENTS); i++) h = mix(h, depth > 0 ? termHash(t[i]!, depth - 1) : 0);
    return h;
  }
  if (t instanceof Tuple) {
    let h = mixNumber(t.elements.length) ^ 0x7b;
    if (depth > 0) for (let i = 0; i < Math.min(t.elements.length, HASH_ELEMENTS); i++) h = mix(h, termHash(t.elements[i]!, depth - 1));
    return h;
  }
  if (t instanceof ImproperList) return mix(mixNumber(t.elements.length) ^ 0x7c, depth > 0 ? termHash(t.tail, depth - 1) : 0);
  if (t instanceof ErlMap) return mixNumber(t.size) ^ 0x23;
  if (t instanceof Pid) return mix(mixString(t.node.name, 0x3c), mix(t.id, t.serial));
  if (t instanceof Ref) return mixNumber(t.ids[0] ?? 0) ^ 0x52;
  if (t instanceof Port) return mixNumber(Number(t.id)) ^ 0x50;
  if (t instanceof ExportFun) return mix(mixString(t.function_.name, 0x66), t.arity);
  if (t instanceof Fun) return mix(mixString(t.module.name, 0x46), t.index);
  return 0;
}

const HASH_ELEMENTS = 8;
const HASH_BYTES = 64;

function mix(h: number, x: number): number {
  return Math.imul(h ^ x, 0x9e3779b1) ^ (h >>> 15);
}

function mixNumber(n: number): number {
  if (Number.isInteger(n) && Math.abs(n) <= 0x7fffffff) return mix(n | 0, 0x1f);
  return mixString(String(n), 0x2e);
}

function mixString(s: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) h = mix(h, s.charCodeAt(i));
  return h;
}

function mixBytes(b: Uint8Array, seed: number): number {
  let h = mix(seed, b.length);
  for (let i = 0; i < Math.min(b.length, HASH_BYTES); i++) h = mix(h, b[i]!);
  return h;
}

export class Pid {
  constructor(
    readonly node: Atom,
    readonly id: number,
    readonly serial: number,
    readonly creation: number,
  ) {}

  toString(): string {
    return `<${this.node.name}.${this.id}.${this.serial}>`;
  }
}

export class Ref {
  /** `ids`: 1 to 5 32-bit words, as NEWER_REFERENCE_EXT carries them. */
  constructor(
    readonly node: Atom,
    readonly creation: number,
    readonly ids: readonly number[],
  ) {}

  toString(): string {
    return `#Ref<${this.node.name}.${[...this.ids].reverse().join(".")}>`;
  }
}

export class Port {
  /** `id` is 64-bit in V4_PORT_EXT (OTP 24+). */
  constructor(
    readonly node: Atom,
    readonly id: bigint,
    readonly creation: number,
  ) {}

  toString(): string {
    return `#Port<${this.node.name}.${this.id}>`;
  }
}

/** `fun Module:Function/Arity` (EXPORT_EXT). */
export class ExportFun {
  constructor(
    readonly module: Atom,
    readonly function_: Atom,
    readonly arity: number,
  ) {}
}

/** A local fun (NEW_FUN_EXT): opaque here, carried so it can be sent back unchanged. */
export class Fun {
  constructor(
    readonly arity: number,
    readonly uniq: Uint8Array,
    readonly index: number,
    readonly module: Atom,
    readonly oldIndex: Term,
    readonly oldUniq: Term,
    readonly pid: Pid,
    readonly freeVars: Term[],
  ) {}
}

/** True when `t` is a tuple of `size` elements (any size when omitted) whose first is `tag`. */
export function isTagged(t: Term | undefined, tag: Atom, size?: number): t is Tuple {
  return t instanceof Tuple && t.elements[0] === tag && (size === undefined || t.elements.length === size);
}

export function isInteger(t: Term | undefined): t is number | bigint {
  return (typeof t === "number" && Number.isInteger(t)) || typeof t === "bigint";
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

/** Equal bitstrings of the same bit count: the unused low bits of the last byte do not count. */
function bitsEqual(x: BitBinary, y: BitBinary): boolean {
  const n = x.bytes.length;
  if (n !== y.bytes.length || n === 0) return n === y.bytes.length;
  const mask = (0xff << (8 - x.bits)) & 0xff;
  return bytesEqual(x.bytes.subarray(0, n - 1), y.bytes.subarray(0, n - 1)) && (x.bytes[n - 1]! & mask) === (y.bytes[n - 1]! & mask);
}

/** The elements of a proper list, whichever way it is represented; undefined if not one. */
export function listElements(t: Term): Term[] | undefined {
  if (Array.isArray(t)) return t;
  if (t instanceof Charlist) return t.toArray();
  return undefined;
}

/** Erlang's exact equality (`=:=`): `1 =/= 1.0`, a charlist equals the list of its bytes. */
export function termEquals(a: Term, b: Term): boolean {
  // An explicit stack: terms from the network can be nested deeper than the JS stack allows.
  const stack: Array<[Term, Term]> = [[a, b]];
  while (stack.length > 0) {
    const [x, y] = stack.pop()!;
    if (x === y) continue;
    if (typeof x === "number" || typeof x === "bigint") {
      if ((typeof y !== "number" && typeof y !== "bigint") || BigInt(x) !== BigInt(y)) return false;
      continue;
    }
    if (x instanceof Atom || y instanceof Atom) return false;
    if (x instanceof Float) {
      if (!(y instanceof Float) || !Object.is(x.value === 0 ? 0 : x.value, y.value === 0 ? 0 : y.value)) {
        // OTP 27 made 0.0 =/= -0.0; earlier releases compare them equal. We follow OTP 25/26.
        return false;
      }
      continue;
    }
    if (x instanceof Charlist || y instanceof Charlist || Array.isArray(x) || Array.isArray(y)) {
      const xs = listElements(x);
      const ys = listElements(y);
      if (xs === undefined || ys === undefined || xs.length !== ys.length) return false;
      for (let i = 0; i < xs.length; i++) stack.push([xs[i]!, ys[i]!]);
      continue;
    }
    if (x instanceof Uint8Array) {
      if (!(y instanceof Uint8Array) || !bytesEqual(x, y)) return false;
      continue;
    }
    if (x instanceof BitBinary) {
      if (!(y instanceof BitBinary) || x.bits !== y.bits || !bitsEqual(x, y)) return false;
      continue;
    }
    if (x instanceof ImproperList) {
      if (!(y instanceof ImproperList)) return false;
      // Built by `cons`, so the tail is never a list and the spines compare element by element.
      if (x.elements.length !== y.elements.length) return false;
      for (let i = 0; i < x.elements.length; i++) stack.push([x.elements[i]!, y.elements[i]!]);
      stack.push([x.tail, y.tail]);
      continue;
    }
    if (x instanceof Tuple) {
      if (!(y instanceof Tuple) || x.elements.length !== y.elements.length) return false;
      for (let i = 0; i < x.elements.length; i++) stack.push([x.elements[i]!, y.elements[i]!]);
      continue;
    }
    if (x instanceof ErlMap) {
      if (!(y instanceof ErlMap) || x.size !== y.size) return false;
      for (const [k, v] of x.entries()) {
        const w = y.get(k);
        if (w === undefined) return false;
        stack.push([v, w]);
      }
      continue;
    }
    if (x instanceof Pid) {
      if (!(y instanceof Pid) || x.node !== y.node || x.id !== y.id || x.serial !== y.serial || x.creation !== y.creation) {
        return false;
      }
      continue;
    }
    if (x instanceof Ref) {
      if (!(y instanceof Ref) || x.node !== y.node || x.creation !== y.creation || !refIdsEqual(x.ids, y.ids)) {
        return false;
      }
      continue;
    }
    if (x instanceof Port) {
      if (!(y instanceof Port) || x.node !== y.node || x.id !== y.id || x.creation !== y.creation) return false;
      continue;
    }
    if (x instanceof ExportFun) {
      if (!(y instanceof ExportFun) || x.module !== y.module || x.function_ !== y.function_ || x.arity !== y.arity) {
        return false;
      }
      continue;
    }
    if (x instanceof Fun) {
      if (
        !(y instanceof Fun) ||
        x.arity !== y.arity ||
        x.index !== y.index ||
        x.module !== y.module ||
        !bytesEqual(x.uniq, y.uniq) ||
        x.freeVars.length !== y.freeVars.length
      ) {
        return false;
      }
      stack.push([x.pid, y.pid], [x.oldIndex, y.oldIndex], [x.oldUniq, y.oldUniq]);
      for (let i = 0; i < x.freeVars.length; i++) stack.push([x.freeVars[i]!, y.freeVars[i]!]);
      continue;
    }
    return false;
  }
  return true;
}

/**
 * The emulator compares reference ids as one number, low word first, so ids that differ only by
 * high zero words (`[1]` and `[1, 0]`, as NEWER_REFERENCE_EXT can carry them) are equal.
 */
function refIdsEqual(a: readonly number[], b: readonly number[]): boolean {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return false;
  return true;
}

/**
 * `[E1, ..., En | Tail]` in its one representation: a proper list (`Term[]`) when Tail is a proper
 * list, else an `ImproperList` whose tail is not a list.
 */
export function cons(elements: Term[], tail: Term): Term[] | ImproperList {
  if (Array.isArray(tail) || tail instanceof Charlist) return elements.concat(listElements(tail)!);
  if (tail instanceof ImproperList) return new ImproperList(elements.concat(tail.elements), tail.tail);
  if (elements.length === 0) throw new TypeError("an improper list needs at least one element");
  return new ImproperList(elements, tail);
}
