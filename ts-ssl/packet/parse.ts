/**
 * One entry point over every packet type's parser, and `parsePacket`, which answers exactly as
 * `erlang:decode_packet/3` does on the same type, bytes and options (OTP 25.2.3).
 */
import { atom, error, ok, tuple, undefined_, type Term } from "../../etf/terms.js";
import { parseAsn1 } from "./asn1.js";
import { parseCdr } from "./cdr.js";
import { parseFcgi } from "./fcgi.js";
import { parseHttp } from "./http.js";
import { parseLengthPrefixed, parseRaw } from "./length.js";
import { parseLine } from "./line.js";
import { parseSunrm } from "./sunrm.js";
import { parseTpkt } from "./tpkt.js";
import type { Framed, PacketType, ParseOptions } from "./types.js";

type HttpPacketType = "http" | "httph" | "http_bin" | "httph_bin";

function isHttp(type: PacketType): type is HttpPacketType {
  return type === "http" || type === "httph" || type === "http_bin" || type === "httph_bin";
}

/** The types that carry no state from one packet to the next. */
const parsers: Record<Exclude<PacketType, HttpPacketType>, (bytes: Uint8Array, options: ParseOptions) => Framed> = {
  raw: parseRaw,
  1: (bytes, options) => parseLengthPrefixed(1, bytes, options),
  2: (bytes, options) => parseLengthPrefixed(2, bytes, options),
  4: (bytes, options) => parseLengthPrefixed(4, bytes, options),
  asn1: parseAsn1,
  cdr: parseCdr,
  sunrm: parseSunrm,
  fcgi: parseFcgi,
  tpkt: parseTpkt,
  line: parseLine,
};

/**
 * The packet at the front of `bytes` under `type`. `inHeaders` is the http state (ignored by
 * other types; `httph*` are always among the headers).
 */
export function framePacketAt(type: PacketType, bytes: Uint8Array, options: ParseOptions, inHeaders: boolean): Framed {
  if (isHttp(type)) {
    const headersOnly = type === "httph" || type === "httph_bin";
    return parseHttp(bytes, options, inHeaders || headersOnly, type === "http_bin" || type === "httph_bin");
  }
  return parsers[type](bytes, options);
}

/** `erlang:decode_packet/3`'s answer. */
export type DecodeResult =
  | { readonly kind: "ok"; readonly packet: Term; readonly rest: Uint8Array }
  | { readonly kind: "more"; readonly length: number | undefined }
  | { readonly kind: "error"; readonly reason: "invalid" };

/**
 * `erlang:decode_packet(Type, Bin, Options)`: each call starts an http parse before the start
 * line (`httph*` among the headers), as the BIF does; binary packets come as binaries.
 */
export function parsePacket(type: PacketType, bytes: Uint8Array, options: ParseOptions = {}): DecodeResult {
  const framed = framePacketAt(type, bytes, options, false);
  switch (framed.kind) {
    case "frame":
      return { kind: "ok", packet: framed.body, rest: bytes.subarray(framed.size) };
    case "http":
      return { kind: "ok", packet: framed.packet, rest: bytes.subarray(framed.size) };
    case "more":
      return { kind: "more", length: framed.size };
    case "invalid":
      return { kind: "error", reason: "invalid" };
  }
}

/** The result as the Erlang term decode_packet returns. */
export function decodeResultTerm(result: DecodeResult): Term {
  switch (result.kind) {
    case "ok":
      return tuple(ok, result.packet, result.rest);
    case "more":
      return tuple(atom("more"), result.length ?? undefined_);
    case "error":
      return tuple(error, atom(result.reason));
  }
}
