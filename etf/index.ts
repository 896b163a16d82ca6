/**
 * The External Term Format codec: what other layers import.
 *
 *   decode, decodeAt, DecodeOptions  (decode.ts)   bytes -> Term, EtfError on malformed input
 *   encode, Encoder, EncodeOptions   (encode.ts)   Term -> bytes, as term_to_binary writes them
 *   ByteBuilder                      (bytes.ts)    the byte builder under Encoder
 *   EtfError, EtfErrorCode           (errors.ts)   the one error, with code, tag and offset
 *   compare, compareKeys             (order.ts)    Erlang's term order
 *   formatTerm                       (format.ts)   a term as ~p / ~w prints it
 *   Tag, tagName, VERSION_MAGIC      (tags.ts)     the wire constants
 *   and every term type              (terms.ts)    the one representation of Erlang terms
 */
export { decode, decodeAt, DEFAULT_MAX_SIZE, type DecodeOptions } from "./decode.js";
export { encode, Encoder, type EncodeOptions } from "./encode.js";
export { ByteBuilder } from "./bytes.js";
export { EtfError, EtfErrorCodes, type EtfErrorCode } from "./errors.js";
export { compare, compareKeys, sortedEntries, type Order } from "./order.js";
export { formatTerm, formatAtom, formatFloat, type FormatOptions } from "./format.js";
export { Tag, INTERNAL_TAGS, tagName, VERSION_MAGIC, Limit } from "./tags.js";
export * from "./terms.js";
