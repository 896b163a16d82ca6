/**
 * TermReader: terms back to back in one buffer, read one after the other as decodeAt would read
 * them, with the same errors and limits.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TermReader, decodeAt } from "../../etf/decode.js";
import { encode } from "../../etf/encode.js";
import { EtfError } from "../../etf/errors.js";
import { Atom, Pid, Tuple, atom, termEquals } from "../../etf/terms.js";
import { term } from "./arbitraries.js";
import { thrown } from "./helpers.js";

const pid = new Pid(atom("a@h"), 5, 0, 3);

describe("TermReader", () => {
  it("reads terms back to back, with or without version bytes, as decodeAt does", () => {
    fc.assert(
      fc.property(fc.array(term(), { minLength: 1, maxLength: 4 }), fc.boolean(), (terms, versionBytes) => {
        const parts = terms.map((t) => (versionBytes ? encode(t) : encode(t).subarray(1)));
        const bytes = Buffer.concat([Buffer.from([0, 0]), ...parts]);
        const reader = new TermReader();
        reader.start(bytes, 2);
        let at = 2;
        for (const t of terms) {
          const expected = decodeAt(bytes, at, { versionByte: versionBytes });
          expect(termEquals(reader.next(versionBytes), t)).toBe(true);
          expect(reader.offset).toBe(expected.offset);
          at = expected.offset;
        }
        expect(reader.peek()).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it("reads a compressed term and what follows it", () => {
    const big = new Tuple([Buffer.alloc(2000, 7), atom("x")]);
    const bytes = Buffer.concat([encode(big, { compressed: true }), encode(pid)]);
    expect(bytes.length).toBeLessThan(1000);
    const reader = new TermReader();
    reader.start(bytes, 0);
    expect(termEquals(reader.next(true), big)).toBe(true);
    expect(reader.peek()).toBe(131);
    expect(termEquals(reader.next(true), pid)).toBe(true);
  });

  it("resolves ATOM_CACHE_REF through its options, and refuses an index it does not know", () => {
    const cache = [atom("zero"), atom("one")];
    const reader = new TermReader({ atomCache: (i) => cache[i] });
    reader.start(Uint8Array.from([82, 1, 82, 0, 82, 2]), 0);
    expect(reader.next(false)).toBe(atom("one"));
    expect(reader.next(false)).toBe(atom("zero"));
    expect(() => reader.next(false)).toThrow(EtfError);
  });

  it("counts maxSize from where it starts, for all the terms it reads", () => {
    const two = Buffer.concat([encode(Buffer.alloc(10)), encode(Buffer.alloc(10))]);
    const reader = new TermReader({ maxSize: 20 });
    reader.start(two, 0);
    reader.next(true);
    const e = thrown(() => reader.next(true));
    expect(e.code).toBe("too_large");
  });

  it("reads no further than the end it is given, though the input goes on", () => {
    const one = encode(new Tuple([pid, Buffer.alloc(30, 1)]));
    const compressed = encode(new Tuple([Buffer.alloc(2000, 7), atom("x")]), { compressed: true });
    for (const bytes of [one, compressed]) {
      const twice = Buffer.concat([bytes, bytes]);
      const reader = new TermReader();
      for (let end = 0; end < bytes.length; end++) {
        reader.start(twice, 0, end);
        const e = thrown(() => reader.next(true));
        expect(["truncated", "bad_compressed"]).toContain(e.code);
      }
      reader.start(twice, 0, bytes.length);
      reader.next(true);
      expect(reader.offset).toBe(bytes.length);
      expect(reader.peek()).toBeUndefined();
    }
  });

  it("says truncated for a term cut short, and reads again after an error", () => {
    const bytes = encode(new Tuple([pid, atom("abc")]));
    const reader = new TermReader();
    for (let n = 1; n < bytes.length; n++) {
      reader.start(bytes.subarray(0, n), 0);
      expect(thrown(() => reader.next(true)).code).toBe("truncated");
    }
    reader.start(bytes, 0);
    const t = reader.next(true) as Tuple;
    expect(t.elements[1]).toBeInstanceOf(Atom);
  });
});
