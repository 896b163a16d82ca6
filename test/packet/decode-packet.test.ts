/**
 * Every packet type's parser against `erlang:decode_packet/3` on a real node: valid frames cut at
 * every point, with a byte after them and another frame after them; the limits of packet_size
 * and line_length; corner cases of each header; and random bytes (fast-check, 10,000 inputs per
 * type). The cases go to the node as one external term; it compares its result with ours by
 * matching, so equality is Erlang's.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeResultTerm, parsePacket } from "../../ts-ssl/packet/parse.js";
import type { PacketType, ParseOptions } from "../../ts-ssl/packet/types.js";
import { knownFieldNames } from "../../ts-ssl/packet/http-fields.js";
import { Epmd, ErlNode, randomCookie, stopAll } from "../support/erlang.js";
import { allTypes, concat, lineDelimiterOf, parseOptions, randomInput, validFrame } from "./arbitraries.js";
import { tuple } from "../../etf/terms.js";
import { decodeOptions, firstMismatch, packetTypeTerm, show } from "./oracle.js";

interface Case {
  type: PacketType;
  bytes: Uint8Array;
  options: ParseOptions;
}

const RANDOM_CASES_PER_TYPE = 10_000;
const seed = Number(process.env.PACKET_SEED ?? Date.now() % 2 ** 31);

let node: ErlNode;

beforeAll(async () => {
  const epmd = await Epmd.start();
  node = await ErlNode.start({ epmdPort: epmd.port, cookie: randomCookie() });
});
afterAll(stopAll);

const check = `fun({T, B, O, E}) -> case catch erlang:decode_packet(T, B, O) of E -> ok; R -> {erlang, R, input, T, B, O} end end`;

/** Asserts that decode_packet agrees with parsePacket on every case. */
async function agree(cases: Case[]): Promise<void> {
  const sources = cases.map(({ type, bytes, options }) => {
    const mine = decodeResultTerm(parsePacket(type, bytes, options));
    return tuple(packetTypeTerm(type), bytes, decodeOptions(type, options), mine);
  });
  const bad = await firstMismatch(node, check, sources);
  if (bad !== undefined) {
    const c = cases[bad.index]!;
    const mine = show(decodeResultTerm(parsePacket(c.type, c.bytes, c.options)));
    expect.fail(`${bad.count} of ${cases.length} differ (seed ${seed}); first: ${show(bad.found)}\n  ours: ${mine}`);
  }
}

/** A frame cut at every point, whole, with one byte after it, and with a second frame after it. */
function splits(type: PacketType, frame: Uint8Array, next: Uint8Array, options: ParseOptions): Case[] {
  const inputs = [...Array.from({ length: frame.length }, (_, i) => frame.subarray(0, i)), frame, concat(frame, [0x55]), concat(frame, next)];
  return inputs.map((bytes) => ({ type, bytes, options }));
}

function sample<T>(arb: fc.Arbitrary<T>, n: number, offset = 0): T[] {
  return fc.sample(arb, { numRuns: n, seed: seed + offset });
}

describe.each(allTypes.map((t) => [String(t), t] as const))("decode_packet(%s, ...)", (_name, type) => {
  it("agrees on valid frames cut at every point, and at the packet_size limits", async () => {
    const frames = sample(fc.tuple(validFrame(type), validFrame(type)), 60, 1);
    const cases: Case[] = [];
    for (const [frame, next] of frames) {
      const options: ParseOptions = type === "line" ? { lineDelimiter: lineDelimiterOf(frame) } : {};
      cases.push(...splits(type, frame, next, options));
      for (const limit of [frame.length - 6, frame.length - 5, frame.length - 4, frame.length - 1, frame.length, frame.length + 1]) {
        if (limit > 0) cases.push({ type, bytes: concat(frame, next), options: { ...options, packetSize: limit } });
      }
      if (type === "line" || String(type).startsWith("http")) {
        for (const limit of [1, frame.length - 1, frame.length, frame.length + 1]) {
          if (limit > 0) cases.push({ type, bytes: concat(frame, next), options: { ...options, lineLength: limit } });
        }
      }
    }
    await agree(cases);
  });

  it(`agrees on ${RANDOM_CASES_PER_TYPE} random inputs`, async () => {
    const arb = randomInput(type).chain((bytes) => parseOptions(type, bytes.length).map((options) => ({ type, bytes, options })));
    await agree(sample(arb, RANDOM_CASES_PER_TYPE, 2));
  });
});

describe("decode_packet corner cases", () => {
  const b = (...parts: Array<string | number[]>) => concat(...parts);

  it("length fields at their limits", async () => {
    const cases: Case[] = [];
    const big = [0xffffffff, 0xfffffffb, 0xfffffffc, 0x7fffffff, 0x7ffffffb, 0x7ffffffc, 0x80000000];
    for (const n of big) {
      const field = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
      for (const packetSize of [undefined, 0xffffffff, 0x7fffffff, 100]) {
        const options = packetSize === undefined ? {} : { packetSize };
        cases.push({ type: 4, bytes: b(field, [1]), options }, { type: "sunrm", bytes: b(field, [1]), options });
        cases.push({ type: "cdr", bytes: b("GIOP", [1, 0, 0, 0], field), options });
        cases.push({ type: "cdr", bytes: b("GIOP", [1, 0, 1, 0], field.slice().reverse()), options });
        cases.push({ type: "asn1", bytes: b([4, 0x84], field), options });
      }
    }
    for (const len of [0, 1, 3, 4, 5, 0xffff]) cases.push({ type: "tpkt", bytes: b([3, 0, len >> 8, len & 255], "abcd"), options: {} });
    for (const tag of [[0x1f], [0x1f, 0x80], [0x1f, 0x80, 0x01], [0x3f, 0xff, 0xff, 0x7f]]) {
      for (const len of [[0x80], [0x85, 0, 0, 0, 0, 1], [0x85, 0], [0x81], [0x81, 2], [0x82, 0, 2], [0x83, 0, 0, 1]]) {
        cases.push({ type: "asn1", bytes: b(tag, len, "xyz"), options: {} });
      }
    }
    cases.push({ type: "fcgi", bytes: b([1, 1, 0, 1, 0, 2, 3, 0], "ab", "xyz", "rest"), options: {} });
    cases.push({ type: "fcgi", bytes: b([2, 1, 0, 1, 0, 2, 3, 0], "ab", "xyz"), options: {} });
    for (const n of [0, 1, 254, 255]) cases.push({ type: 1, bytes: b([n], new Array<number>(n).fill(7)), options: { packetSize: 254 } });
    await agree(cases);
  });

  it("line limits and delimiters", async () => {
    const cases: Case[] = [];
    const line = b("abcdef\nxyz");
    for (const lineLength of [0, 1, 6, 7, 8, 10, 11]) {
      for (const packetSize of [0, 6, 7, 8, 10, 11]) {
        cases.push({ type: "line", bytes: line, options: { lineLength, packetSize } });
        cases.push({ type: "line", bytes: b("abcdefxyz"), options: { lineLength, packetSize } });
      }
    }
    for (const d of [0, 10, 13, 255]) cases.push({ type: "line", bytes: b("a\0b\rc\n", [255]), options: { lineDelimiter: d } });
    await agree(cases);
  });

  it("http lines", async () => {
    const lines = [
      "GET http://[::1]:4000/x HTTP/1.1\r\n",
      "GET http://h:99999999999/x HTTP/1.1\r\n",
      "GET http://h:2147483648/x HTTP/1.1\r\n",
      "GET http://h:0/x HTTP/1.1\r\n",
      "GET http://h:/x HTTP/1.1\r\n",
      "GET http://h:80 HTTP/1.1\r\n",
      "GET HTTPS://h:80a/ HTTP/1.1\r\n",
      "GET https:// HTTP/1.1\r\n",
      "GET http:/ HTTP/1.1\r\n",
      "GET x HTTP/1.1\r\n",
      "GET mailto:a@b HTTP/1.1\r\n",
      "GET /a\r\n",
      "GET /a \r\n",
      "GET /a HTTP/1.1junk\r\n",
      "GET /a HTTP/1.\r\n",
      "GET /a HTTP/.1\r\n",
      "GET /a HTTX/1.1\r\n",
      "GET /a HTTP/1\r\n",
      "GET\t/a\tHTTP/1.1\n",
      "GET  /a  HTTP/1.1\r\n",
      "G\x7fT /a HTTP/1.1\r\n",
      "GET\r\n",
      " GET / HTTP/1.1\r\n",
      "HTTP/99999999999.1 99999999999 OK\r\n",
      "HTTP/1.1 200\r\n",
      "HTTP/1.1 200 \r\n",
      "HTTP/1.1  \r\n",
      "HTTP/1.1 20x0 OK\r\n",
      "HTTP/1.1\r\n",
      "HTTP/1.1200 OK\r\n",
      "HTTP/ 200 OK\r\n",
      "HTTP/1.1 200 OK\r",
      "\r\n",
      "\n",
      "\r\n\r\n",
      "X: a\r\n b\r\n\r\n",
      "X: a\r\n\tb\r\n c\r\nY: d\r\n\r\n",
      "X:\r\n\r\n",
      "X  : a\r\n\r\n",
      ":a\r\n\r\n",
      "X\r\n\r\n",
      "x-\x7f-y: 1\r\n\r\n",
      "a--b-C: 1\r\n\r\n",
      `${"a".repeat(50)}: 1\r\n\r\n`,
      `${"a".repeat(51)}: 1\r\n\r\n`,
      `${"content-length".repeat(4)}: 1\r\n\r\n`,
      "\r\n \r\n",
      " \r\n",
    ].map((s) => b(s));
    const cases: Case[] = [];
    for (const type of ["http", "httph", "http_bin", "httph_bin"] as const) {
      for (const line of lines) {
        for (const options of [{}, { packetSize: 10 }, { lineLength: 10 }, { packetSize: 3, lineLength: 100 }]) {
          for (let cut = 0; cut <= line.length; cut++) cases.push({ type, bytes: line.subarray(0, cut), options });
        }
      }
    }
    await agree(cases);
  });

  it("long tokens and lines", async () => {
    const long = "A".repeat(300_000);
    const cases: Case[] = [
      { type: "http", bytes: b(long, " / HTTP/1.1\r\n"), options: {} },
      { type: "http_bin", bytes: b("GET /", long, " HTTP/1.1\r\n"), options: {} },
      { type: "httph", bytes: b(long, ": v\r\n\r\n"), options: {} },
      { type: "httph_bin", bytes: b("X: ", long, "\r\n\r\n"), options: {} },
      { type: "line", bytes: b(long, "\n"), options: {} },
    ];
    await agree(cases);
  });

  it("every known header field, in any case, with its bit number", async () => {
    const cases: Case[] = [];
    for (const name of knownFieldNames) {
      for (const spelling of [name, name.toLowerCase(), name.toUpperCase()]) {
        for (const type of ["httph", "httph_bin"] as const) cases.push({ type, bytes: b(spelling, ": v\r\n\r\n"), options: {} });
      }
    }
    await agree(cases);
    // The table's order is what the bit numbers are; check it reads as OTP's.
    const { text } = await node.eval(
      `[element(2, element(2, erlang:decode_packet(httph, <<N/binary, ": v\\r\\n\\r\\n">>, []))) || N <- [${knownFieldNames.map((n) => `<<"${n}">>`).join(",")}]]`,
    );
    expect(text.replace(/\s+/g, "")).toBe(`[${knownFieldNames.map((_, i) => i + 1).join(",")}]`);
  });
});
