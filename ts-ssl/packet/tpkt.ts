/**
 * `{packet, tpkt}`: ISO transport over TCP (RFC 1006, 6): version 3, a reserved byte, then the
 * big-endian length of the whole packet, header included. Delivered whole. Another version, or a
 * length shorter than the header, is invalid.
 */
import { invalid, needMore, sized, type Framed, type ParseOptions } from "./types.js";

const HEADER_SIZE = 4;
const TPKT_VERSION = 3;

export function parseTpkt(bytes: Uint8Array, options: ParseOptions): Framed {
  if (bytes.length < HEADER_SIZE) return needMore;
  if (bytes[0] !== TPKT_VERSION) return invalid;
  const length = (bytes[2]! << 8) | bytes[3]!;
  if (length < HEADER_SIZE) return invalid;
  return sized(bytes, HEADER_SIZE, length - HEADER_SIZE, options);
}
