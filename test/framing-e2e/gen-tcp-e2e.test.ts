/**
 * ts_ssl frames what comes over TLS as gen_tcp frames what comes over TCP: one byte stream, cut
 * into the same chunks, is sent to a gen_tcp receiver by a TCP sender and to a ts_ssl receiver
 * (through a bridge in this process) by OTP's ssl, each with the same `packet`, `mode`,
 * `header`, `packet_size` and `line_delimiter`, in active, `{active, once}` and passive mode; the
 * two must deliver the same sequence (framing_e2e.erl, on a real node).
 *
 * Left out of the random streams, as ts-ssl/packet/framer.ts documents: the bounds of raw packets
 * (what gen_tcp had read when it delivered: TCP timing; raw data is compared as one byte string,
 * each piece checked for its form), lines and http lines longer than gen_tcp's 1460-byte receive
 * buffer (the generators stay far below it), and setopts in the middle of a stream (after which
 * a grown buffer would matter).
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Node } from "../../bridge/api.js";
import { decode } from "../../etf/decode.js";
import { encode } from "../../etf/encode.js";
import { formatTerm } from "../../etf/format.js";
import { atom, tuple, type Term } from "../../etf/terms.js";
import type { PacketType } from "../../ts-ssl/packet/types.js";
import { startSslBridge } from "../support/bridge.js";
import { allTypes, concat, httpHead, httpLine, validFrame } from "../packet/arbitraries.js";
import { packetTypeTerm } from "../packet/oracle.js";
import { Epmd, ErlNode, erlc, randomCookie, repoRoot, stopAll } from "../support/erlang.js";

const seed = Number(process.env.FRAMING_SEED ?? Date.now() % 2 ** 31);
const RUNS = Number(process.env.FRAMING_RUNS ?? 60);

const work = mkdtempSync(join(tmpdir(), "ts-ssl-framing-"));
let erl: ErlNode;
let bridge: Node;

beforeAll(async () => {
  const ebin = join(work, "ebin");
  mkdirSync(ebin);
  const sources = [join(repoRoot, "test", "framing-e2e", "framing_e2e.erl"), join(repoRoot, "erlang_stub", "test", "ts_ssl_certs.erl")];
  erlc(sources, ebin);
  const cookie = randomCookie();
  const epmd = await Epmd.start();
  bridge = await startSslBridge(cookie, epmd.port);
  erl = await ErlNode.start({ epmdPort: epmd.port, cookie, codePaths: [ebin] });
  await erl.eval(`application:set_env(ts_ssl, bridge, '${bridge.name.name}'), framing_e2e:setup("${join(work, "certs")}")`);
}, 60_000);

afterAll(async () => {
  await erl?.stop();
  await bridge?.stop();
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

type Delivery = "true" | "once" | "false";

interface Framing {
  packet: PacketType;
  mode: "list" | "binary";
  header: number;
  packetSize: number;
  lineDelimiter: number;
}

interface Case {
  framing: Framing;
  delivery: Delivery;
  /** The stream: whole packets, then maybe the start of one more (which gen_tcp drops at close). */
  frames: Uint8Array[];
  tail: Uint8Array;
  /** Where the stream is cut into chunks (taken modulo its length). */
  cuts: number[];
}

function optionsTerm(f: Framing): Term {
  return [
    tuple(atom("packet"), packetTypeTerm(f.packet)),
    tuple(atom("mode"), atom(f.mode)),
    tuple(atom("header"), f.header),
    tuple(atom("packet_size"), f.packetSize),
    tuple(atom("line_delimiter"), f.lineDelimiter),
  ];
}

function chunksOf(c: Case): Uint8Array[] {
  const stream = concat(...c.frames, c.tail);
  const points = [...new Set(c.cuts.map((p) => p % stream.length).filter((p) => p > 0))].sort((a, b) => a - b);
  return [0, ...points].map((p, i, all) => stream.subarray(p, all[i + 1] ?? stream.length));
}

/** `same`, or what framing_e2e found, printed. */
async function compare(c: Case): Promise<string> {
  const payload = encode(tuple(optionsTerm(c.framing), atom(c.delivery), chunksOf(c)), { compressed: true }).toString("base64");
  const { etf } = await erl.eval(`framing_e2e:compare(ts_ssl, binary_to_term(base64:decode(<<"${payload}">>)))`);
  const answer = decode(etf);
  return answer === atom("same") ? "same" : formatTerm(answer, { maxLength: 6000 });
}

function describeCase(c: Case): string {
  return `${formatTerm(optionsTerm(c.framing))}, {active, ${c.delivery}}, chunks ${formatTerm(chunksOf(c), { maxLength: 3000 })}`;
}

/** Lines ending in `delimiter` (and none inside), short of gen_tcp's 1460-byte buffer. */
function lineFrame(delimiter: number): fc.Arbitrary<Uint8Array> {
  return fc.uint8Array({ maxLength: 40 }).map((b) => concat(b.filter((x) => x !== delimiter), [delimiter]));
}

function framesFor(type: PacketType, delimiter: number): fc.Arbitrary<Uint8Array[]> {
  const some = (frame: fc.Arbitrary<Uint8Array>) => fc.array(frame, { minLength: 1, maxLength: 6 });
  if (type === "line") return some(lineFrame(delimiter));
  if (type === "http" || type === "http_bin") return fc.oneof(httpHead, some(httpLine));
  if (type === "httph" || type === "httph_bin") return some(httpLine);
  return some(validFrame(type));
}

/** The first bytes of one more packet, or nothing. */
function tailFor(type: PacketType, delimiter: number): fc.Arbitrary<Uint8Array> {
  const start = type === "line" ? lineFrame(delimiter) : typeof type === "number" || !type.startsWith("http") ? validFrame(type) : httpLine;
  return fc.oneof(
    { arbitrary: fc.constant(new Uint8Array(0)), weight: 2 },
    { arbitrary: fc.tuple(start, fc.nat()).map(([f, n]) => f.subarray(0, n % f.length)), weight: 1 },
  );
}

const framing: fc.Arbitrary<Framing> = fc.record({
  packet: fc.constantFrom(...allTypes),
  mode: fc.constantFrom("list" as const, "binary" as const),
  header: fc.oneof({ arbitrary: fc.constant(0), weight: 2 }, { arbitrary: fc.integer({ min: 1, max: 4 }), weight: 1 }),
  packetSize: fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, { arbitrary: fc.integer({ min: 1, max: 60 }), weight: 1 }),
  lineDelimiter: fc.constantFrom(10, 10, 0, 59),
});

function cases(delivery: Delivery): fc.Arbitrary<Case> {
  return framing.chain((f) =>
    fc.record({
      framing: fc.constant(f),
      delivery: fc.constant(delivery),
      frames: framesFor(f.packet, f.lineDelimiter),
      tail: tailFor(f.packet, f.lineDelimiter),
      cuts: fc.array(fc.nat(), { maxLength: 10 }),
    }),
  );
}

describe("ts_ssl over TLS delivers what gen_tcp delivers over TCP", () => {
  for (const delivery of ["true", "once", "false"] as const) {
    it(`random streams and chunkings, {active, ${delivery}}`, async () => {
      await fc.assert(
        fc.asyncProperty(cases(delivery), async (c) => {
          const found = await compare(c);
          if (found !== "same") throw new Error(`${describeCase(c)}\n  ${found}`);
        }),
        { numRuns: RUNS, seed, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: true },
      );
    }, 120_000);
  }

  it("every packet type, a TLS record per byte, in each mode", async () => {
    const failures: string[] = [];
    for (const packet of allTypes) {
      const [frames] = fc.sample(framesFor(packet, 10), { numRuns: 1, seed });
      const stream = concat(...frames!);
      for (const delivery of ["true", "once", "false"] as const) {
        for (const mode of ["list", "binary"] as const) {
          const c: Case = {
            framing: { packet, mode, header: mode === "binary" ? 2 : 0, packetSize: 0, lineDelimiter: 10 },
            delivery,
            frames: frames!,
            tail: new Uint8Array(0),
            cuts: Array.from({ length: stream.length }, (_, i) => i),
          };
          const found = await compare(c);
          if (found !== "same") failures.push(`${describeCase(c)}\n  ${found}`);
        }
      }
    }
    expect(failures).toEqual([]);
  }, 120_000);
});
