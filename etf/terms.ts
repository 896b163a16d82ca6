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

/** An atom. Interned: `atom("ok") === atom("ok")`. */
export class Atom {
  static readonly #table = new Map<string, Atom>();

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
 * A map. Keys may be any term; `get` finds a key by Erlang equality (`termEquals`), with a fast
 * path for keys that are atoms, numbers and bigints.
 */
export class ErlMap {
  readonly #byIdentity = new Map<Term, Term>();
  readonly #entries: Array<[Term, Term]> = [];

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
    if (isIdentityKey(key)) return this.#byIdentity.get(key);
    for (const [k, v] of this.#entries) if (termEquals(k, key)) return v;
    return undefined;
  }

  has(key: Term): boolean {
    return this.get(key) !== undefined;
  }

  /** Sets `key`, replacing an equal key's value (maps have no duplicate keys). */
  set(key: Term, value: Term): this {
    for (const entry of this.#entries) {
      if (isIdentityKey(key) ? entry[0] === key : termEquals(entry[0], key)) {
        entry[1] = value;
        if (isIdentityKey(key)) this.#byIdentity.set(key, value);
        return this;
      }
    }
    this.#entries.push([key, value]);
    if (isIdentityKey(key)) this.#byIdentity.set(key, value);
    return this;
  }
}

function isIdentityKey(t: Term): boolean {
  return typeof t === "number" || typeof t === "bigint" || t instanceof Atom;
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

export function isBinary(t: Term | undefined): t is Uint8Array {
  return t instanceof Uint8Array;
}

export function isInteger(t: Term | undefined): t is number | bigint {
  return (typeof t === "number" && Number.isInteger(t)) || typeof t === "bigint";
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
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
      if (!(y instanceof BitBinary) || x.bits !== y.bits || !bytesEqual(x.bytes, y.bytes)) return false;
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
      if (!(y instanceof Ref) || x.node !== y.node || x.creation !== y.creation || x.ids.length !== y.ids.length) {
        return false;
      }
      if (x.ids.some((id, i) => id !== y.ids[i])) return false;
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
 * `[E1, ..., En | Tail]` in its one representation: a proper list (`Term[]`) when Tail is a proper
 * list, else an `ImproperList` whose tail is not a list.
 */
export function cons(elements: Term[], tail: Term): Term[] | ImproperList {
  if (Array.isArray(tail) || tail instanceof Charlist) return elements.concat(listElements(tail)!);
  if (tail instanceof ImproperList) return new ImproperList(elements.concat(tail.elements), tail.tail);
  if (elements.length === 0) throw new TypeError("an improper list needs at least one element");
  return new ImproperList(elements, tail);
}
