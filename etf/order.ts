/**
 * Erlang's term order.
 *
 *   compare(a, b): -1 | 0 | 1
 *     The order of `<`, `==` and `lists:sort/1`: number < atom < reference < fun < port < pid
 *     < tuple < map < nil < list < bitstring; `1 == 1.0` (compare gives 0).
 *   compareKeys(a, b): -1 | 0 | 1
 *     The order of map keys (and of `=:=`): the same, except that every integer sorts before
 *     every float, so `1` and `1.0` are distinct. Small maps are written in this order.
 *
 * Both walk the terms with an explicit stack (terms from the network can be deeper than the JS
 * stack). The details that are easy to get wrong are checked against OTP 25 (random pairs of
 * terms compared by a real node, test/etf/properties.test.ts): pids compare by serial and number
 * before their node, ports and references by node and creation first, reference ids as one
 * little-endian number.
 */
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
  type Term,
} from "./terms.js";

export type Order = -1 | 0 | 1;

export function compare(a: Term, b: Term): Order {
  return quick(a, b) ?? walk(a, b, false);
}

export function compareKeys(a: Term, b: Term): Order {
  return quick(a, b) ?? walk(a, b, true);
}

/** Atoms and small integers, the usual map keys, without setting up a walk. */
function quick(a: Term, b: Term): Order | undefined {
  if (a instanceof Atom && b instanceof Atom) return atoms(a, b);
  if (typeof a === "number" && typeof b === "number") return cmp(a, b);
  return undefined;
}

/** Entries sorted by key in map-key order: the order `term_to_binary` writes a small map in. */
export function sortedEntries(m: ErlMap): Array<readonly [Term, Term]> {
  return [...m.entries()].sort((x, y) => compareKeys(x[0], y[0]));
}

const enum Rank {
  Number,
  Atom,
  Reference,
  Fun,
  Port,
  Pid,
  Tuple,
  Map,
  Nil,
  List,
  Bitstring,
}

function rank(t: Term): Rank {
  if (typeof t === "number" || typeof t === "bigint" || t instanceof Float) return Rank.Number;
  if (t instanceof Atom) return Rank.Atom;
  if (Array.isArray(t)) return t.length === 0 ? Rank.Nil : Rank.List;
  if (t instanceof Charlist) return t.bytes.length === 0 ? Rank.Nil : Rank.List;
  if (t instanceof ImproperList) return Rank.List;
  if (t instanceof Tuple) return Rank.Tuple;
  if (t instanceof Uint8Array || t instanceof BitBinary) return Rank.Bitstring;
  if (t instanceof ErlMap) return Rank.Map;
  if (t instanceof Pid) return Rank.Pid;
  if (t instanceof Ref) return Rank.Reference;
  if (t instanceof Port) return Rank.Port;
  return Rank.Fun;
}

function sign(x: number): Order {
  return x < 0 ? -1 : x > 0 ? 1 : 0;
}

function cmp<T extends number | bigint | string>(x: T, y: T): Order {
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * A pair still to compare, and whether in map-key order. A `Rest` stands for the unread part of
 * a list, so that long lists are compared cell by cell without being flattened first.
 */
type Pair = [Term | Rest, Term | Rest, boolean];

class Rest {
  constructor(
    readonly elements: ArrayLike<Term>,
    readonly from: number,
    readonly tail: Term,
  ) {}
}

function walk(a0: Term, b0: Term, exact0: boolean): Order {
  const stack: Pair[] = [[a0, b0, exact0]];
  while (stack.length > 0) {
    const [a, b, exact] = stack.pop()!;
    if (a instanceof Rest || b instanceof Rest) {
      const r = listStep(asRest(a), asRest(b), exact, stack);
      if (r !== 0) return r;
      continue;
    }
    if (a === b) continue;
    const ra = rank(a);
    const rb = rank(b);
    if (ra !== rb) return ra < rb ? -1 : 1;
    let r: Order = 0;
    switch (ra) {
      case Rank.Number:
        r = numbers(a as number | bigint | Float, b as number | bigint | Float, exact);
        break;
      case Rank.Atom:
        r = atoms(a as Atom, b as Atom);
        break;
      case Rank.Nil:
        break;
      case Rank.List:
        r = listStep(asRest(a), asRest(b), exact, stack);
        break;
      case Rank.Tuple: {
        const x = (a as Tuple).elements;
        const y = (b as Tuple).elements;
        r = cmp(x.length, y.length);
        for (let i = x.length - 1; r === 0 && i >= 0; i--) stack.push([x[i]!, y[i]!, exact]);
        break;
      }
      case Rank.Map:
        r = maps(a as ErlMap, b as ErlMap, exact, stack);
        break;
      case Rank.Bitstring:
        r = bitstrings(a as Uint8Array | BitBinary, b as Uint8Array | BitBinary);
        break;
      case Rank.Pid: {
        const x = a as Pid;
        const y = b as Pid;
        r = cmp(x.serial, y.serial) || cmp(x.id, y.id) || atoms(x.node, y.node) || cmp(x.creation, y.creation);
        break;
      }
      case Rank.Port: {
        const x = a as Port;
        const y = b as Port;
        r = atoms(x.node, y.node) || cmp(x.creation, y.creation) || cmp(x.id, y.id);
        break;
      }
      case Rank.Reference: {
        const x = a as Ref;
        const y = b as Ref;
        r = atoms(x.node, y.node) || cmp(x.creation, y.creation) || refIds(x.ids, y.ids);
        break;
      }
      case Rank.Fun:
        r = funs(a as ExportFun | Fun, b as ExportFun | Fun, exact, stack);
        break;
    }
    if (r !== 0) return r;
  }
  return 0;
}

function asRest(t: Term | Rest): Rest {
  if (t instanceof Rest) return t;
  if (Array.isArray(t)) return new Rest(t, 0, []);
  if (t instanceof Charlist) return new Rest(t.bytes as unknown as ArrayLike<Term>, 0, []);
  if (t instanceof ImproperList) return new Rest(t.elements, 0, t.tail);
  // A non-list tail met while walking a list: a one-off "rest" that is just that term.
  return new Rest([], 0, t);
}

/** Compares the heads of two list remainders, queueing the rest of both lists behind them. */
function listStep(x: Rest, y: Rest, exact: boolean, stack: Pair[]): Order {
  const xEmpty = x.from >= x.elements.length;
  const yEmpty = y.from >= y.elements.length;
  if (xEmpty || yEmpty) {
    // Past the cells of one list: what is left there is its tail ([] or a non-list term).
    const xl: Term = xEmpty ? x.tail : restAsTerm(x);
    const yl: Term = yEmpty ? y.tail : restAsTerm(y);
    stack.push([xl, yl, exact]);
    return 0;
  }
  stack.push([new Rest(x.elements, x.from + 1, x.tail), new Rest(y.elements, y.from + 1, y.tail), exact]);
  stack.push([x.elements[x.from]!, y.elements[y.from]!, exact]);
  return 0;
}

function restAsTerm(r: Rest): Term {
  const elements = Array.from(r.elements).slice(r.from);
  return Array.isArray(r.tail) && r.tail.length === 0 ? elements : new ImproperList(elements, r.tail);
}

function numbers(a: number | bigint | Float, b: number | bigint | Float, exact: boolean): Order {
  const af = a instanceof Float;
  const bf = b instanceof Float;
  if (exact && af !== bf) return af ? 1 : -1;
  // Relational operators compare numbers with bigints exactly, and integers here are exact.
  const x = af ? a.value : a;
  const y = bf ? b.value : b;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Atom names in code point order (the order of their UTF-8 bytes), not UTF-16 unit order. */
function atoms(a: Atom, b: Atom): Order {
  if (a === b) return 0;
  const x = a.name;
  const y = b.name;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const cx = x.charCodeAt(i);
    const cy = y.charCodeAt(i);
    if (cx !== cy) return cmp(codePointRank(cx), codePointRank(cy));
  }
  return cmp(x.length, y.length);
}

/** Moves surrogates above U+E000-U+FFFF, so that UTF-16 units sort like code points. */
function codePointRank(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit;
}

function bitstrings(a: Uint8Array | BitBinary, b: Uint8Array | BitBinary): Order {
  const x = a instanceof BitBinary ? a.bytes : a;
  const y = b instanceof BitBinary ? b.bytes : b;
  const xBits = a instanceof BitBinary ? (x.length - 1) * 8 + a.bits : x.length * 8;
  const yBits = b instanceof BitBinary ? (y.length - 1) * 8 + b.bits : y.length * 8;
  const common = Math.min(xBits, yBits);
  const whole = common >> 3;
  const r = sign(Buffer.compare(view(x, whole), view(y, whole)));
  if (r !== 0) return r;
  const rest = common & 7;
  if (rest > 0) {
    const mask = (0xff << (8 - rest)) & 0xff;
    const d = cmp(x[whole]! & mask, y[whole]! & mask);
    if (d !== 0) return d;
  }
  return cmp(xBits, yBits);
}

function view(b: Uint8Array, n: number): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, n);
}

/** Reference ids are one number, least significant word first. */
function refIds(x: readonly number[], y: readonly number[]): Order {
  for (let i = Math.max(x.length, y.length) - 1; i >= 0; i--) {
    const d = cmp(x[i] ?? 0, y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** By size, then keys in map-key order, then values in the order of their keys. */
function maps(a: ErlMap, b: ErlMap, exact: boolean, stack: Pair[]): Order {
  const r = cmp(a.size, b.size);
  if (r !== 0) return r;
  const x = sortedEntries(a);
  const y = sortedEntries(b);
  for (let i = x.length - 1; i >= 0; i--) stack.push([x[i]![1], y[i]![1], exact]);
  for (let i = x.length - 1; i >= 0; i--) stack.push([x[i]![0], y[i]![0], true]);
  return 0;
}

/**
 * Local funs sort before export funs; exports by module, name, arity; local funs by module,
 * index, old uniq, number of free variables, then the free variables (as OTP 25 does).
 */
function funs(a: ExportFun | Fun, b: ExportFun | Fun, exact: boolean, stack: Pair[]): Order {
  if (a instanceof ExportFun || b instanceof ExportFun) {
    if (!(a instanceof ExportFun)) return -1;
    if (!(b instanceof ExportFun)) return 1;
    return atoms(a.module, b.module) || atoms(a.function_, b.function_) || cmp(a.arity, b.arity);
  }
  const r = atoms(a.module, b.module);
  if (r !== 0) return r;
  // The emulator takes the sign of a 32-bit C difference (which wraps), for index and old uniq.
  const d = sign((a.index - b.index) | 0) || sign((Number(a.oldUniq) - Number(b.oldUniq)) | 0);
  if (d !== 0) return d;
  const n = cmp(a.freeVars.length, b.freeVars.length);
  if (n !== 0) return n;
  for (let i = a.freeVars.length - 1; i >= 0; i--) stack.push([a.freeVars[i]!, b.freeVars[i]!, exact]);
  return 0;
}
