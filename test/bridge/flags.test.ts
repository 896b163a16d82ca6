import { describe, expect, it } from "vitest";
import { DFLAG, MANDATORY_25, OUR_FLAGS, REQUIRED_FLAGS, expandDigest, flagNames, missingFlags } from "../../bridge/flags.js";

describe("distribution flags", () => {
  it("has OTP 25's mandatory mask as erts_internal:get_dflags() prints it", () => {
    expect(MANDATORY_25).toBe(0x1070f94n);
  });

  it("advertises OTP's default set without PUBLISHED", () => {
    expect(OUR_FLAGS).toBe(0xd07df7fbcn & ~DFLAG.PUBLISHED);
    expect(OUR_FLAGS & DFLAG.PUBLISHED).toBe(0n);
  });

  it("puts the OTP 25 digest at bit 26, never bit 36", () => {
    expect(DFLAG.MANDATORY_25_DIGEST).toBe(1n << 26n);
    expect(OUR_FLAGS & (1n << 36n)).toBe(0n);
  });

  it("includes every flag OTP 26 requires, and monitors, aliases, fragments, spawn", () => {
    for (const f of ["UNLINK_ID", "V4_NC", "DIST_MONITOR", "DIST_MONITOR_NAME", "ALIAS", "FRAGMENTS", "SPAWN"] as const) {
      expect(OUR_FLAGS & DFLAG[f], f).toBe(DFLAG[f]);
    }
  });

  it("names flags lowest bit first, unknown bits in hex", () => {
    expect(flagNames(DFLAG.PUBLISHED | DFLAG.ALIAS | (1n << 40n))).toEqual(["PUBLISHED", "ALIAS", "UNKNOWN<10000000000>"]);
  });

  it("expands the digest bit to the OTP 25 mandatory set", () => {
    expect(expandDigest(DFLAG.MANDATORY_25_DIGEST) & MANDATORY_25).toBe(MANDATORY_25);
    expect(expandDigest(DFLAG.UNLINK_ID)).toBe(DFLAG.UNLINK_ID);
  });

  it("names what a peer lacks", () => {
    expect(missingFlags(REQUIRED_FLAGS, REQUIRED_FLAGS)).toEqual([]);
    expect(missingFlags(REQUIRED_FLAGS, DFLAG.MANDATORY_25_DIGEST)).toEqual(["UNLINK_ID"]);
    expect(missingFlags(REQUIRED_FLAGS, REQUIRED_FLAGS & ~(DFLAG.MAP_TAG | DFLAG.HANDSHAKE_23))).toEqual([
      "MAP_TAG",
      "HANDSHAKE_23",
    ]);
  });
});
