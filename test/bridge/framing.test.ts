import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ByteQueue,
  FrameError,
  FrameJoiner,
  FrameReader,
  frameHead,
  frameLength,
  frameTail,
  joinFrame,
  type Frame,
} from "../../bridge/framing.js";
import { framed } from "./helpers.js";

function encodeFrames(frames: Uint8Array[], size: 2 | 4): Buffer {
  return Buffer.concat(frames.map((f) => framed(f, size)));
}

function readAll(reader: FrameReader, chunks: Uint8Array[]): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) reader.push(c, (f) => out.push(Buffer.from(joinFrame(f))));
  return out;
}

describe("ByteQueue", () => {
  const frames = [Buffer.from("hello"), Buffer.alloc(0), Buffer.alloc(300, 7)];

  for (const size of [2, 4] as const) {
    it(`takes the same frames at every split point, and leaves what follows them unread (${size}-byte lengths)`, () => {
      const wire = Buffer.concat([encodeFrames(frames, size), Buffer.from("rest")]);
      for (let i = 0; i <= wire.length; i++) {
        for (const j of [i, Math.min(wire.length, i + 1), Math.min(wire.length, i + 7)]) {
          const q = new ByteQueue();
          const got: Buffer[] = [];
          for (const c of [wire.subarray(0, i), wire.subarray(i, j), wire.subarray(j)]) {
            q.push(c);
            for (let f = q.takeFrame(size); f !== undefined && got.length < frames.length; f = q.takeFrame(size)) {
              got.push(Buffer.from(f));
              if (got.length === frames.length) break;
            }
          }
          expect(got, `split at ${i}/${j}`).toEqual(frames);
          expect(Buffer.from(q.take(q.length)).toString()).toBe("rest");
        }
      }
    });
  }

  it("hands out a frame inside one chunk as a view of it, and joins only one that spans chunks", () => {
    const wire = encodeFrames([Buffer.from("abc"), Buffer.from("defg")], 2);
    const q = new ByteQueue();
    // "abc" whole in the first chunk, "defg" split across both.
    q.push(wire.subarray(0, 8));
    q.push(wire.subarray(8));
    const first = q.takeFrame(2)!;
    const second = q.takeFrame(2)!;
    expect(q.length).toBe(0);
    wire.fill(0);
    // The first is the chunk's own memory; the second, copied when joined, is not.
    expect(Buffer.from(first)).toEqual(Buffer.alloc(3));
    expect(Buffer.from(second).toString()).toBe("defg");
  });
});

describe("FrameReader", () => {
  const frames = [Buffer.from("hello"), Buffer.alloc(0), Buffer.from([1, 2, 3]), Buffer.alloc(300, 7)];

  for (const size of [2, 4] as const) {
    it(`gives the same frames at every split point (${size}-byte lengths)`, () => {
      const wire = encodeFrames(frames, size);
      for (let i = 0; i <= wire.length; i++) {
        for (const j of [i, Math.min(wire.length, i + 1), Math.min(wire.length, i + 7)]) {
          const got = readAll(new FrameReader(size, 1 << 20), [wire.subarray(0, i), wire.subarray(i, j), wire.subarray(j)]);
          expect(got, `split at ${i}/${j}`).toEqual(frames);
        }
      }
    });
  }

  it("gives every prefix nothing past the frames it completes, and holds the partial rest", () => {
    const wire = encodeFrames([Buffer.from("abc")], 4);
    for (let i = 0; i < wire.length; i++) {
      const reader = new FrameReader(4, 100);
      expect(readAll(reader, [wire.subarray(0, i)])).toEqual([]);
      expect(reader.idle).toBe(i === 0);
    }
  });

  it("read() gives a frame inside a chunk as its place there, ticks as empty, others as pieces, as push() gives them", () => {
    const wire = encodeFrames(frames, 4);
    for (let i = 0; i <= wire.length; i++) {
      const got: Buffer[] = [];
      const r = new FrameReader(4, 1 << 20);
      for (const c of [wire.subarray(0, i), wire.subarray(i)]) {
        r.read(
          c,
          (bytes, start, end) => {
            expect(bytes).toBe(c);
            got.push(Buffer.from(bytes.subarray(start, end)));
          },
          (parts) => got.push(Buffer.concat(parts)),
        );
      }
      expect(got, `split at ${i}`).toEqual(frames);
    }
  });

  it("hands out a frame inside one chunk as a view, not a copy", () => {
    const wire = encodeFrames([Buffer.from("abc")], 4);
    let frame: Frame | undefined;
    new FrameReader(4, 100).push(wire, (f) => (frame = f));
    expect(frame).toBeInstanceOf(Uint8Array);
    expect((frame as Uint8Array).buffer).toBe(wire.buffer);
  });

  it("hands out a frame across chunks as its pieces", () => {
    const wire = encodeFrames([Buffer.from("abcdef")], 4);
    let frame: Frame | undefined;
    const r = new FrameReader(4, 100);
    r.push(wire.subarray(0, 6), (f) => (frame = f));
    r.push(wire.subarray(6), (f) => (frame = f));
    expect(Array.isArray(frame)).toBe(true);
    expect(frameLength(frame!)).toBe(6);
    expect(Buffer.from(frameHead(frame!, 3)).toString()).toBe("abc");
    expect(Buffer.concat(frameTail(frame!, 1)).toString()).toBe("bcdef");
    expect(Buffer.concat(frameTail(frame!, 2)).toString()).toBe("cdef");
  });

  it("takes a frame of exactly the limit and refuses one byte more", () => {
    const ok = encodeFrames([Buffer.alloc(1000)], 4);
    expect(readAll(new FrameReader(4, 1000), [ok])).toHaveLength(1);
    const big = encodeFrames([Buffer.alloc(1001)], 4);
    expect(() => readAll(new FrameReader(4, 1000), [big])).toThrow(FrameError);
  });

  it("refuses a 4 GiB length without allocating", () => {
    expect(() => readAll(new FrameReader(4, 1 << 20), [Buffer.from([0xff, 0xff, 0xff, 0xff, 1])])).toThrow(FrameError);
  });

  it("gives the same frames for any chunking (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (bodies, cuts) => {
          const wire = encodeFrames(bodies, 4);
          const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let prev = 0;
          for (const p of points) {
            chunks.push(wire.subarray(prev, p));
            prev = p;
          }
          chunks.push(wire.subarray(prev));
          expect(readAll(new FrameReader(4, 1 << 20), chunks)).toEqual(bodies.map((b) => Buffer.from(b)));
        },
      ),
    );
  });
});

describe("FrameJoiner", () => {
  it("joins pieces into shared slabs, and gives large frames memory of their own", () => {
    const j = new FrameJoiner(1024);
    const a = j.join([Buffer.from("ab"), Buffer.from("cd")]);
    const b = j.join([Buffer.from("e"), Buffer.from("fgh")]);
    expect(Buffer.from(a).toString()).toBe("abcd");
    expect(Buffer.from(b).toString()).toBe("efgh");
    expect(a.buffer).toBe(b.buffer);
    const big = j.join([Buffer.alloc(300, 1), Buffer.alloc(300, 2)]);
    expect(big.length).toBe(600);
    expect(big.buffer).not.toBe(a.buffer);
    // A full slab is left to the views that hold it; the next frame starts a new one.
    const fill = j.join([Buffer.alloc(200), Buffer.alloc(50)]);
    const more = j.join([Buffer.alloc(200), Buffer.alloc(50)]);
    expect(Buffer.from(a).toString()).toBe("abcd");
    expect(fill.length + more.length).toBe(500);
  });

  it("hands back a contiguous frame or a single piece as it is", () => {
    const j = new FrameJoiner();
    const v = Buffer.from("xyz");
    expect(j.join(v)).toBe(v);
    expect(j.join([v])).toBe(v);
  });
});
