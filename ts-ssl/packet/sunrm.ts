/**
 * `{packet, sunrm}`: ONC RPC record marking (RFC 5531, 11): a 4-byte big-endian fragment header
 * whose top bit marks the last fragment and whose other 31 bits are the fragment's length. inet
 * frames each fragment on its own and delivers it whole, header included.
 */
import { needMore, sized, type Framed, type ParseOptions } from "./types.js";

const HEADER_SIZE = 4;
/** The 31 bits under the last-fragment flag. */
const FRAGMENT_LENGTH = 0x7fffffff;

export function parseSunrm(bytes: Uint8Array, options: ParseOptions): Framed {
  if (bytes.length < HEADER_SIZE) return needMore;
  const header = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE).getUint32(0);
  const bodySize = header & FRAGMENT_LENGTH;
  return sized(bytes, HEADER_SIZE, bodySize, options);
}
