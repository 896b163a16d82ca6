/**
 * `{packet, raw}` (also `0`) and `{packet, 1 | 2 | 4}`: no framing, or a big-endian unsigned
 * length of 1, 2 or 4 bytes before each packet (inet(3)). The length field is stripped on receive
 * and added on send.
 */
import { FramingError, frame, needMore, sized, type Framed, type ParseOptions } from "./types.js";

/** raw: whatever is there is the packet; nothing yet is `more`, as decode_packet says. */
export function parseRaw(bytes: Uint8Array): Framed {
  return bytes.length === 0 ? needMore : frame(bytes.length, bytes);
}

export type LengthFieldSize = 1 | 2 | 4;

/** The largest packet each length field holds, as modern OTP ssl checks it before sending. */
const maxBody: Readonly<Record<LengthFieldSize, number>> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };

export function parseLengthPrefixed(size: LengthFieldSize, bytes: Uint8Array, options: ParseOptions): Framed {
  if (bytes.length < size) return needMore;
  let bodySize = 0;
  for (let i = 0; i < size; i++) bodySize = bodySize * 256 + bytes[i]!;
  return sized(bytes, size, bodySize, options, size);
}

/** The largest body a length field of `size` bytes holds. */
export function largestBody(size: LengthFieldSize): number {
  return maxBody[size];
}

/**
 * The length field to write before `bodySize` bytes. gen_tcp silently wraps a length too big
 * for the field (corrupting the stream); modern ssl refuses it, and so do we.
 */
export function lengthField(size: LengthFieldSize, bodySize: number): Uint8Array {
  const max = maxBody[size];
  if (bodySize > max) throw FramingError.packetTooLarge(bodySize, max);
  const field = new Uint8Array(size);
  const view = new DataView(field.buffer);
  if (size === 1) view.setUint8(0, bodySize);
  else if (size === 2) view.setUint16(0, bodySize);
  else view.setUint32(0, bodySize);
  return field;
}
