/**
 * Generators of packets for every packet type: valid frames, near-valid ones (a byte changed,
 * cut short), and random bytes biased towards each type's header, with the decode_packet
 * options that matter for the type.
 */
import fc from "fast-check";
import type { PacketType, ParseOptions } from "../../ts-ssl/packet/types.js";
import { knownFieldNames } from "../../ts-ssl/packet/http-fields.js";

export const binaryTypes = ["raw", 1, 2, 4, "asn1", "cdr", "sunrm", "fcgi", "tpkt", "line"] as const;
const httpTypes = ["http", "httph", "http_bin", "httph_bin"] as const;
export const allTypes: readonly PacketType[] = [...binaryTypes, ...httpTypes];
type BinaryType = (typeof binaryTypes)[number];

export function concat(...parts: Array<Uint8Array | number[] | string>): Uint8Array {
  return Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));
}

function be(value: number, size: number): number[] {
  return Array.from({ length: size }, (_, i) => Math.floor(value / 256 ** (size - 1 - i)) % 256);
}

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
/** Bodies mostly short, sometimes at the exact limits the length fields have. */
const body = (limits: number[] = []) =>
  fc.oneof({ arbitrary: bytes(0, 24), weight: 8 }, ...limits.map((n) => ({ arbitrary: bytes(n, n), weight: 1 })));

function chars(alphabet: readonly number[], min: number, max: number): fc.Arbitrary<Uint8Array> {
  return fc.array(fc.constantFrom(...alphabet), { minLength: min, maxLength: max }).map((a) => Uint8Array.from(a));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const asn1Tag = fc.oneof(
  fc.integer({ min: 0, max: 255 }).filter((b) => (b & 0x1f) !== 0x1f).map((b) => [b]),
  fc
    .tuple(fc.integer({ min: 0, max: 7 }), fc.array(fc.integer({ min: 0x80, max: 0xff }), { maxLength: 3 }), fc.integer({ min: 0, max: 0x7f }))
    .map(([cls, more, last]) => [(cls << 5) | 0x1f, ...more, last]),
);

const asn1 = fc.tuple(asn1Tag, fc.integer({ min: 0, max: 5 }), body([127, 128, 255, 256])).map(([tag, form, b]) => {
  if (form === 0) return concat(tag, [0x80]); // indefinite length: inet reads an empty body
  if (form === 1 && b.length < 128) return concat(tag, [b.length], b);
  const octets = Math.max(form - 1, b.length > 255 ? 2 : 1);
  return concat(tag, [0x80 | octets, ...be(b.length, octets)], b);
});

const cdr = fc
  .tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.boolean(), body([256]))
  .map(([head, little, b]) => {
    const size = be(b.length, 4);
    return concat("GIOP", [head[0]!, head[1]!, (head[2]! & 0xfe) | (little ? 1 : 0), head[3]!], little ? size.reverse() : size, b);
  });

const binaryFrames: Record<BinaryType, fc.Arbitrary<Uint8Array>> = {
  raw: bytes(1, 32),
  1: body([254, 255]).map((b) => concat([b.length], b)),
  2: body([255, 256, 300]).map((b) => concat(be(b.length, 2), b)),
  4: body([256, 300]).map((b) => concat(be(b.length, 4), b)),
  asn1,
  cdr,
  sunrm: fc.tuple(fc.boolean(), body([256])).map(([last, b]) => concat(be(b.length + (last ? 0x80000000 : 0), 4), b)),
  fcgi: fc
    .tuple(fc.uint8Array({ minLength: 3, maxLength: 3 }), body([256]), bytes(0, 8), fc.integer({ min: 0, max: 255 }))
    .map(([head, content, padding, reserved]) => concat([1, ...head], be(content.length, 2), [padding.length, reserved], content, padding)),
  tpkt: fc.tuple(fc.integer({ min: 0, max: 255 }), body([252])).map(([reserved, b]) => concat([3, reserved], be(b.length + 4, 2), b)),
  line: fc.tuple(fc.constantFrom(10, 10, 0, 59, 13), bytes(0, 30)).map(([d, b]) => concat(b.filter((c) => c !== d), [d])),
};

/** The delimiter a generated `line` frame ends with. */
export function lineDelimiterOf(frame: Uint8Array): number {
  return frame[frame.length - 1]!;
}

// HTTP lines (RFC 2616 shapes, with the corners inet's parser has).
const SEPARATORS = '()<>@,;:\\"/[]?={} \t';
const tokenChars = range(33, 127).filter((c) => !SEPARATORS.includes(String.fromCharCode(c)));
const token = (min: number, max: number) => chars(tokenChars, min, max);
const spaces = chars([32, 32, 9], 1, 2);
const eol = fc.constantFrom("\r\n", "\r\n", "\n");
const digits = fc.oneof(chars(range(48, 57), 1, 2), chars(range(48, 57), 0, 12));
const textChars = [...range(32, 126), 9, 13, 0x80, 0xe9, 0xff];
const text = (max: number) => chars(textChars, 0, max);
const uriChars = range(33, 126);

const uri = fc.oneof(
  fc.constant(concat("*")),
  chars(uriChars, 0, 12).map((p) => concat("/", p)),
  fc
    .tuple(fc.constantFrom("http://", "HTTP://", "https://", "hTtPs://"), chars(range(97, 122), 0, 6), fc.option(digits), fc.option(chars(uriChars, 0, 8)))
    .map(([s, host, port, path]) => concat(s, host, port === null ? "" : concat(":", port), path === null ? "" : concat("/", path))),
  fc.tuple(token(1, 6), chars(uriChars, 0, 10)).map(([s, rest]) => concat(s, ":", rest)),
  chars(uriChars, 1, 10),
);

const method = fc.oneof(fc.constantFrom("GET", "POST", "OPTIONS", "HEAD", "PUT", "DELETE", "TRACE", "get").map((m) => concat(m)), token(1, 8));

const version = fc.tuple(digits, digits).map(([a, b]) => concat("HTTP/", a, ".", b));

const requestLine = fc
  .tuple(method, spaces, uri, fc.option(fc.tuple(spaces, version, fc.option(text(3)))), eol)
  .map(([m, s, u, v, e]) => concat(m, s, u, v === null ? "" : concat(v[0], v[1], v[2] ?? ""), e));

const responseLine = fc
  .tuple(version, spaces, fc.option(digits), fc.option(spaces), text(12), eol)
  .map(([v, s, st, s2, reason, e]) => concat(v, s, st ?? "", s2 ?? "", reason, e));

function randomCase(name: string): fc.Arbitrary<string> {
  return fc.array(fc.boolean(), { minLength: name.length, maxLength: name.length }).map((up) =>
    Array.from(name, (c, i) => (up[i] ? c.toUpperCase() : c.toLowerCase())).join(""),
  );
}

const fieldName = fc.oneof(
  { arbitrary: fc.constantFrom(...knownFieldNames).chain(randomCase).map((n) => concat(n)), weight: 4 },
  { arbitrary: token(1, 12), weight: 3 },
  { arbitrary: token(49, 53), weight: 1 },
);

const headerLine = fc
  .tuple(fieldName, fc.option(chars([32, 9], 1, 3)), text(16), fc.array(fc.tuple(chars([32, 9], 1, 2), text(8)), { maxLength: 2 }), eol)
  .map(([name, sp, value, more, e]) => concat(name, ":", sp ?? "", value, ...more.map(([s, v]) => concat("\r\n", s, v)), e));

const endOfHead = eol.map((e) => concat(e));

const junkLine = fc.tuple(chars([...range(0, 255)].filter((c) => c !== 10), 0, 20), eol).map(([b, e]) => concat(b, e));

/** One line of an HTTP head, of any kind. */
export const httpLine: fc.Arbitrary<Uint8Array> = fc.oneof(
  { arbitrary: requestLine, weight: 3 },
  { arbitrary: responseLine, weight: 3 },
  { arbitrary: headerLine, weight: 5 },
  { arbitrary: endOfHead, weight: 1 },
  { arbitrary: junkLine, weight: 1 },
);

/** A message head: a start line, headers, the empty line. */
export const httpHead: fc.Arbitrary<Uint8Array[]> = fc
  .tuple(fc.oneof(requestLine, responseLine), fc.array(headerLine, { maxLength: 4 }), endOfHead)
  .map(([start, headers, end]) => [start, ...headers, end]);

/** A frame changed a little: a byte replaced, or bytes dropped or added at the end. */
function nearly(frame: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(frame, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom("set", "cut", "grow")).map(([f, at, b, how]) => {
    if (f.length === 0) return f;
    const i = at % f.length;
    if (how === "set") {
      const g = Uint8Array.from(f);
      g[i] = b;
      return g;
    }
    return how === "cut" ? f.subarray(0, i) : concat(f, [b]);
  });
}

/** Headers of each type followed by anything, so random tests get past the first check. */
const typeHints: Record<PacketType, fc.Arbitrary<Uint8Array>> = {
  ...Object.fromEntries(binaryTypes.map((t) => [t, fc.constant(new Uint8Array(0))])),
  cdr: fc.constant(concat("GIOP")),
  fcgi: fc.constant(concat([1])),
  tpkt: fc.constant(concat([3])),
  asn1: fc.constantFrom(concat([0x1f]), concat([0x30, 0x84]), concat([0x1f, 0x81, 0x82])),
  ...Object.fromEntries(httpTypes.map((t) => [t, fc.constantFrom(concat("HTTP/1."), concat("GET "), concat("X-A: "), concat(""))])),
} as Record<PacketType, fc.Arbitrary<Uint8Array>>;

export function validFrame(type: PacketType): fc.Arbitrary<Uint8Array> {
  return typeof type === "number" || (binaryTypes as readonly PacketType[]).includes(type)
    ? binaryFrames[type as BinaryType]
    : httpLine;
}

/** Bytes for the random test of one type: noise, noise after the type's header, nearly valid frames. */
export function randomInput(type: PacketType): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    bytes(0, 40),
    fc.tuple(typeHints[type], bytes(0, 24)).map(([h, b]) => concat(h, b)),
    nearly(validFrame(type)),
    fc.tuple(validFrame(type), bytes(0, 6)).map(([f, b]) => concat(f, b)),
  );
}

/** decode_packet options worth trying with `type` on an input of `length` bytes. */
export function parseOptions(type: PacketType, length: number): fc.Arbitrary<ParseOptions> {
  const size = fc.oneof(fc.constant(undefined), fc.constant(0), fc.integer({ min: 1, max: length + 2 }));
  const lineLength = type === "line" || type.toString().startsWith("http") ? fc.oneof(fc.constant(undefined), fc.integer({ min: 0, max: length + 2 })) : fc.constant(undefined);
  const delimiter = type === "line" ? fc.oneof(fc.constant(undefined), fc.constantFrom(10, 0, 59, 13)) : fc.constant(undefined);
  return fc.record({ packetSize: size, lineLength, lineDelimiter: delimiter }).map(
    (o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as ParseOptions,
  );
}
