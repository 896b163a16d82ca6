/**
 * `{packet, cdr}`: CORBA GIOP messages (CORBA 3.0, 15.4.1): a 12-byte header, `GIOP`, version,
 * flags (bit 0: little-endian), message type, then the body size in the byte order the flags say.
 * The packet is delivered whole, header included; a header without the magic is invalid.
 */
import { invalid, needMore, sized, type Framed, type ParseOptions } from "./types.js";

const HEADER_SIZE = 12;
const MAGIC = [0x47, 0x49, 0x4f, 0x50]; // "GIOP"
const FLAGS_AT = 6;
const LITTLE_ENDIAN_FLAG = 0x01;
const SIZE_AT = 8;

export function parseCdr(bytes: Uint8Array, options: ParseOptions): Framed {
  if (bytes.length < HEADER_SIZE) return needMore;
  if (MAGIC.some((b, i) => bytes[i] !== b)) return invalid;
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  const bodySize = view.getUint32(SIZE_AT, (bytes[FLAGS_AT]! & LITTLE_ENDIAN_FLAG) !== 0);
  return sized(bytes, HEADER_SIZE, bodySize, options);
}
