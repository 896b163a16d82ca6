import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Encoder } from "../../etf/encode.js";
import { EtfError } from "../../etf/errors.js";
import { Atom, Pid, Tuple, atom, termEquals, type Term } from "../../etf/terms.js";
import { DOP } from "../../bridge/control.js";
import {
  ATOM_CACHE_SIZE,
  DistError,
  DistReader,
  encodeMessage,
  readAtomCacheRefs,
  sliceChunks,
  type DistMessage,
  type WriteMode,
} from "../../bridge/dist-message.js";
import { FrameReader, joinFrame, type Frame } from "../../bridge/framing.js";

const pid = new Pid(atom("a@h"), 5, 0, 3);
const regSend = (payload: Term) => ({ control: new Tuple([DOP.REG_SEND, pid, atom(""), atom("dest")]), payload });

/**
 * Encodes messages and reads them back through framing and a DistReader: frames as views
 * (`read`), or as the connection reads them, a whole frame as its place in the chunk (`readAt`).
 */
function roundTrip(messages: Array<{ control: Tuple; payload?: Term }>, mode: WriteMode, chunk = Infinity, inPlace = false): Term[][] {
  const enc = new Encoder({ chunkThreshold: 1024 });
  let seq = 0n;
  const wire = Buffer.concat(messages.flatMap((m) => encodeMessage(enc, m, mode, () => ++seq, 1000).flat()));
  const reader = new DistReader(mode.headers, 1 << 24);
  const frames = new FrameReader(4, 1 << 24);
  const out: Term[][] = [];
  const take = (m: DistMessage | undefined) => {
    if (m) out.push(m.payload === undefined ? [m.control] : [m.control, m.payload]);
  };
  for (let i = 0; i < wire.length; i += chunk) {
    const c = wire.subarray(i, Math.min(wire.length, i + chunk));
    if (inPlace) frames.read(c, (b, start, end) => take(reader.readAt(b, start, end)), (parts) => take(reader.read(parts)));
    else frames.push(c, (f: Frame) => take(reader.read(f)));
  }
  return out;
}

describe("distribution messages", () => {
  const modes: Array<[string, WriteMode]> = [
    ["pass-through", { headers: false, fragments: false }],
    ["headers", { headers: true, fragments: false }],
    ["headers and fragments", { headers: true, fragments: true }],
  ];
  const payloads: Term[] = [atom("hi"), Buffer.alloc(5000, 3), new Tuple([Buffer.alloc(999, 1), Buffer.alloc(2500, 2), "x".repeat(10).split("").map(() => 1)])];

  for (const [name, mode] of modes) {
    it(`round-trips messages with ${name}, whatever the chunking`, () => {
      const msgs = [...payloads.map(regSend), { control: new Tuple([DOP.LINK, pid, pid]) }];
      for (const [chunk, inPlace] of [Infinity, 1, 7, 1000, 1001].flatMap((c) => [[c, false], [c, true]] as const)) {
        const got = roundTrip(msgs, mode, chunk, inPlace);
        expect(got).toHaveLength(msgs.length);
        got.forEach((g, i) => {
          expect(termEquals(g[0]!, msgs[i]!.control)).toBe(true);
          if ("payload" in msgs[i]!) expect(termEquals(g[1]!, (msgs[i] as { payload: Term }).payload)).toBe(true);
        });
      }
    });
  }

  it("cuts a large message in fragments of the given size, control message whole in the first", () => {
    const enc = new Encoder();
    const frames = encodeMessage(enc, regSend(Buffer.alloc(5000)), { headers: true, fragments: true }, () => 42n, 1000);
    expect(frames.length).toBeGreaterThan(5);
    const first = Buffer.concat(frames[0]!);
    expect([...first.subarray(4, 6)]).toEqual([131, 69]);
    expect(first.readBigUInt64BE(6)).toBe(42n);
    expect(first.readBigUInt64BE(14)).toBe(BigInt(frames.length));
    const last = Buffer.concat(frames.at(-1)!);
    expect([...last.subarray(4, 6)]).toEqual([131, 70]);
    expect(last.readBigUInt64BE(14)).toBe(1n);
    for (const f of frames) expect(Buffer.concat(f).readUInt32BE(0)).toBeLessThanOrEqual(1000 + 19);
  });

  it("leaves large binaries as the caller's memory in the frames (no copy)", () => {
    const big = Buffer.alloc(100_000, 9);
    const frames = encodeMessage(new Encoder({ chunkThreshold: 1024 }), regSend(big), { headers: true, fragments: true }, () => 1n);
    expect(frames.flat().some((c) => c.buffer === big.buffer)).toBe(true);
  });

  it("reassembles interleaved fragmented messages", () => {
    const enc = new Encoder();
    const a = encodeMessage(enc, regSend(Buffer.alloc(3000, 1)), { headers: true, fragments: true }, () => 1n, 500);
    const b = encodeMessage(enc, regSend(Buffer.alloc(2000, 2)), { headers: true, fragments: true }, () => 2n, 500);
    const small = encodeMessage(enc, regSend(atom("small")), { headers: true, fragments: true }, () => 3n, 500);
    const reader = new DistReader(true, 1 << 20);
    const order: Term[] = [];
    const feed = (f: Uint8Array[]) => {
      const m = reader.read(joinFrame(Buffer.concat(f).subarray(4)));
      if (m) order.push(m.payload!);
    };
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i]) feed(a[i]!);
      if (i === 1) feed(small[0]!);
      if (b[i]) feed(b[i]!);
    }
    expect(order.map((p) => (p instanceof Atom ? p.name : (p as Uint8Array)[0]))).toEqual(["small", 2, 1]);
    expect(reader.pending).toBe(0);
  });

  it("refuses a fragment out of order, and forgets that sequence", () => {
    const frames = encodeMessage(new Encoder(), regSend(Buffer.alloc(3000)), { headers: true, fragments: true }, () => 5n, 500);
    const reader = new DistReader(true, 1 << 20);
    reader.read(Buffer.concat(frames[0]!).subarray(4));
    expect(() => reader.read(Buffer.concat(frames[2]!).subarray(4))).toThrow(DistError);
    expect(reader.pending).toBe(0);
  });

  it("bounds what partly received messages may hold", () => {
    const frames = encodeMessage(new Encoder(), regSend(Buffer.alloc(5000)), { headers: true, fragments: true }, () => 5n, 1000);
    const reader = new DistReader(true, 2500);
    reader.read(Buffer.concat(frames[0]!).subarray(4));
    expect(() => {
      for (const f of frames.slice(1)) reader.read(Buffer.concat(f).subarray(4));
    }).toThrow(/over 2500 bytes/);
    expect(reader.pending).toBe(0);
  });

  it("refuses pass-through when headers were negotiated, and headers when not", () => {
    const withHeader = Buffer.concat(encodeMessage(new Encoder(), regSend(atom("x")), { headers: true, fragments: false }, () => 1n).flat());
    const passThrough = Buffer.concat(encodeMessage(new Encoder(), regSend(atom("x")), { headers: false, fragments: false }, () => 1n).flat());
    expect(() => new DistReader(true, 1000).read(passThrough.subarray(4))).toThrow(DistError);
    expect(() => new DistReader(false, 1000).read(withHeader.subarray(4))).toThrow(DistError);
  });

  it("reads a frame in place no further than its end, though more bytes follow it", () => {
    const whole = Buffer.concat(encodeMessage(new Encoder(), regSend(new Tuple([atom("a"), Buffer.alloc(50, 1)])), { headers: true, fragments: true }, () => 1n).flat());
    const frame = whole.subarray(4);
    const reader = new DistReader(true, 1 << 16);
    // The frame's bytes, then the same bytes again: any cut short of the end must be refused.
    const twice = Buffer.concat([frame, frame]);
    for (let end = 0; end < frame.length; end++) expect(() => reader.readAt(twice, 0, end), `end ${end}`).toThrow(DistError);
    const m = reader.readAt(twice, frame.length, twice.length)!;
    expect(termEquals(m.payload!, new Tuple([atom("a"), Buffer.alloc(50, 1)]))).toBe(true);
  });

  it("wraps a term it cannot decode in DistError bad_term, keeping the EtfError, its tag and offset, as the cause", () => {
    // Pass-through: 112, then {X} with X a byte that is no tag, at offset 4 of the frame.
    const frame = Buffer.from([112, 131, 104, 1, 255]);
    let caught: unknown;
    try {
      new DistReader(false, 1000).read(frame);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DistError);
    expect(caught).toMatchObject({ name: "DistError", code: "bad_term" });
    const cause = (caught as DistError).cause;
    expect(cause).toBeInstanceOf(EtfError);
    expect(cause).toMatchObject({ name: "EtfError", code: "unknown_tag", tag: 255, offset: 4 });
  });

  it("only ever throws DistError on random frames", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, headers) => {
        const r = new DistReader(headers, 1 << 16);
        for (const frame of [bytes, Buffer.concat([Buffer.from([131, 68]), bytes]), Buffer.concat([Buffer.from([131, 69]), bytes])]) {
          try {
            r.read(frame);
          } catch (e) {
            if (!(e instanceof DistError)) throw e;
          }
        }
      }),
      { numRuns: 5000 },
    );
  });
});

describe("the atom cache of the distribution header", () => {
  /** A header's atom cache part: entries as [segment, index, atom name if new]. */
  function refs(entries: Array<[number, number, string?]>, longAtoms = false): Buffer {
    const n = entries.length;
    const flags = Buffer.alloc((n >> 1) + 1);
    const half = (i: number, v: number) => (flags[i >> 1] |= v << ((i & 1) * 4));
    entries.forEach(([seg, , name], i) => half(i, seg | (name !== undefined ? 8 : 0)));
    if (longAtoms) half(n, 1);
    const body = entries.flatMap(([, ix, name]) => {
      if (name === undefined) return [ix];
      const text = Buffer.from(name, "utf8");
      return [ix, ...(longAtoms ? [text.length >> 8, text.length & 255] : [text.length]), ...text];
    });
    return Buffer.concat([Buffer.from([n]), flags, Buffer.from(body)]);
  }

  it("stores new entries, then resolves cached references to them", () => {
    const cache = new Array<Atom | undefined>(ATOM_CACHE_SIZE);
    const first = readAtomCacheRefs(refs([[0, 5, "alpha"], [7, 255, "ωmega"], [3, 0, "gamma"]]), 0, cache);
    expect(first.atoms.map((a) => a.name)).toEqual(["alpha", "ωmega", "gamma"]);
    expect(cache[5]).toBe(atom("alpha"));
    expect(cache[7 * 256 + 255]).toBe(atom("ωmega"));
    const again = readAtomCacheRefs(refs([[7, 255], [0, 5], [3, 0]]), 0, cache);
    expect(again.atoms.map((a) => a.name)).toEqual(["ωmega", "alpha", "gamma"]);
  });

  it("reads 2-byte atom lengths when LongAtoms is set", () => {
    const cache = new Array<Atom | undefined>(ATOM_CACHE_SIZE);
    const long = "x".repeat(255);
    const r = readAtomCacheRefs(refs([[1, 1, long], [2, 2, "y"]], true), 0, cache);
    expect(r.atoms.map((a) => a.name)).toEqual([long, "y"]);
  });

  it("decodes ATOM_CACHE_REF in control and payload through the header", () => {
    const cache = refs([[0, 1, "dest"], [0, 2, "hello"]]);
    // {6, Pid, '', ATOM_CACHE_REF 0} then ATOM_CACHE_REF 1
    const enc = new Encoder();
    enc.u8(104).u8(4).term(DOP.REG_SEND).term(pid).term(atom("")).u8(82).u8(0).u8(82).u8(1);
    const body = enc.finish();
    const frame = Buffer.concat([Buffer.from([131, 68]), cache, body]);
    const m = new DistReader(true, 1 << 16).read(frame)!;
    expect((m.control as Tuple).elements[3]).toBe(atom("dest"));
    expect(m.payload).toBe(atom("hello"));
  });

  it("refuses a cached reference to an entry never set, and references running past the end", () => {
    const cache = new Array<Atom | undefined>(ATOM_CACHE_SIZE);
    expect(() => readAtomCacheRefs(refs([[0, 9]]), 0, cache)).toThrow(DistError);
    const full = refs([[0, 1, "abc"]]);
    for (let i = 1; i < full.length; i++) expect(() => readAtomCacheRefs(full.subarray(0, i), 0, cache)).toThrow(DistError);
  });
});

describe("sliceChunks", () => {
  it("gives views of any byte range of a chunk list", () => {
    const chunks = [Buffer.from("abc"), Buffer.from("de"), Buffer.from("fghij")];
    const all = "abcdefghij";
    for (let from = 0; from <= 10; from++) {
      for (let to = from; to <= 10; to++) {
        expect(Buffer.concat(sliceChunks(chunks, from, to)).toString()).toBe(all.slice(from, to));
      }
    }
  });
});
