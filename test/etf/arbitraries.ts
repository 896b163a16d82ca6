/**
 * fast-check generators of Erlang terms in their one representation (etf/terms.ts), with the
 * edge values each tag has: integer limits, big magnitudes, subnormal and signed-zero floats,
 * long and non-ASCII atoms, every bitstring tail length, 32-bit creations, 64-bit port ids.
 */
import fc from "fast-check";
import {
  BitBinary,
  Charlist,
  ErlMap,
  ExportFun,
  Float,
  Fun,
  ImproperList,
  Limit,
  Pid,
  Port,
  Ref,
  Tag,
  Tuple,
  atom,
  cons,
  encode,
  type Atom,
  type Term,
} from "../../etf/index.js";

const u32 = fc.integer({ min: 0, max: 0xffffffff });

const integer: fc.Arbitrary<Term> = fc.oneof(
  fc.integer({ min: 0, max: 255 }),
  fc.constantFrom(0, 255, 256, -1, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).filter((b) => b > BigInt(Number.MAX_SAFE_INTEGER) || b < -BigInt(Number.MAX_SAFE_INTEGER)),
  fc.constantFrom(2n ** 53n, -(2n ** 53n), 2n ** 2040n - 1n, 2n ** 2040n, -(2n ** 2040n)),
  fc.bigInt({ min: -(2n ** 3000n), max: 2n ** 3000n }),
);

const float: fc.Arbitrary<Term> = fc
  .oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1e21))
  .map((v) => new Float(v));

const atomName = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-z][a-zA-Z0-9_@]{0,12}$/) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom("", "ok", "a".repeat(255), "é".repeat(255), "\u{1F600}".repeat(255), "é".repeat(128), "Ok", "a b", "'") },
);

const anAtom: fc.Arbitrary<Atom> = atomName.map(atom);

const nodeName = fc.constantFrom("a@b", "node@host", "ts_ssl_bridge@h", "x@y", "\u00e9@h").map(atom);

const pid = fc.tuple(nodeName, u32, u32, u32).map(([n, id, serial, creation]) => new Pid(n, id, serial, creation));
const ref = fc
  .tuple(nodeName, u32, fc.array(u32, { minLength: 1, maxLength: 5 }))
  .map(([n, creation, ids]) => new Ref(n, creation, ids));
const port = fc
  .tuple(nodeName, fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 28n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })), u32)
  .map(([n, id, creation]) => new Port(n, id, creation));
export const exportFun = fc
  .tuple(fc.oneof(anAtom, fc.constantFrom(atom("m"), atom("n"))), anAtom, fc.integer({ min: 0, max: 255 }))
  .map(([m, f, a]) => new ExportFun(m, f, a));

/**
 * A local fun with free variables from `freeVar`. The uniq is random: the emulator keys its fun
 * table by module, uniq and index, and funs that share those share one table entry.
 */
export function localFun(freeVar: fc.Arbitrary<Term>): fc.Arbitrary<Term> {
  return fc
    .tuple(
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      u32,
      fc.oneof(anAtom, fc.constantFrom(atom("m"), atom("n"))),
      fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 ** 27 })),
      fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
      pid,
      fc.array(freeVar, { maxLength: 3 }),
    )
    .map(([arity, uniq, index, module, oldIndex, oldUniq, p, free]) => new Fun(arity, Buffer.from(uniq), index, module, oldIndex, oldUniq, p, free));
}

const binary: fc.Arbitrary<Term> = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
  fc.constantFrom(Buffer.alloc(0), Buffer.alloc(300, 1)),
);
const bitBinary: fc.Arbitrary<Term> = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 10 }), fc.integer({ min: 1, max: 7 }))
  .map(([b, bits]) => {
    const bytes = Buffer.from(b);
    bytes[bytes.length - 1]! &= (0xff << (8 - bits)) & 0xff;
    return new BitBinary(bytes, bits);
  });
const charlist: fc.Arbitrary<Term> = fc.uint8Array({ minLength: 1, maxLength: 30 }).map((b) => new Charlist(Buffer.from(b)));

export const leaf: fc.Arbitrary<Term> = fc.oneof(
  { weight: 4, arbitrary: integer },
  { weight: 2, arbitrary: float },
  { weight: 4, arbitrary: anAtom },
  { weight: 2, arbitrary: binary },
  { weight: 1, arbitrary: bitBinary },
  { weight: 1, arbitrary: charlist },
  { weight: 1, arbitrary: fc.constant([] as Term) },
  { weight: 1, arbitrary: pid },
  { weight: 1, arbitrary: ref },
  { weight: 1, arbitrary: port },
  { weight: 1, arbitrary: exportFun },
);

export interface TermOptions {
  /** Include maps of more than 32 keys (no canonical byte order). */
  bigMaps?: boolean;
  /** Include local funs (NEW_FUN_EXT). */
  funs?: boolean;
  /** The leaves to build from (default: every kind). */
  leaves?: fc.Arbitrary<Term>;
  maxDepth?: number;
}

export function term(options: TermOptions = {}): fc.Arbitrary<Term> {
  const leaves = options.leaves ?? leaf;
  return fc.letrec<{ term: Term }>((tie) => {
    const t = tie("term");
    const containers: Array<fc.WeightedArbitrary<Term>> = [
      { weight: 2, arbitrary: fc.array(t, { maxLength: 5 }).map((xs) => new Tuple(xs)) },
      { weight: 2, arbitrary: fc.array(t, { maxLength: 5 }) },
      { weight: 1, arbitrary: fc.tuple(fc.array(t, { minLength: 1, maxLength: 4 }), leaves).map(([xs, tail]) => cons(xs, tail)) },
      { weight: 1, arbitrary: fc.array(fc.tuple(t, t), { maxLength: 6 }).map((es) => new ErlMap(es)) },
    ];
    if (options.bigMaps) {
      containers.push({
        weight: 1,
        arbitrary: fc.array(fc.tuple(leaves, t), { minLength: 33, maxLength: 40 }).map((es) => new ErlMap(es)),
      });
    }
    if (options.funs) containers.push({ weight: 1, arbitrary: localFun(t) });
    return {
      term: fc.oneof({ depthSize: "small", maxDepth: options.maxDepth ?? 4, withCrossShrink: true }, { weight: 8, arbitrary: leaves }, ...containers),
    };
  }).term;
}

/** True if `t` holds a map of more than 32 keys somewhere (written in no canonical order). */
export function hasBigMap(t: Term): boolean {
  const stack: Term[] = [t];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x instanceof ErlMap) {
      if (x.size > Limit.FLATMAP_KEYS) return true;
      for (const [k, v] of x.entries()) stack.push(k, v);
    } else if (x instanceof Tuple) stack.push(...x.elements);
    else if (Array.isArray(x)) stack.push(...x);
    else if (x instanceof Fun) stack.push(...x.freeVars);
    else if (x instanceof ImproperList) stack.push(...x.elements, x.tail);
  }
  return false;
}

/** One change to a byte string: positions are taken modulo its length. */
type Mutation =
  | { kind: "set"; at: number; value: number }
  | { kind: "word"; at: number; value: number }
  | { kind: "insert"; at: number; value: number }
  | { kind: "delete"; at: number }
  | { kind: "truncate"; at: number }
  | { kind: "repeat"; at: number; length: number };

/** A uniform position (fast-check otherwise favours small numbers, and so the version byte). */
const at = fc.noBias(fc.nat());
const interestingByte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 1, 2, 3, 7, 8, 0x7f, 0x80, 0xfe, 0xff));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("set" as const), at, value: interestingByte }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("word" as const), at, value: fc.constantFrom(0, 1, 0xffffffff, 0x7fffffff, 0x80000000, 0x10000, 0xffff) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("insert" as const), at, value: interestingByte }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), at }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("repeat" as const), at, length: fc.integer({ min: 1, max: 16 }) }) },
);

function mutate(bytes: Uint8Array, mutations: readonly Mutation[]): Buffer {
  let b = Buffer.from(bytes);
  for (const m of mutations) {
    // The version byte is left alone unless the string is that byte alone.
    const i = b.length <= 1 ? 0 : 1 + (m.at % (b.length - 1));
    switch (m.kind) {
      case "set":
        if (b.length > 0) b[i] = m.value;
        break;
      case "word":
        if (b.length >= 4) b.writeUInt32BE(m.value >>> 0, Math.min(i, b.length - 4));
        break;
      case "insert":
        b = Buffer.concat([b.subarray(0, i), Buffer.from([m.value]), b.subarray(i)]);
        break;
      case "delete":
        b = Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
        break;
      case "truncate":
        b = b.subarray(0, i);
        break;
      case "repeat":
        b = Buffer.concat([b.subarray(0, i + m.length), b.subarray(i)]);
        break;
    }
  }
  return b;
}

/** Valid external terms with a few bytes changed: the inputs that reach deepest into a decoder. */
export function mutated(options: TermOptions = { funs: true }): fc.Arbitrary<Buffer> {
  return fc.tuple(term(options), fc.boolean(), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([t, compressed, ms]) => mutate(encode(t, compressed ? { compressed: true } : {}), ms));
}

/** Byte strings that start like a term (version byte, then a real tag) and go on at random. */
export const randomTerm: fc.Arbitrary<Buffer> = fc
  .tuple(fc.constantFrom(...Object.values(Tag)), fc.uint8Array({ maxLength: 40 }))
  .map(([tag, rest]) => Buffer.concat([Buffer.from([131, tag]), rest]));
