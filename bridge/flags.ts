/**
 * Distribution capability flags, exchanged in the handshake (`erl_dist_protocol.md`, "Distribution
 * Flags"; values from OTP's `dist.hrl`, `erts/emulator/beam/dist.h`). Flags are 64-bit, so they
 * are `bigint` here; a connection turns the few it consults on its hot path into booleans once.
 */

/** Every flag by its name in `dist.hrl`, with the OTP release that introduced or required it. */
export const DFLAG = {
  PUBLISHED: 0x1n,
  ATOM_CACHE: 0x2n, // obsolete
  EXTENDED_REFERENCES: 0x4n, // mandatory from OTP 25
  DIST_MONITOR: 0x8n,
  FUN_TAGS: 0x10n, // mandatory from OTP 25
  DIST_MONITOR_NAME: 0x20n,
  HIDDEN_ATOM_CACHE: 0x40n, // obsolete
  NEW_FUN_TAGS: 0x80n, // mandatory from OTP 25
  EXTENDED_PIDS_PORTS: 0x100n, // mandatory from OTP 25
  EXPORT_PTR_TAG: 0x200n, // mandatory from OTP 25
  BIT_BINARIES: 0x400n, // mandatory from OTP 25
  NEW_FLOATS: 0x800n, // mandatory from OTP 25
  UNICODE_IO: 0x1000n,
  DIST_HDR_ATOM_CACHE: 0x2000n,
  SMALL_ATOM_TAGS: 0x4000n,
  UTF8_ATOMS: 0x10000n, // OTP 20; mandatory from OTP 25
  MAP_TAG: 0x20000n, // mandatory from OTP 25
  BIG_CREATION: 0x40000n, // OTP 19; mandatory from OTP 25
  SEND_SENDER: 0x80000n, // OTP 21
  BIG_SEQTRACE_LABELS: 0x100000n, // OTP 21
  EXIT_PAYLOAD: 0x400000n, // OTP 22
  FRAGMENTS: 0x800000n, // OTP 22
  HANDSHAKE_23: 0x1000000n, // OTP 23; mandatory from OTP 25
  UNLINK_ID: 0x2000000n, // OTP 23.3; mandatory from OTP 26
  // Bit 26 in dist.h, dist.hrl, ei and jinterface; the protocol document's `1 bsl 36` is wrong.
  MANDATORY_25_DIGEST: 0x4000000n, // OTP 25
  SPAWN: 1n << 32n, // OTP 23
  NAME_ME: 1n << 33n, // OTP 23: a request for a dynamic name, not a capability
  V4_NC: 1n << 34n, // OTP 24; mandatory from OTP 26
  ALIAS: 1n << 35n, // OTP 24
} as const;

type FlagName = keyof typeof DFLAG;

/** What OTP 25 requires of a peer (`MANDATORY_DFLAGS_25` in dist.hrl, printed as 0x1070F94). */
export const MANDATORY_25 =
  DFLAG.EXTENDED_REFERENCES |
  DFLAG.FUN_TAGS |
  DFLAG.NEW_FUN_TAGS |
  DFLAG.EXTENDED_PIDS_PORTS |
  DFLAG.EXPORT_PTR_TAG |
  DFLAG.BIT_BINARIES |
  DFLAG.NEW_FLOATS |
  DFLAG.UTF8_ATOMS |
  DFLAG.MAP_TAG |
  DFLAG.BIG_CREATION |
  DFLAG.HANDSHAKE_23;

/** OTP 26 adds these to the mandatory set. */
const MANDATORY_26 = MANDATORY_25 | DFLAG.UNLINK_ID | DFLAG.V4_NC;

/**
 * What we require of a peer: OTP 25's set, plus UNLINK_ID since we only speak the new link
 * protocol (the old UNLINK signal is gone in OTP 26).
 */
export const REQUIRED_FLAGS = MANDATORY_25 | DFLAG.UNLINK_ID;

/**
 * What we advertise: OTP 25/26's own default set (0xD07DF7FBC) without PUBLISHED, since the
 * bridge is a hidden node. It includes every flag OTP 25 and 26 require and the digest bit.
 */
export const OUR_FLAGS =
  MANDATORY_26 |
  DFLAG.MANDATORY_25_DIGEST |
  DFLAG.DIST_MONITOR |
  DFLAG.DIST_MONITOR_NAME |
  DFLAG.UNICODE_IO |
  DFLAG.DIST_HDR_ATOM_CACHE |
  DFLAG.SMALL_ATOM_TAGS |
  DFLAG.SEND_SENDER |
  DFLAG.BIG_SEQTRACE_LABELS |
  DFLAG.EXIT_PAYLOAD |
  DFLAG.FRAGMENTS |
  DFLAG.SPAWN |
  DFLAG.ALIAS;

/** A peer that sets the digest bit has every flag OTP 25 made mandatory (dist_util does the same). */
export function expandDigest(flags: bigint): bigint {
  return (flags & DFLAG.MANDATORY_25_DIGEST) !== 0n ? flags | MANDATORY_25 : flags;
}

/** The names of the flags set in `mask`, lowest bit first; unknown bits as `UNKNOWN<hex>`. */
export function flagNames(mask: bigint): string[] {
  const names: string[] = [];
  for (let bit = 1n, rest = mask; rest !== 0n; bit <<= 1n) {
    if ((rest & bit) === 0n) continue;
    rest &= ~bit;
    const name = (Object.keys(DFLAG) as FlagName[]).find((k) => DFLAG[k] === bit);
    names.push(name ?? `UNKNOWN<${bit.toString(16).toUpperCase()}>`);
  }
  return names;
}

/** The flags of `required` that `offered` lacks, by name (as `dist_util` reports a refusal). */
export function missingFlags(required: bigint, offered: bigint): string[] {
  return flagNames(required & ~expandDigest(offered));
}
