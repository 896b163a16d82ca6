import { describe, expect, it } from "vitest";
import { Charlist, ImproperList, atom, termEquals, tuple, type Term } from "../../etf/terms.js";
import { Framer, FramingError, defaultFramingOptions, framePacket, type FramingOptions } from "../../ts-ssl/packet/framer.js";

function opts(o: Partial<FramingOptions>): FramingOptions {
  return { ...defaultFramingOptions, mode: "binary", ...o };
}

function drain(framer: Framer): Term[] {
  const out: Term[] = [];
  for (let p = framer.next(); p !== undefined; p = framer.next()) out.push(p);
  return out;
}

/** Equal as Erlang terms, with both printed on failure. */
function same(actual: Term | Term[] | undefined, expected: Term | Term[]): void {
  if (actual === undefined || !termEquals(actual, expected)) expect(actual).toEqual(expected);
}

const b = (...xs: Array<number | string>) =>
  Buffer.concat(xs.map((x) => (typeof x === "number" ? Buffer.of(x) : Buffer.from(x, "latin1"))));

describe("Framer: length-prefixed and raw", () => {
  it("cuts {packet,2} frames and keeps the rest", () => {
    const f = new Framer(opts({ packet: 2 }));
    f.push(b(0, 3, "abc", 0, 0, 0, 2, "d"));
    same(drain(f), [b("abc"), b()]);
    expect(f.buffered).toBe(3);
    f.push(b("e"));
    same(drain(f), [b("de")]);
  });

  it("delivers list mode as a charlist and {header,N} as an improper list", () => {
    const list = new Framer(opts({ packet: 1, mode: "list" }));
    list.push(b(2, "ab"));
    expect(termEquals(list.next()!, new Charlist(b("ab")))).toBe(true);
    const hdr = new Framer(opts({ packet: 1, header: 2 }));
    hdr.push(b(3, "abc", 1, "x"));
    expect(termEquals(hdr.next()!, new ImproperList([97, 98], b("c")))).toBe(true);
    expect(termEquals(hdr.next()!, new Charlist(b("x")))).toBe(true);
  });

  it("reports emsgsize over packet_size", () => {
    const f = new Framer(opts({ packet: 2, packetSize: 2 }));
    f.push(b(0, 3));
    expect(() => f.next()).toThrow(FramingError);
  });

  it("raw: take(N) waits for N bytes, drainOnClose gives the rest", () => {
    const f = new Framer(opts({ packet: "raw" }));
    f.push(b("abc"));
    expect(f.take(4)).toBeUndefined();
    same(f.take(2), b("ab"));
    same(f.drainOnClose(), b("c"));
  });

  it("frames sends with a length field and refuses one too big", () => {
    same(framePacket(b("abc"), opts({ packet: 2 })), [b(0, 3), b("abc")]);
    same(framePacket(b(), opts({ packet: "raw" })), []);
    try {
      framePacket(new Uint8Array(256), opts({ packet: 1 }));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FramingError);
      expect(termEquals((e as FramingError).reason, tuple(atom("badarg"), tuple(atom("packet_to_large"), 256, 255)))).toBe(true);
    }
  });
});
