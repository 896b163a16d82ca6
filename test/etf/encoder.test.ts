/**
 * The Encoder as the distribution layer uses it: several terms in one length-prefixed frame,
 * large binaries handed over by reference, output that is never overwritten once handed over,
 * and a clean state after a refused term. And formatTerm's length bound, and ErlMap lookups.
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import {
  BitBinary,
  Encoder,
  ErlMap,
  EtfError,
  Fun,
  Pid,
  Ref,
  atom,
  charlist,
  cons,
  decode,
  decodeAt,
  encode,
  formatTerm,
  termEquals,
  tuple,
  type Term,
} from "../../etf/index.js";

const concat = (chunks: Uint8Array[]) => Buffer.concat(chunks);

describe("Encoder", () => {
  it("writes a length-prefixed frame of two terms, read back with decodeAt", () => {
    const enc = new Encoder();
    const control = tuple(6, atom("from"), atom(""), atom("to"));
    const payload = tuple(atom("hello"), Buffer.from("world"));
    const mark = enc.reserveU32();
    enc.u8(112).external(control).external(payload);
    enc.patchU32(mark, enc.length - mark - 4);
    const frame = enc.finish();
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    const c = decodeAt(frame, 5);
    expect(termEquals(c.term, control)).toBe(true);
    const p = decodeAt(frame, c.offset);
    expect(termEquals(p.term, payload)).toBe(true);
    expect(p.offset).toBe(frame.length);
  });

  it("hands large binaries over as chunks of their own, without copying them", () => {
    const enc = new Encoder({ chunkThreshold: 1024 });
    const big = Buffer.alloc(100_000, 7);
    const small = Buffer.alloc(100, 8);
    const mark = enc.reserveU32();
    enc.external(tuple(atom("ssl"), small, big, atom("after")));
    enc.patchU32(mark, enc.length - mark - 4);
    const chunks = enc.finishChunks();
    expect(chunks.some((c) => c === big)).toBe(true);
    expect(chunks.some((c) => c === small)).toBe(false);
    const whole = concat(chunks);
    expect(whole.readUInt32BE(0)).toBe(whole.length - 4);
    expect(termEquals(decode(whole.subarray(4)), tuple(atom("ssl"), small, big, atom("after")))).toBe(true);
    // The same term through encode() gives the same bytes.
    expect(whole.subarray(4).equals(encode(tuple(atom("ssl"), small, big, atom("after"))))).toBe(true);
  });

  it("never writes over what it handed over", () => {
    const enc = new Encoder({ initialSize: 16 });
    const outputs: Array<[Buffer, Term]> = [];
    for (let i = 0; i < 200; i++) {
      const t = tuple(i, charlist("x".repeat(i)), Buffer.alloc(i * 7, i));
      outputs.push([enc.external(t).finish(), t]);
    }
    for (const [bytes, t] of outputs) expect(termEquals(decode(bytes), t)).toBe(true);
    const shared = outputs.map(([b]) => Buffer.from(b));
    for (let i = 0; i < 200; i++) encode(Buffer.alloc(i * 13, 255));
    outputs.forEach(([b], i) => expect(b.equals(shared[i]!)).toBe(true));
  });

  it("after refusing a term, drops the output under construction and carries on", () => {
    const enc = new Encoder();
    enc.u8(1).u8(2);
    expect(() => enc.term(tuple(atom("ok"), 1.5 as unknown as Term))).toThrow(EtfError);
    expect(enc.length).toBe(0);
    expect(decode(enc.external(atom("fine")).finish())).toBe(atom("fine"));
  });

  it("after refusing a term, keeps what commit() kept, whether buffers moved or binaries were referenced since", () => {
    const bad = tuple(atom("ok"), 1.5 as unknown as Term);
    const big = Buffer.alloc(5000, 9);
    const cases: Array<[string, (e: Encoder) => void]> = [
      ["nothing more", () => {}],
      ["a buffer move", (e) => e.bytes(Buffer.alloc(900, 1))],
      ["a referenced binary", (e) => e.u8(7).bytes(big).u8(5)],
      ["a referenced binary, then a buffer move", (e) => e.u8(7).bytes(big).bytes(Buffer.alloc(900, 1))],
    ];
    for (const [what, more] of cases) {
      for (const keptBig of [false, true]) {
        const enc = new Encoder({ chunkThreshold: 1024, initialSize: 64 });
        const kept: Term[] = [atom("first"), ...(keptBig ? [big] : []), Buffer.alloc(20, 2)];
        for (const t of kept) enc.external(t).commit();
        more(enc);
        expect(() => enc.term(bad), what).toThrow(EtfError);
        enc.external(atom("last")).commit();
        more(enc);
        enc.reset();
        const out = concat(enc.finishChunks());
        const got: Term[] = [];
        for (let at = 0; at < out.length; ) {
          const r = decodeAt(out, at);
          got.push(r.term);
          at = r.offset;
        }
        expect(got.length, what).toBe(kept.length + 1);
        [...kept, atom("last")].forEach((t, i) => expect(termEquals(got[i]!, t), what).toBe(true));
        // Handed over, the next output starts afresh: reset() keeps nothing of the last batch.
        enc.u8(1).reset();
        expect(enc.length).toBe(0);
      }
    }
  });

  it("reports where in its output a term went wrong", () => {
    try {
      encode(tuple(atom("ok"), [1, 2, null as unknown as Term]));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EtfError);
      expect((e as EtfError).code).toBe("unencodable");
      expect((e as EtfError).offset).toBeGreaterThan(0);
    }
  });

  it("finish() after referencing binaries copies every part once into one buffer of the output's size", () => {
    const enc = new Encoder({ chunkThreshold: 1024 });
    const big = Buffer.alloc(70_000, 3);
    const t = tuple(atom("ssl"), big, Buffer.alloc(100, 4), big, atom("after"));
    const mark = enc.reserveU32();
    enc.external(t);
    enc.patchU32(mark, enc.length - mark - 4);
    const frame = enc.finish();
    expect(frame.length).toBe(4 + encode(t).length);
    expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
    expect(frame.subarray(4).equals(encode(t))).toBe(true);
    big.fill(9);
    expect(termEquals(decode(frame.subarray(4)), t)).toBe(false);
    // The encoder carries on after it, in its slab.
    expect(decode(enc.external(atom("next")).finish())).toBe(atom("next"));
  });

  it("encode() of a term holding a large binary gives a buffer of its own, of the term's size", () => {
    const big = Buffer.alloc(64 * 1024, 5);
    const t = tuple(atom("ssl"), tuple(atom("sslsocket"), 1), big);
    const out = encode(t);
    const again = encode(tuple(atom("other"), Buffer.alloc(40_000, 6)));
    expect(out.buffer.byteLength).toBe(out.length);
    big.fill(0);
    expect(decode(out)).toEqual(tuple(atom("ssl"), tuple(atom("sslsocket"), 1), Buffer.alloc(64 * 1024, 5)));
    expect(termEquals(decode(again), tuple(atom("other"), Buffer.alloc(40_000, 6)))).toBe(true);
  });

  it("writes containers that end an improper list or sit in a fun, as the tail and the free variables", () => {
    expect([...encode(cons([1], tuple(atom("a"))))]).toEqual([131, 108, 0, 0, 0, 1, 97, 1, 104, 1, 119, 1, 97]);
    expect([...encode(cons([1], new ErlMap([[2, cons([3], atom("b"))]])))]).toEqual([
      131, 108, 0, 0, 0, 1, 97, 1, 116, 0, 0, 0, 1, 97, 2, 108, 0, 0, 0, 1, 97, 3, 119, 1, 98,
    ]);
    // Nested through each other far deeper than any recursion would allow.
    const pid = new Pid(atom("a@b"), 1, 2, 3);
    let t: Term = atom("leaf");
    for (let i = 0; i < 30_000; i++) {
      const r = i % 3;
      if (r === 0) t = cons([i], tuple(t, i));
      else if (r === 1) t = i % 2 === 0 ? new ErlMap([[atom("k"), t]]) : new ErlMap([[atom("k"), 1], [i, [t]]]);
      else t = new Fun(1, Buffer.alloc(16, 7), i, atom("m"), 0, 0, pid, [i, cons([1], tuple(t))]);
    }
    const bytes = encode(t);
    const back = decode(bytes);
    expect(termEquals(back, t)).toBe(true);
    expect(encode(back).equals(bytes)).toBe(true);
  });

  it("containers as the last item of containers, every kind in every kind, three deep", () => {
    const pid = new Pid(atom("a@b"), 1, 2, 3);
    const wrap: Array<(inner: Term) => Term> = [
      (x) => tuple(atom("t"), x),
      (x) => [1, x],
      (x) => [x],
      (x) => new ErlMap([[atom("k"), x]]),
      (x) => cons([2, x], atom("tail")),
      (x) => cons([3], tuple(x)),
      (x) => new Fun(0, Buffer.alloc(16, 1), 4, atom("m"), 0, 0, pid, [5, x]),
    ];
    let checked = 0;
    for (const a of wrap) {
      for (const b of wrap) {
        for (const c of wrap) {
          const t = tuple(a(b(c(atom("leaf")))), [a(b(c([])))], 6);
          const back = decode(encode(t));
          expect(termEquals(back, t)).toBe(true);
          expect(encode(back).equals(encode(t))).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBe(wrap.length ** 3);
  });

  it("atoms of every length up to the limit, each followed by more output", () => {
    const long = ["é".repeat(127), "é".repeat(128), "é".repeat(255), "\u{1F600}".repeat(255)];
    const names = Array.from({ length: 12 }, (_, n) => "x".repeat(n)).concat(long);
    const enc = new Encoder({ initialSize: 8 });
    for (const name of names) {
      const t = tuple(atom(name), 7, [atom(name)]);
      const out = enc.external(t).finish();
      expect(termEquals(decode(out), t)).toBe(true);
      expect(out.equals(encode(t))).toBe(true);
    }
  });

  it("after refusing a term deep inside another, the next term is written whole", () => {
    let bad: Term = 1.5 as unknown as Term;
    let good: Term = atom("ok");
    for (let i = 0; i < 20_000; i++) {
      bad = i % 2 === 0 ? tuple(atom("x"), bad) : [bad, 1];
      good = i % 2 === 0 ? tuple(atom("x"), good) : [good, 1];
    }
    const enc = new Encoder();
    expect(() => enc.external(bad)).toThrow(expect.objectContaining({ code: "unencodable" }));
    expect(enc.length).toBe(0);
    const out = enc.external(good).finish();
    expect(termEquals(decode(out), good)).toBe(true);
    expect(out.equals(encode(good))).toBe(true);
  });

  it("encode() gives a Buffer like any other", () => {
    const out = encode(tuple(atom("ok"), Buffer.from("hi")));
    expect(Buffer.isBuffer(out)).toBe(true);
    expect(out.constructor).toBe(Buffer);
    expect(inspect(out)).toBe("<Buffer 83 68 02 77 02 6f 6b 6d 00 00 00 02 68 69>");
    expect(out.readUInt32BE(8)).toBe(2);
    expect(out.subarray(1, 3)).toEqual(Buffer.from([0x68, 2]));
    expect(Buffer.isBuffer(out.subarray(1))).toBe(true);
    expect(out.toString("latin1", 12)).toBe("hi");
    expect(JSON.stringify(out)).toBe(JSON.stringify(Buffer.from(out)));
  });

  it("refuses what the format cannot carry", () => {
    const refused: Term[] = [
      atom("x".repeat(256)),
      atom("\uD800"),
      tuple(1.5 as unknown as Term),
      Symbol("s") as unknown as Term,
    ];
    for (const t of refused) expect(() => encode(t)).toThrow(EtfError);
  });
});

describe("formatTerm", () => {
  it("stays within maxLength, ending in ...", () => {
    const long = Array.from({ length: 10_000 }, (_, i) => tuple(atom("item"), i));
    const s = formatTerm(long, { maxLength: 100 });
    expect(s.length).toBeLessThanOrEqual(100);
    expect(s.endsWith("...")).toBe(true);
    expect(formatTerm(Buffer.alloc(1 << 20, 1), { maxLength: 50 }).length).toBeLessThanOrEqual(50);
    expect(formatTerm(atom("ok"))).toBe("ok");
  });

  it("prints as ~p and ~w do", () => {
    const t = tuple(atom("ok"), charlist("abc"), Buffer.from("hi"), [1, 2], atom("Quoted atom"));
    expect(formatTerm(t)).toBe(`{ok,"abc",<<"hi">>,[1,2],'Quoted atom'}`);
    expect(formatTerm(t, { mode: "w" })).toBe(`{ok,[97,98,99],<<104,105>>,[1,2],'Quoted atom'}`);
  });

  it("prints long lists whole when no bound is given", () => {
    const ints = formatTerm(Array(200_000).fill(1), { maxLength: Infinity });
    expect(ints.split(",")).toHaveLength(200_000);
    expect(ints.endsWith("1]")).toBe(true);
    const text = formatTerm(Array(300_000).fill(97), { maxLength: Infinity });
    expect(text).toBe(`"${"a".repeat(300_000)}"`);
  });
});

describe("ErlMap", () => {
  it("finds keys by Erlang equality, whatever their representation", () => {
    // Three tuples deep: where termHash stops looking at list elements.
    const deep = (x: Term) => tuple(tuple(tuple(x)));
    const m = new ErlMap([
      [deep(charlist("ab")), 1],
      [new BitBinary(Buffer.from([0xff]), 3), 2],
      [5n, 3],
      [new Ref(atom("a@b"), 1, [7]), 4],
    ]);
    expect(m.get(deep([97, 98]))).toBe(1);
    expect(m.get(new BitBinary(Buffer.from([0xe0]), 3))).toBe(2);
    expect(m.get(5)).toBe(3);
    expect(m.get(new Ref(atom("a@b"), 1, [7, 0]))).toBe(4);
    expect(m.get(deep([97, 99]))).toBeUndefined();
    m.set(deep([97, 98]), 10);
    expect(m.size).toBe(4);
    expect(m.get(deep(charlist("ab")))).toBe(10);
  });
});
