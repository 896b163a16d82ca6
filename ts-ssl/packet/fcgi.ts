/**
 * `{packet, fcgi}`: FastCGI records (FastCGI 1.0, 3.3): an 8-byte header (version 1, type,
 * request id, content length, padding length, reserved), the content, then the padding. The
 * packet is the header and the content; the padding is consumed but not delivered, as inet does.
 */
import { invalid, needMore, sized, type Framed, type ParseOptions } from "./types.js";

const HEADER_SIZE = 8;
const FCGI_VERSION_1 = 1;
const CONTENT_LENGTH_AT = 4;
const PADDING_LENGTH_AT = 6;

export function parseFcgi(bytes: Uint8Array, options: ParseOptions): Framed {
  if (bytes.length < HEADER_SIZE) return needMore;
  if (bytes[0] !== FCGI_VERSION_1) return invalid;
  const padding = bytes[PADDING_LENGTH_AT]!;
  const bodySize = ((bytes[CONTENT_LENGTH_AT]! << 8) | bytes[CONTENT_LENGTH_AT + 1]!) + padding;
  return sized(bytes, HEADER_SIZE, bodySize, options, 0, padding);
}
