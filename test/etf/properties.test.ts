/**
 * Properties of the codec, checked on random terms, some against a real `erl`:
 * - decode(encode(t)) = t;
 * - the node decodes our bytes to the same term and writes it back in exactly our bytes;
 * - compare/compareKeys agree with the node's term order and map-key order;
 * - formatTerm agrees with the node's ~w and ~p.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopAll } from "../support/erlang.js";
import {
  Atom,
  BitBinary,
  Charlist,
  ErlMap,
  ExportFun,
  ImproperList,
  Tuple,
  atom,
  termHash,
  Float,
  Fun,
  Pid,
  Port,
  Ref,
  compare,
  compareKeys,
  decode,
  encode,
  formatTerm,
  termEquals,
  type Term,
} from "../../etf/index.js";
import { exportFun, hasBigMap, leaf, localFun, term } from "./arbitraries.js";
import { hex } from "./helpers.js";
import { Oracle } from "./oracle.js";

let oracle: Oracle;
beforeAll(async () => {
  oracle = await Oracle.start();
});
afterAll(stopAll);

describe("round trip", () => {
  it("decode(encode(t)) = t", () => {
    fc.assert(
      fc.property(term({ bigMaps: true, funs: true }), (t) => {
        const bytes = encode(t);
        const back = decode(bytes);
        expect(termEquals(back, t)).toBe(true);
        // Encoding is a function of the term: the decoded term encodes to the same bytes.
        if (!hasBigMap(t)) expect(hex(encode(back))).toBe(hex(bytes));
      }),
      { numRuns: 5000 },
    );
  });

  it("decode(encode(t, compressed)) = t", () => {
    fc.assert(
      fc.property(term({ funs: true }), fc.integer({ min: 1, max: 9 }), (t, level) => {
        expect(termEquals(decode(encode(t, { compressed: level })), t)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

/**
 * The same term written another way: charlists as lists of integers, integers as bigints, a
 * reference with a high zero word, a bitstring with its unused bits set.
 */
function respelled(t: Term): Term {
  if (typeof t === "number") return Number.isInteger(t) ? BigInt(t) : t;
  if (typeof t === "bigint") return t >= -(2n ** 53n) + 1n && t <= 2n ** 53n - 1n ? Number(t) : t;
  if (t instanceof Charlist) return Array.from(t.bytes);
  if (Array.isArray(t)) return t.map(respelled);
  if (t instanceof Tuple) return new Tuple(t.elements.map(respelled));
  if (t instanceof ImproperList) return new ImproperList(t.elements.map(respelled), respelled(t.tail));
  if (t instanceof ErlMap) return new ErlMap(t.entries().map(([k, v]) => [respelled(k), respelled(v)] as [Term, Term]));
  if (t instanceof Ref && t.ids.length < 5) return new Ref(t.node, t.creation, [...t.ids, 0]);
  if (t instanceof BitBinary) {
    const b = Buffer.from(t.bytes);
    b[b.length - 1]! |= 0xff >> t.bits;
    return new BitBinary(b, t.bits);
  }
  return t;
}

describe("equality, hashing and order agree", () => {
  it("a term and the same term written another way are equal, hash alike, find each other, compare 0", () => {
    fc.assert(
      fc.property(term({ funs: true }), (t) => {
        const u = respelled(t);
        expect(termEquals(t, u)).toBe(true);
        expect(termHash(t)).toBe(termHash(u));
        expect(new ErlMap([[t, atom("found")]]).get(u)).toBe(atom("found"));
        expect(compare(t, u)).toBe(0);
        expect(compareKeys(t, u)).toBe(0);
        // (Bytes may differ: term_to_binary keeps a reference's word count.)
        expect(termEquals(decode(encode(u)), t)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("against erl", () => {
  it("random terms: the node reads our bytes as the same term and writes exactly our bytes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(term({ bigMaps: true, funs: true }), { minLength: 1, maxLength: 60 }), async (ts) => {
        const ours = ts.map((t) => encode(t));
        const theirs = await oracle.decodeEach(ours);
        ts.forEach((t, i) => {
          const back = theirs[i];
          expect(back, `refused: ${formatTerm(t)}`).toBeDefined();
          expect(termEquals(decode(back!), t), formatTerm(t)).toBe(true);
          if (!hasBigMap(t)) expect(hex(back!), formatTerm(t)).toBe(hex(ours[i]!));
        });
      }),
      { numRuns: 40 },
    );
  });

  it("term order and map-key order agree with the node", async () => {
    // Pairs of related terms (a term and a small change of it) say more than unrelated ones.
    const pair = fc.oneof(
      fc.tuple(term({ funs: true }), term({ funs: true })),
      fc.tuple(leaf, leaf),
      fc.tuple(fc.oneof(localFun(leaf), exportFun), fc.oneof(localFun(leaf), exportFun)),
      term({ funs: true }).chain((t) => fc.tuple(fc.constant(t), fc.constantFrom(t, [t], [t, t]))),
      fc.tuple(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })).map(([i, d]) => [i, new Float(d)] as [Term, Term]),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((b) => [b, new Float(Number(b))] as [Term, Term]),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(pair, { minLength: 1, maxLength: 80 }), async (pairs) => {
        const answers = await oracle.compareEach(pairs);
        pairs.forEach(([a, b], i) => {
          const [order, keys] = answers[i]!;
          expect(compare(a, b), `compare(${formatTerm(a)}, ${formatTerm(b)})`).toBe(order);
          expect(compareKeys(a, b), `compareKeys(${formatTerm(a)}, ${formatTerm(b)})`).toBe(keys);
        });
      }),
      { numRuns: 40 },
    );
  });

  it("formatTerm agrees with ~w and ~p", async () => {
    // Pids, references, ports and local funs print with a node index in Erlang, not a name.
    // The emulator prints the atoms of `fun M:F/A` byte by byte: only ASCII names compare.
    const ascii = (a: Atom) => /^[\x00-\x7f]*$/.test(a.name);
    const printable = leaf.filter(
      (t) =>
        !(t instanceof Pid || t instanceof Ref || t instanceof Port || t instanceof Fun) &&
        !(t instanceof ExportFun && !(ascii(t.module) && ascii(t.function_))),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(term({ leaves: printable }), { minLength: 1, maxLength: 60 }), async (ts) => {
        const answers = await oracle.formatEach(ts);
        ts.forEach((t, i) => {
          const [w, p] = answers[i]!;
          expect(formatTerm(t, { mode: "w", maxLength: Infinity })).toBe(w);
          expect(formatTerm(t, { mode: "p", maxLength: Infinity })).toBe(p);
        });
      }),
      { numRuns: 30 },
    );
  });
});
