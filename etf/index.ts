/**
 * The External Term Format codec: what other layers import.
 *
 *   decode, decodeAt                 (decode.ts)   bytes -> Term, EtfError on malformed input
 *   encode, Encoder                  (encode.ts)   Term -> bytes, as term_to_binary writes them
 *   EtfError                         (errors.ts)   the codec's one error, with code, tag and offset
 *   compare, compareKeys             (order.ts)    Erlang's term order
 *   formatTerm                       (format.ts)   a term as ~p / ~w prints it
 *   Tag, INTERNAL_TAGS, Limit        (tags.ts)     the wire constants and the codec's limits
 *   and every term type              (terms.ts)    the one representation of Erlang terms
 */
export { decode, decodeAt } from "./decode.js";
export { encode, Encoder } from "./encode.js";
export { EtfError } from "./errors.js";
export { compare, compareKeys } from "./order.js";
export { formatTerm } from "./format.js";
export { Tag, INTERNAL_TAGS, Limit } from "./tags.js";
export * from "./terms.js";
