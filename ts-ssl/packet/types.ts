/**
 * Packet framing as `gen_tcp` does it (inet(3) `{packet, PacketType}`), without a socket: the
 * types every packet module shares, and the one error type.
 *
 * ssl 3.9 set the user's `packet`, `header` and `mode` on a loopback inet socket, so its framing
 * was exactly inet_drv's; this folder reproduces that on the bytes node:tls decrypts. Facts are
 * from OTP 25.2.3 (erts 13.1.5), checked against `erlang:decode_packet/3` and `gen_tcp` on a real
 * node by test/packet/.
 */
import { atom, tuple, type Term } from "../../etf/terms.js";
import { SslError } from "../errors.js";

/** `{packet, PacketType}`; `0` is normalised to `"raw"` by whoever parses options. */
export type PacketType =
  | "raw"
  | 1
  | 2
  | 4
  | "asn1"
  | "cdr"
  | "sunrm"
  | "fcgi"
  | "tpkt"
  | "line"
  | "http"
  | "httph"
  | "http_bin"
  | "httph_bin";

export interface FramingOptions {
  packet: PacketType;
  /** `{packet_size, N}`: the largest packet accepted; 0 = no limit (gen_tcp's default). */
  packetSize: number;
  /** `{line_delimiter, C}` for `line`: a byte, default 10 (`$\n`). */
  lineDelimiter: number;
  mode: "list" | "binary";
  /** `{header, N}`: in binary mode, the first N bytes come as a list before the binary. */
  header: number;
}

/** gen_tcp's defaults, as `inet:getopts/2` reports them on a fresh socket (OTP 25). */
export const defaultFramingOptions: Readonly<FramingOptions> = {
  packet: "raw",
  packetSize: 0,
  lineDelimiter: 10,
  mode: "list",
  header: 0,
};

/**
 * The options `erlang:decode_packet/3` takes, by their Erlang names. A parser reads only the ones
 * its type uses, as decode_packet does.
 */
export interface ParseOptions {
  /** `{packet_size, N}`, 0 = no limit. */
  packetSize?: number;
  /** `{line_length, N}`: `line` packets longer than N come cut at N; `http*` lines longer are invalid. 0 = no limit. */
  lineLength?: number;
  /** `{line_delimiter, C}`, `line` only. */
  lineDelimiter?: number;
}

/**
 * What a packet type's parser says about the bytes at the front of a buffer (inet_drv's
 * `packet_get_length` and `packet_parse` in one answer):
 * - `frame`: a packet of `size` bytes is there; `body` is what a binary-packet type delivers (a
 *   view of the input, for 1/2/4 without the length field, for fcgi without the padding);
 * - `http`: a packet of `size` bytes that http parsing turned into a term, and the http parse
 *   state after it (`inHeaders`: among the headers);
 * - `more`: not enough bytes; `size` is the whole packet's size when the header already tells it;
 * - `invalid`: the bytes can never become a packet (a bad header, over `packet_size`).
 */
export type Framed =
  | { readonly kind: "frame"; readonly size: number; readonly body: Uint8Array }
  | { readonly kind: "http"; readonly size: number; readonly packet: Term; readonly inHeaders: boolean }
  | { readonly kind: "more"; readonly size: number | undefined }
  | { readonly kind: "invalid" };

export const needMore: Framed = Object.freeze({ kind: "more", size: undefined });
export const invalid: Framed = Object.freeze({ kind: "invalid" });

export function frame(size: number, body: Uint8Array): Framed {
  return { kind: "frame", size, body };
}

/**
 * A whole packet of `headerSize + bodySize` bytes, or `more` until it is all there: inet's rule for
 * every type whose header carries the length. `bodySize` above `packet_size`, or a total that does
 * not fit a C `int` (OTP 25 checks the sum for wrap-around), is invalid. The packet delivered is
 * all of it but the first `strip` bytes (1/2/4: the length field) and the last `padding` (fcgi).
 */
export function sized(bytes: Uint8Array, headerSize: number, bodySize: number, options: ParseOptions, strip = 0, padding = 0): Framed {
  const packetSize = options.packetSize ?? 0;
  if (packetSize !== 0 && bodySize > packetSize) return invalid;
  const size = headerSize + bodySize;
  if (size > INT_MAX) return invalid;
  if (bytes.length < size) return { kind: "more", size };
  return frame(size, bytes.subarray(strip, size - padding));
}

/** C's INT_MAX: inet's packet lengths are `int`. */
const INT_MAX = 0x7fffffff;

/** Failure codes: `emsgsize` on receive (as gen_tcp), `packet_to_large` on send (as modern ssl). */
export type FramingErrorCode = "emsgsize" | "packet_to_large" | "einval";

/**
 * A framing failure a peer or user caused: an SslError (its `reason` the Erlang reason term to
 * report) that the socket tells apart, since a packet it cannot frame also ends the socket.
 */
export class FramingError extends SslError {
  declare readonly code: FramingErrorCode;

  constructor(code: FramingErrorCode, reason: Term) {
    super(reason, `packet framing: ${code}`, { code });
  }

  /** What gen_tcp reports for a packet it cannot frame (then it closes the socket). */
  static emsgsize(): FramingError {
    return new FramingError("emsgsize", atom("emsgsize"));
  }

  /** `{badarg, {packet_to_large, Size, Max}}`: modern OTP ssl's refusal of a send too big for the length field. */
  static packetTooLarge(size: number, max: number): FramingError {
    return new FramingError("packet_to_large", tuple(atom("badarg"), tuple(atom("packet_to_large"), size, max)));
  }

  /** `recv(S, Length > 0)` when the packet type is not raw: gen_tcp's `{error, einval}`. */
  static einval(): FramingError {
    return new FramingError("einval", atom("einval"));
  }
}
