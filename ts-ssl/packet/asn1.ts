/**
 * `{packet, asn1}`: one BER-encoded ASN.1 value per packet (inet(3)). The length comes from the
 * identifier and length octets (X.690 8.1.2, 8.1.3): a tag of one octet or the long form (low
 * five bits all set, then octets with bit 8 set until one without), then a short length (bit 8
 * clear) or a long one of at most four octets. The packet is delivered whole, header included.
 * The indefinite form (0x80) counts as an empty body, as inet does.
 */
import { invalid, needMore, sized, type Framed, type ParseOptions } from "./types.js";

/** Bit 8 of an identifier or length octet: "more octets follow" / "long form". */
const MORE = 0x80;
/** Low five bits of the first identifier octet all set: the tag number follows in more octets. */
const LONG_TAG = 0x1f;
/** inet reads long lengths of up to four octets. */
const MAX_LENGTH_OCTETS = 4;

export function parseAsn1(bytes: Uint8Array, options: ParseOptions): Framed {
  const n = bytes.length;
  if (n < 2) return needMore;
  let at = 1;
  if ((bytes[0]! & LONG_TAG) === LONG_TAG) {
    while (at < n && (bytes[at]! & MORE) !== 0) at++;
    // The last tag octet and a length octet must both be there.
    if (n - at < 2) return needMore;
    at++;
  }
  const first = bytes[at]!;
  at++;
  let bodySize = first & ~MORE;
  if ((first & MORE) !== 0) {
    const octets = bodySize;
    if (n - at < octets) return needMore;
    if (octets > MAX_LENGTH_OCTETS) return invalid;
    bodySize = 0;
    for (let i = 0; i < octets; i++) bodySize = bodySize * 256 + bytes[at + i]!;
    at += octets;
  }
  return sized(bytes, at, bodySize, options);
}
