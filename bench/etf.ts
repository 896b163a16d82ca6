/**
 * `npm run bench -- etf`: decode and encode of a fixed corpus, beside the emulator's own
 * binary_to_term/1 and term_to_binary/2 on the same bytes, measured in the same run (a real
 * `erl` node timing a compiled loop with erlang:monotonic_time). Rounds of ours and of the
 * emulator's alternate; each figure is the median of its rounds; the ratio is ours / BEAM in
 * operations per second (1.00 = as fast).
 *
 * Both sides are measured alike: the same number of calls per round (as many as the slower side
 * makes in a round's time), each timed loop preceded by a quarter as many calls untimed, and
 * each call's result kept until the next call has made its own. (Without the warm-up, our first
 * loop after the emulator's ran about a third slower than the same loop run next, while the
 * emulator's loop was always warmed by its calibration; with it, still a tenth slower, so our
 * loops take turns at going first.) The emulator writes the same bytes as we do (checked; a map
 * of more than 32 keys is in its hash order, so the same length).
 *
 * Also checked on the way: every corpus term round-trips, and decoded binaries and charlists
 * are views of the input (no payload copy).
 */
import { stopAll } from "../test/support/erlang.js";
import { Oracle } from "../test/etf/oracle.js";
import {
  Charlist,
  Encoder,
  ErlMap,
  ImproperList,
  Limit,
  Pid,
  Ref,
  Tuple,
  atom,
  charlist,
  decode,
  encode,
  termEquals,
  tuple,
  type Term,
} from "../etf/index.js";
import { median } from "./stats.js";

const ROUNDS = 9;
const ROUND_MS = 150;
/**
 * Outputs this long are past encode()'s slab (etf/bytes.ts), so each needs a Buffer of its own:
 * for them the benchmark also times that allocation and copy alone, the least encode() can do.
 */
const OWN_BUFFER = 64 * 1024;

/** The corpus: what the bridge carries most, and the shapes that stress a codec. */
function corpus(): Array<[string, Term]> {
  const node = atom("client@host");
  const bridge = atom("ts_ssl_bridge@host");
  const caller = new Pid(node, 85, 0, 1700000000);
  const socketPid = new Pid(bridge, 12, 0, 1700000001);
  const socket = tuple(atom("sslsocket"), 17, socketPid);
  const mref = new Ref(node, 1700000000, [0x1a2b3c, 0x4d5e6f, 0x70809, 0xa0b0c]);
  const kib = Buffer.alloc(1024, 0x61);
  const genCall = tuple(
    atom("$gen_call"),
    tuple(caller, new ImproperList([atom("alias")], mref)),
    tuple(atom("send"), socket, kib),
  );
  const map = new ErlMap(Array.from({ length: 100 }, (_, i) => [atom(`key_${i}`), i % 3 === 0 ? Buffer.from(`value ${i}`) : i * 1000] as [Term, Term]));
  const ints = Array.from({ length: 10_000 }, (_, i) => (i * 7919) % 1_000_000);
  let deep: Term = atom("leaf");
  for (let i = 0; i < 1000; i++) deep = tuple(atom("node"), i, [deep]);
  return [
    ["$gen_call, 1 KiB binary", genCall],
    ["{ssl, S, 64 KiB binary}", tuple(atom("ssl"), socket, Buffer.alloc(64 * 1024, 0x62))],
    ["{ssl, S, 1000-byte charlist}", tuple(atom("ssl"), socket, charlist("c".repeat(1000)))],
    ["map of 100 keys", map],
    ["list of 10,000 integers", ints],
    ["1000-deep nested term", deep],
  ];
}

/** How many calls of `op` take about ROUND_MS. */
function calibrate(op: () => unknown): number {
  for (let n = 1; ; n *= 4) {
    const ms = timed(op, n);
    if (ms >= ROUND_MS / 4) return Math.max(1, Math.round((n * ROUND_MS) / ms));
  }
}

let sink: unknown;

/** Milliseconds for `n` calls of `op`. */
function timed(op: () => unknown, n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sink = op();
  return performance.now() - t0;
}

/** Operations per second over `n` calls of `op`, after a quarter as many untimed. */
function round(op: () => unknown, n: number): number {
  timed(op, Math.max(1, n >> 2));
  return (n * 1000) / timed(op, n);
}

/** Whether every binary and charlist in `t` is a view of `input`'s memory. */
function allViews(t: Term, input: Uint8Array): boolean {
  const stack: Term[] = [t];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x instanceof Uint8Array && x.length > 0 && x.buffer !== input.buffer) return false;
    if (x instanceof Charlist && x.bytes.buffer !== input.buffer) return false;
    if (x instanceof Tuple) stack.push(...x.elements);
    else if (Array.isArray(x) && x.length < 100) stack.push(...x);
    else if (x instanceof ErlMap) for (const [k, v] of x.entries()) stack.push(k, v);
  }
  return true;
}

/** Whether the emulator's bytes are ours: the same, or for a map of more than 32 keys (written in its hash order) as long. */
function sameBytes(beam: Uint8Array, ours: Uint8Array, term: Term): boolean {
  if (term instanceof ErlMap && term.size > Limit.FLATMAP_KEYS) return beam.length === ours.length;
  return Buffer.from(beam).equals(ours);
}

const fmt = (n: number) => (n >= 100_000 ? `${(n / 1000).toFixed(0)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : n.toFixed(0));
const mb = (ops: number, bytes: number) => ((ops * bytes) / 1e6).toFixed(0);

export async function run(): Promise<void> {
  const oracle = await Oracle.start();
  // What the distribution layer does: an encoder kept across messages, big binaries by reference.
  const iovec = new Encoder({ chunkThreshold: 4096 });
  try {
    const rows: string[][] = [];
    const notes: string[] = [];
    const lowest = { decode: Infinity, encode: Infinity, iovec: Infinity };
    let i = 0;
    for (const [name, term] of corpus()) {
      const bytes = encode(term);
      const back = decode(bytes);
      if (!termEquals(back, term)) throw new Error(`${name}: does not round-trip`);
      if (!allViews(back, bytes)) throw new Error(`${name}: a decoded binary is a copy`);
      const variable = `Bench${i++}`;
      await oracle.bind(variable, bytes);
      const [beamBytes] = await oracle.decodeEach([bytes]);
      if (!sameBytes(beamBytes!, bytes, term)) throw new Error(`${name}: term_to_binary writes other bytes than encode()`);
      const ops = {
        decode: () => decode(bytes),
        encode: () => encode(term),
        iovec: () => iovec.external(term).finishChunks(),
        fresh: () => {
          const b = Buffer.allocUnsafe(bytes.length);
          b.set(bytes);
          return b;
        },
      };
      const beamCalls = await oracle.calibrate(variable, ROUND_MS);
      const n = {
        decode: Math.min(calibrate(ops.decode), beamCalls.decodeCalls),
        encode: Math.min(calibrate(ops.encode), calibrate(ops.iovec), beamCalls.encodeCalls),
      };
      const own = bytes.length >= OWN_BUFFER;
      const rate = {
        decode: [] as number[],
        encode: [] as number[],
        iovec: [] as number[],
        fresh: [] as number[],
        beamDecode: [] as number[],
        beamEncode: [] as number[],
      };
      // Our loops take turns at running first after the emulator's, which runs slower (see
      // above): each is first in a third of the rounds, and the median leaves those out.
      const ours: Array<[number[], () => unknown, number]> = [
        [rate.decode, ops.decode, n.decode],
        [rate.encode, ops.encode, n.encode],
        [rate.iovec, ops.iovec, n.encode],
      ];
      if (own) ours.push([rate.fresh, ops.fresh, n.encode]);
      // Rounds of ours and of the emulator's alternate, so that load from elsewhere hits both alike.
      for (let r = 0; r < ROUNDS; r++) {
        const beam = await oracle.bench(variable, n.decode, n.encode);
        rate.beamDecode.push(1e9 / beam.decodeNs);
        rate.beamEncode.push(1e9 / beam.encodeNs);
        for (let k = 0; k < ours.length; k++) {
          const [rates, op, calls] = ours[(r + k) % ours.length]!;
          rates.push(round(op, calls));
        }
      }
      const [dec, enc, vec, beamDec, beamEnc] = [rate.decode, rate.encode, rate.iovec, rate.beamDecode, rate.beamEncode].map(median) as [
        number,
        number,
        number,
        number,
        number,
      ];
      lowest.decode = Math.min(lowest.decode, dec / beamDec);
      lowest.encode = Math.min(lowest.encode, enc / beamEnc);
      lowest.iovec = Math.min(lowest.iovec, vec / beamEnc);
      if (own) {
        const fresh = median(rate.fresh);
        notes.push(
          `${name}: allocating and filling a Buffer of ${bytes.length} bytes alone (allocUnsafe + set) runs at ${fmt(fresh)}/s, ` +
            `ratio ${(fresh / beamEnc).toFixed(2)}: the most encode() can reach, as it must make one`,
        );
      }
      const cell = (ops: number) => `${fmt(ops)} (${mb(ops, bytes.length)})`;
      rows.push([
        name,
        String(bytes.length),
        cell(dec),
        cell(beamDec),
        (dec / beamDec).toFixed(2),
        cell(enc),
        cell(vec),
        cell(beamEnc),
        (enc / beamEnc).toFixed(2),
        (vec / beamEnc).toFixed(2),
      ]);
    }
    const head = ["term", "bytes", "decode/s (MB/s)", "BEAM", "ratio", "encode/s (MB/s)", "iovec/s (MB/s)", "BEAM", "ratio", "iovec"];
    const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
    const line = (r: string[]) => r.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join("  ");
    console.log(line(head));
    for (const r of rows) console.log(line(r));
    console.log(
      `medians of ${ROUNDS} alternating rounds, the same number of calls on both sides (~${ROUND_MS} ms for the slower); ` +
        "ratio = ours / BEAM in ops/s. encode = encode() into one Buffer; iovec = a reused Encoder handing big binaries over by reference.",
    );
    for (const note of notes) console.log(note);
    console.log(
      `lowest ratios: decode ${lowest.decode.toFixed(2)}, encode ${lowest.encode.toFixed(2)}, iovec ${lowest.iovec.toFixed(2)} (target 0.50); ` +
        "decoded binaries and charlists are views of the input (no copy)",
    );
    if (sink === Symbol.for("never")) console.log(sink);
  } finally {
    await stopAll();
  }
}
