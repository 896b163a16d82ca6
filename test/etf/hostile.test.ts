/**
 * Hostile input: whatever the bytes, the decoder answers with a term or an EtfError naming the
 * tag and offset, allocates nothing from a length it has not checked, and keeps to its size
 * and depth limits. Mutated terms are also decoded by a real `erl`, which must accept exactly
 * what we accept and read it as the same term.
 */
import { deflateSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stopAll } from "../support/erlang.js";
import {
  EtfError,
  INTERNAL_TAGS,
  Tuple,
  atom,
  compare,
  decode,
  decodeAt,
  encode,
  formatTerm,
  termEquals,
  tuple,
  type Term,
} from "../../etf/index.js";
import { hasBigMap, mutated, randomTerm } from "./arbitraries.js";
import { hex, thrown } from "./helpers.js";
import { Oracle } from "./oracle.js";

let oracle: Oracle;
beforeAll(async () => {
  oracle = await Oracle.start();
});
afterAll(stopAll);

/** Decodes like binary_to_term/1 (trailing bytes ignored); any error must be an EtfError. */
function attempt(bytes: Uint8Array): Term | EtfError {
  try {
    return decodeAt(bytes, 0).term;
  } catch (e) {
    if (e instanceof EtfError) return e;
    throw new Error(`not an EtfError for ${hex(bytes)}: ${String(e)}`);
  }
}

function code(f: () => unknown): { code: string; tag: number | undefined; offset: number } {
  const e = thrown(f);
  return { code: e.code, tag: e.tag, offset: e.offset };
}

describe("only EtfError", () => {
  it("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        attempt(b);
        attempt(Buffer.concat([Buffer.from([131]), b]));
      }),
      { numRuns: 15_000 },
    );
  });

  it("random bytes after a real tag", () => {
    fc.assert(fc.property(randomTerm, (b) => void attempt(b)), { numRuns: 30_000 });
  });

  it("mutated terms", () => {
    fc.assert(fc.property(mutated(), (b) => void attempt(b)), { numRuns: 40_000 });
  });

  it("every prefix of a term is truncated, never anything else", () => {
    fc.assert(
      fc.property(mutated(), (b) => {
        const whole = attempt(b);
        if (whole instanceof EtfError) return;
        for (let n = 0; n < b.length; n++) {
          const r = attempt(b.subarray(0, n));
          // A prefix can be a whole term of its own only when the rest was trailing bytes.
          if (r instanceof EtfError) expect(["truncated", "bad_compressed"]).toContain(r.code);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

const internal = new Set<number>(Object.values(INTERNAL_TAGS));

describe("the same acceptance as erl", () => {
  it("mutated terms: both refuse, or both read the same term", async () => {
    await fc.assert(
      // No local funs here: OTP 25.2 accepts some mangled NEW_FUN_EXT and can then crash
      // (segfault) when it touches the fun, which would take the oracle down with it.
      fc.asyncProperty(fc.array(mutated({}), { minLength: 50, maxLength: 200 }), async (inputs) => {
        const theirs = await oracle.decodeEach(inputs);
        inputs.forEach((b, i) => {
          const ours = attempt(b);
          const t = theirs[i];
          // OTP 25 reads its ETS-internal atom references (node-local atom indexes); we refuse them.
          if (ours instanceof EtfError && ours.tag !== undefined && internal.has(ours.tag)) return;
          const what = `${Buffer.from(b).toString("hex")}: ours ${ours instanceof EtfError ? ours.message : formatTerm(ours)}, erl ${t === undefined ? "badarg" : formatTerm(decode(t))}`;
          expect(ours instanceof EtfError, what).toBe(t === undefined);
          if (t !== undefined && !(ours instanceof EtfError)) {
            if (hasBigMap(ours)) expect(termEquals(decode(t), ours), what).toBe(true);
            else expect(encode(ours).toString("hex"), what).toBe(t.toString("hex"));
          }
        });
      }),
      // Shrinking would cost a node round trip a step; the message names the input already.
      { numRuns: 25, endOnFailure: true },
    );
  });
});

describe("lengths are checked before anything is allocated", () => {
  const cases: Array<[string, number[], number]> = [
    ["LIST_EXT of 2^32-1 elements", [131, 108, 0xff, 0xff, 0xff, 0xff, 97, 1, 97, 2], 108],
    ["LARGE_TUPLE_EXT of 2^32-1 elements", [131, 105, 0xff, 0xff, 0xff, 0xff, 97, 1, 97, 2], 105],
    ["MAP_EXT of 2^32-1 pairs", [131, 116, 0xff, 0xff, 0xff, 0xff, 97, 1, 97, 2], 116],
    ["BINARY_EXT of 4 GiB", [131, 109, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4], 109],
    ["BIT_BINARY_EXT of 4 GiB", [131, 77, 0xff, 0xff, 0xff, 0xff, 3, 2, 3, 4], 77],
    ["STRING_EXT of 65535 bytes", [131, 107, 0xff, 0xff, 1, 2, 3, 4, 5, 6], 107],
    ["LARGE_BIG_EXT of 4 GiB", [131, 111, 0xff, 0xff, 0xff, 0xff, 0, 1, 2, 3], 111],
    ["ATOM_UTF8_EXT of 65535 bytes", [131, 118, 0xff, 0xff, 97, 97, 97, 97, 97, 97], 118],
    ["NEWER_REFERENCE_EXT of 5 words, short", [131, 90, 0, 5, 119, 1, 97, 0, 0, 0, 1], 90],
  ];
  it.each(cases)("%s in 10 bytes: truncated, at once", (_, bytes, tag) => {
    expect(code(() => decode(Buffer.from(bytes)))).toEqual({ code: "truncated", tag, offset: 1 });
  });

  it("NEW_FUN_EXT claiming 2^32-1 free variables", () => {
    const pid = [88, 119, 1, 97, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    const fun = [112, 0, 0, 0, 0, 0, ...Array(16).fill(0), 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 119, 1, 109, 97, 0, 97, 0, ...pid, 97, 1];
    expect(code(() => decode(Buffer.from([131, ...fun])))).toMatchObject({ code: "truncated", tag: 112, offset: 1 });
  });
});

describe("the size limit", () => {
  it("counts the input", () => {
    const big = encode(Buffer.alloc(1000));
    expect(code(() => decode(big, { maxSize: 100 }))).toMatchObject({ code: "too_large", tag: 109 });
    expect(decode(big, { maxSize: big.length })).toHaveLength(1000);
  });

  it("checks a COMPRESSED term's stated size before inflating", () => {
    // 1 GiB of zeros compresses to about a megabyte; the header is refused before inflating.
    const header = Buffer.from([131, 80, 0x40, 0, 0, 0]);
    const bomb = Buffer.concat([header, deflateSync(Buffer.concat([Buffer.from([109, 0x3f, 0xff, 0xff, 0xfb]), Buffer.alloc(1 << 20)]))]);
    expect(code(() => decode(bomb, { maxSize: 1 << 20 }))).toMatchObject({ code: "too_large", tag: 80, offset: 1 });
    expect(code(() => decode(bomb))).toMatchObject({ code: "too_large", tag: 80 });
  });

  it("refuses a COMPRESSED term that inflates past its stated size", () => {
    const body = encode(Buffer.alloc(10000)).subarray(1);
    const lying = Buffer.concat([Buffer.from([131, 80, 0, 0, 0, 100]), deflateSync(body)]);
    expect(code(() => decode(lying))).toMatchObject({ code: "bad_compressed", tag: 80, offset: 1 });
  });

  it("refuses COMPRESSED anywhere but first", () => {
    const inner = encode(Array(100).fill(1), { compressed: true });
    expect(inner[1]).toBe(80);
    expect(code(() => decode(Buffer.concat([Buffer.from([131, 104, 1]), inner.subarray(1)])))).toMatchObject({
      code: "bad_compressed",
      tag: 80,
      offset: 3,
    });
  });
});

/** `#{#{... #{#{Leaf => 1} => 1, a => 1} ...} => 1, a => 1}`, `depth` maps deep, written by hand. */
function chainOf(depth: number, leaf: string): Buffer {
  const b: number[] = [];
  for (let i = 0; i < depth; i++) b.push(116, 0, 0, 0, 2);
  b.push(116, 0, 0, 0, 1, 119, 1, leaf.charCodeAt(0), 97, 1);
  for (let i = 0; i < depth; i++) b.push(97, 1, 119, 1, 97, 97, 1);
  return Buffer.from(b);
}

describe("depth", () => {
  function nested(depth: number): Buffer {
    // {{{...{}...}}}: SMALL_TUPLE_EXT of one element, depth times, around an empty tuple.
    const b = Buffer.alloc(1 + 2 * depth + 2);
    b[0] = 131;
    for (let i = 0; i < depth; i++) b.set([104, 1], 1 + 2 * i);
    b.set([104, 0], 1 + 2 * depth);
    return b;
  }

  it("a million nested tuples: decoded, compared, encoded, formatted, without recursion", () => {
    const bytes = nested(1_000_000);
    const t = decode(bytes);
    expect(encode(t).equals(bytes)).toBe(true);
    expect(termEquals(t, decode(bytes))).toBe(true);
    expect(compare(t, decode(bytes))).toBe(0);
    expect(formatTerm(t, { maxLength: 50 })).toHaveLength(50);
  });

  it("a million nested lists", () => {
    const depth = 1_000_000;
    const b = Buffer.alloc(1 + 6 * depth + 1);
    b[0] = 131;
    for (let i = 0; i < depth; i++) b.set([108, 0, 0, 0, 1], 1 + 5 * i);
    b[1 + 5 * depth] = 106;
    b.fill(106, 2 + 5 * depth);
    const t = decode(b);
    expect(encode(t).equals(b)).toBe(true);
  });

  it("map keys nested in map keys: comparing them cannot exhaust the stack", () => {
    // #{X => 1, Y => 1} where X = #{X' => 1, a => 1} and Y = #{Y' => 1, a => 1}, 20,000 deep:
    // linear in size, but telling X from Y compares X' with Y', and so on down.
    const depth = 20_000;
    const parts: Buffer[] = [];
    parts.push(Buffer.from([131, 116, 0, 0, 0, 2]), chainOf(depth, "a"), Buffer.from([97, 1]), chainOf(depth, "b"), Buffer.from([97, 1]));
    const bytes = Buffer.concat(parts);
    expect(code(() => decode(bytes))).toMatchObject({ code: "too_deep" });
    // Nested 200 deep it is an ordinary term.
    const shallow = decode(Buffer.concat([Buffer.from([131, 116, 0, 0, 0, 2]), chainOf(200, "a"), Buffer.from([97, 1]), chainOf(200, "b"), Buffer.from([97, 1])]));
    expect(termEquals(decode(encode(shallow)), shallow)).toBe(true);
  });

  it("maxDepth refuses deeper terms and accepts the limit itself", () => {
    expect(code(() => decode(nested(101), { maxDepth: 100 }))).toMatchObject({ code: "too_deep", tag: 104, offset: 201 });
    expect(decode(nested(100), { maxDepth: 100 })).toBeInstanceOf(Tuple);
  });
});

describe("errors name the tag and offset", () => {
  const cases: Array<[string, number[], string, number | undefined, number]> = [
    ["empty input", [], "truncated", undefined, 0],
    ["wrong version", [130, 97, 1], "bad_version", undefined, 0],
    ["unknown tag", [131, 104, 2, 97, 1, 42], "unknown_tag", 42, 5],
    ["NaN", [131, 70, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], "bad_float", 70, 1],
    ["infinity", [131, 70, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0], "bad_float", 70, 1],
    ["FLOAT_EXT without a point", [131, 99, 49, 53, ...Array(29).fill(0)], "bad_float", 99, 1],
    ["bit count 0 in a non-empty bitstring", [131, 77, 0, 0, 0, 1, 0, 255], "bad_bit_binary", 77, 1],
    ["bit count 9", [131, 77, 0, 0, 0, 1, 9, 255], "bad_bit_binary", 77, 1],
    ["six reference words", [131, 90, 0, 6, 119, 1, 97], "bad_reference", 90, 1],
    ["a pid whose node is not an atom", [131, 88, 97, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1], "bad_atom", 97, 2],
    ["an export whose arity is an atom", [131, 113, 119, 1, 97, 119, 1, 98, 119, 1, 99], "bad_integer", 119, 8],
    ["trailing bytes", [131, 97, 1, 0], "trailing_bytes", undefined, 3],
    ["invalid UTF-8 in an atom", [131, 119, 2, 0xc3, 0x28], "bad_atom", 119, 1],
  ];
  it.each(cases)("%s", (_, bytes, c, tag, offset) => {
    expect(code(() => decode(Buffer.from(bytes)))).toEqual({ code: c, tag, offset });
  });

  it("the message says which tag, by name", () => {
    expect(() => decode(Buffer.from([131, 108, 0xff, 0xff, 0xff, 0xff]))).toThrow(/LIST_EXT \(108\) at offset 1/);
  });

  it("the encoder refuses what is not a term", () => {
    for (const bad of [1.5, NaN, "str", null, undefined, {}, tuple(atom("a"), 0.5)] as unknown as Term[]) {
      expect(() => encode(bad)).toThrow(EtfError);
    }
    // The encoder is still usable after refusing.
    expect(decode(encode(atom("ok")))).toBe(atom("ok"));
  });
});
