/**
 * The Framer cuts the same packets however the bytes arrive: every split point of every stream,
 * and random chunkings, give the packets (and the error, and the rest) that one chunk gives.
 * Those in turn are decode_packet's (checked on a real node by decode-packet.test.ts) applied
 * packet after packet.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { atom, termEquals, type Term } from "../../etf/terms.js";
import { Framer, FramingError, GEN_TCP_BUFFER } from "../../ts-ssl/packet/framer.js";
import { parsePacket } from "../../ts-ssl/packet/parse.js";
import { defaultFramingOptions, type FramingOptions, type PacketType } from "../../ts-ssl/packet/types.js";
import { allTypes, binaryTypes, concat, httpHead, httpLine, lineDelimiterOf, validFrame } from "./arbitraries.js";

const seed = Number(process.env.PACKET_SEED ?? Date.now() % 2 ** 31);

interface Outcome {
  packets: Term[];
  /** The error the Framer threw, if any (it stops there). */
  error?: Term;
  buffered: number;
}

function run(options: FramingOptions, chunks: Uint8Array[]): Outcome {
  const framer = new Framer(options);
  const packets: Term[] = [];
  try {
    for (const chunk of chunks) {
      framer.push(chunk);
      for (let p = framer.next(); p !== undefined; p = framer.next()) packets.push(p);
    }
  } catch (e) {
    if (!(e instanceof FramingError)) throw e;
    return { packets, error: e.reason, buffered: framer.buffered };
  }
  return { packets, buffered: framer.buffered };
}

/** Same packets and same error; same rest unless there was an error (the socket closes then). */
function same(type: PacketType, a: Outcome, b: Outcome): boolean {
  return (
    (a.error !== undefined || a.buffered === b.buffered) &&
    termEquals(joined(type, a.packets), joined(type, b.packets)) &&
    (a.error === undefined ? b.error === undefined : b.error !== undefined && termEquals(a.error, b.error))
  );
}

/** Raw packets are whatever had arrived: only their concatenation is independent of chunking. */
function joined(type: PacketType, packets: Term[]): Term[] {
  return type === "raw" && packets.length > 0 ? [concat(...(packets as Uint8Array[]))] : packets;
}

/** A stream for `type`: frames, for http a head or lines, maybe something after them. */
function stream(type: PacketType): fc.Arbitrary<{ bytes: Uint8Array; options: FramingOptions }> {
  const frames = String(type).startsWith("http")
    ? fc.oneof(httpHead, fc.array(httpLine, { minLength: 1, maxLength: 4 }))
    : fc.array(validFrame(type), { minLength: 1, maxLength: 4 });
  return fc
    // packet_size 1 is left out for http: inet itself then answers differently when "\r" and
    // "\n" arrive apart (a lone CR is over the limit; CRLF as the whole buffer is exempt).
    .tuple(frames, fc.uint8Array({ maxLength: 3 }), fc.option(fc.integer({ min: String(type).startsWith("http") ? 2 : 1, max: 40 })))
    .map(([fs, tail, packetSize]) => {
      // A line stream keeps one delimiter: the first frame's.
      const lineDelimiter = type === "line" ? lineDelimiterOf(fs[0]!) : 10;
      const parts = type === "line" ? fs.filter((f) => lineDelimiterOf(f) === lineDelimiter) : fs;
      return {
        bytes: concat(...parts, tail),
        options: { ...defaultFramingOptions, packet: type, mode: "binary" as const, lineDelimiter, packetSize: packetSize ?? 0 },
      };
    });
}

function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  return out;
}

describe.each(allTypes.map((t) => [String(t), t] as const))("Framer, {packet, %s}", (_name, type) => {
  it("gives the same packets, error and rest at every split point", () => {
    for (const { bytes, options } of fc.sample(stream(type), { numRuns: 150, seed })) {
      const whole = run(options, [bytes]);
      for (let i = 0; i <= bytes.length; i++) {
        const split = run(options, [bytes.subarray(0, i), bytes.subarray(i)]);
        if (!same(type, whole, split)) expect(split, `split at ${i} of ${Buffer.from(bytes).toString("hex")}`).toEqual(whole);
      }
    }
  });

  it("gives the same packets however the bytes are chunked", () => {
    fc.assert(
      fc.property(stream(type), fc.array(fc.nat(), { maxLength: 12 }), ({ bytes, options }, cuts) => {
        const whole = run(options, [bytes]);
        // One byte at a time too: the hardest chunking for a parser that looks at the first chunk first.
        const bytewise = run(options, Array.from(bytes, (b) => Uint8Array.of(b)));
        return same(type, whole, run(options, chunked(bytes, cuts))) && same(type, whole, bytewise);
      }),
      { numRuns: 300, seed },
    );
  });

  it("hands back a trailing byte as the rest", () => {
    for (const frame of fc.sample(validFrame(type), { numRuns: 100, seed })) {
      const options: FramingOptions = { ...defaultFramingOptions, packet: type, mode: "binary", lineDelimiter: type === "line" ? lineDelimiterOf(frame) : 10 };
      // An http header line is only whole when the next byte shows it does not continue.
      const { packets, error, buffered } = run(options, [concat(frame, "x")]);
      expect(error).toBeUndefined();
      expect(packets.length).toBeGreaterThan(0);
      expect(buffered).toBe(type === "raw" ? 0 : 1);
    }
  });
});

describe.each(binaryTypes.map((t) => [String(t), t] as const))("Framer and decode_packet, {packet, %s}", (_name, type) => {
  it("cuts what decode_packet cuts, packet after packet", () => {
    fc.assert(
      fc.property(stream(type), ({ bytes, options }) => {
        const expected: Term[] = [];
        let rest = bytes;
        let error: Term | undefined;
        for (;;) {
          const r = parsePacket(type, rest, { packetSize: options.packetSize, lineLength: GEN_TCP_BUFFER, lineDelimiter: options.lineDelimiter });
          if (r.kind === "error") error = atom("emsgsize");
          if (r.kind !== "ok") break;
          expected.push(r.packet);
          rest = r.rest;
        }
        const got = run(options, [bytes]);
        const want: Outcome = { packets: expected, buffered: rest.length, ...(error === undefined ? {} : { error }) };
        return same(type, got, want);
      }),
      { numRuns: 300, seed },
    );
  });
});

describe("Framer state", () => {
  const opts = (o: Partial<FramingOptions>): FramingOptions => ({ ...defaultFramingOptions, mode: "binary", ...o });

  it("reads a second request after http_eoh, and a body after switching to raw", () => {
    const f = new Framer(opts({ packet: "http_bin" }));
    f.push(concat("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody"));
    const got = [f.next(), f.next(), f.next(), f.next()];
    expect(got[2]).toBe(atom("http_eoh"));
    expect(got[3]).toBeUndefined();
    f.setOptions(opts({ packet: "raw" }));
    expect(termEquals(f.next()!, concat("body"))).toBe(true);
  });

  it("cuts lines at gen_tcp's buffer size", () => {
    const f = new Framer(opts({ packet: "line" }));
    f.push(new Uint8Array(GEN_TCP_BUFFER * 2 + 5).fill(97));
    expect((f.next() as Uint8Array).length).toBe(GEN_TCP_BUFFER);
    expect((f.next() as Uint8Array).length).toBe(GEN_TCP_BUFFER);
    expect(f.next()).toBeUndefined();
    expect(f.buffered).toBe(5);
  });

  it("refuses recv(S, N > 0) unless raw", () => {
    const f = new Framer(opts({ packet: 2 }));
    expect(() => f.take(1)).toThrow(FramingError);
  });
});
