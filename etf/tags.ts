/**
 * Wire constants of the External Term Format, version 131: one table, one name per value.
 *
 * Source: OTP's "External Term Format" chapter (erts/doc/src/erl_ext_dist.xml up to OTP 26,
 * erts/doc/references/erl_ext_dist.md from OTP 27). The "since" column notes the release that
 * introduced a tag where that matters for which peers send it.
 */

export const VERSION_MAGIC = 131;

export const Tag = {
  NEW_FLOAT_EXT: 70, // OTP R11B
  BIT_BINARY_EXT: 77,
  COMPRESSED: 80,
  ATOM_CACHE_REF: 82,
  NEW_PID_EXT: 88, // OTP 19; the only pid encoding OTP 23+ writes (32-bit creation)
  NEW_PORT_EXT: 89, // OTP 19
  NEWER_REFERENCE_EXT: 90, // OTP 19
  SMALL_INTEGER_EXT: 97,
  INTEGER_EXT: 98,
  FLOAT_EXT: 99, // decoded only: a 31-byte "%.20e" string, superseded by NEW_FLOAT_EXT
  ATOM_EXT: 100, // decoded only (latin1)
  REFERENCE_EXT: 101, // decoded only
  PORT_EXT: 102, // decoded only
  PID_EXT: 103, // decoded only
  SMALL_TUPLE_EXT: 104,
  LARGE_TUPLE_EXT: 105,
  NIL_EXT: 106,
  STRING_EXT: 107,
  LIST_EXT: 108,
  BINARY_EXT: 109,
  SMALL_BIG_EXT: 110,
  LARGE_BIG_EXT: 111,
  NEW_FUN_EXT: 112,
  EXPORT_EXT: 113,
  NEW_REFERENCE_EXT: 114, // decoded only
  SMALL_ATOM_EXT: 115, // decoded only (latin1)
  MAP_EXT: 116, // OTP 17
  ATOM_UTF8_EXT: 118, // OTP R16
  SMALL_ATOM_UTF8_EXT: 119, // OTP R16
  V4_PORT_EXT: 120, // OTP 24: 64-bit port ids
  LOCAL_EXT: 121, // OTP 26: node-local encoding, meaningless to any other node; refused
} as const;

/**
 * Tags the emulator uses only in its own ETS storage (erts/emulator/beam/external.h): indexes
 * into one node's atom table and pointers to its binaries. OTP 25's binary_to_term/1 lets the
 * atom ones through; on the wire they mean nothing, and the decoder refuses them as unknown.
 */
export const INTERNAL_TAGS = {
  ATOM_INTERNAL_REF2: 73,
  BINARY_INTERNAL_REF: 74,
  ATOM_INTERNAL_REF3: 75,
  BIT_BINARY_INTERNAL_REF: 76,
} as const;

const names = new Map<number, string>([...Object.entries(Tag), ...Object.entries(INTERNAL_TAGS)].map(([name, value]) => [value, name]));

/** `"SMALL_INTEGER_EXT (97)"` for a known tag, `"unknown tag 42"` otherwise. */
export function tagName(tag: number): string {
  const name = names.get(tag);
  return name === undefined ? `unknown tag ${tag}` : `${name} (${tag})`;
}

/** Limits the format or the emulator put on values (checked on decode, respected on encode). */
export const Limit = {
  /** An atom has at most 255 characters (erts MAX_ATOM_CHARACTERS). */
  ATOM_CHARACTERS: 255,
  /** STRING_EXT holds at most 65535 elements (2-byte length). */
  STRING_EXT_LENGTH: 0xffff,
  /** NEWER_REFERENCE_EXT carries up to 5 id words since OTP 24 (ERTS_MAX_REF_NUMBERS). */
  REFERENCE_WORDS: 5,
  /** A map of more than 32 keys is a hash map in the emulator, written in hash order. */
  FLATMAP_KEYS: 32,
  /** Creation in the old 1-byte fields (PID_EXT, PORT_EXT, REFERENCE_EXT...) has 2 bits. */
  OLD_CREATION: 3,
  /** The FLOAT_EXT string field. */
  FLOAT_EXT_BYTES: 31,
  /** Size of the `Uniq` field of NEW_FUN_EXT (an MD5). */
  FUN_UNIQ_BYTES: 16,
} as const;
