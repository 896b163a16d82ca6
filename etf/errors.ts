/**
 * `EtfError`: the one error the codec throws for anything a peer or caller can cause.
 *
 *   try { decode(bytes) } catch (e) { if (e instanceof EtfError) log(e.code, e.tag, e.offset) }
 *
 * `code` is stable (one of `EtfErrorCode`), `tag` the wire tag that was being read (undefined
 * when no tag was involved, as for a wrong version byte or an unencodable value), `offset` the
 * byte position in the input (decode) or in the output (encode) where it went wrong.
 */
import { tagName } from "./tags.js";

/**
 * The base of every error the program throws for what a peer, a caller or a socket can cause:
 * `name` is the class's, `code` a string of the class's own closed set to branch on, and
 * `cause` the error it wraps, kept whole (its class and fields) rather than copied into the
 * message. It lives here, in the lowest layer, so that every layer can extend it.
 */
export class CodedError<Code extends string = string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** Every code, with what it means. */
const EtfErrorCodes = {
  truncated: "the input ends inside a term",
  trailing_bytes: "bytes follow the term",
  bad_version: "the term does not start with the version byte 131",
  unknown_tag: "not a tag of the external term format",
  local_ext: "LOCAL_EXT is only meaningful to the node that wrote it",
  bad_atom: "not a valid atom",
  bad_integer: "an integer field is out of range",
  bad_float: "not a finite float",
  bad_bit_binary: "the bit count of a bitstring is out of range",
  bad_reference: "a reference has a bad number of id words",
  bad_creation: "a creation does not fit its field",
  bad_pid: "expected a pid",
  duplicate_key: "a map holds the same key twice",
  no_atom_cache: "ATOM_CACHE_REF without an atom cache entry for it",
  bad_compressed: "a compressed term is malformed",
  too_large: "the term exceeds the size limit",
  too_deep: "the term is nested deeper than the depth limit",
  unencodable: "not an Erlang term",
} as const;

export type EtfErrorCode = keyof typeof EtfErrorCodes;

export class EtfError extends CodedError<EtfErrorCode> {
  constructor(
    code: EtfErrorCode,
    readonly tag: number | undefined,
    readonly offset: number,
    detail?: string,
  ) {
    const where = tag === undefined ? `at offset ${offset}` : `in ${tagName(tag)} at offset ${offset}`;
    super(code, `${detail ?? EtfErrorCodes[code]} (${code}, ${where})`);
  }
}

/**
 * A RangeError met while reading or writing a term: the JS stack exhausted (`too_deep`) or a
 * value too big for a bigint or a Buffer (`too_large`). Both are the term's fault, not a bug.
 */
export function fromRangeError(e: RangeError, offset: number): EtfError {
  return new EtfError(/call stack/.test(e.message) ? "too_deep" : "too_large", undefined, offset, e.message);
}
