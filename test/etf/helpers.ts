/** Small functions the codec's tests share. */
import { EtfError } from "../../etf/index.js";

/** Bytes as hex, so that a failed comparison shows where they differ. */
export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** The EtfError that `f` throws; anything else it throws is rethrown, and no error is one. */
export function thrown(f: () => unknown): EtfError {
  try {
    f();
  } catch (e) {
    if (e instanceof EtfError) return e;
    throw e;
  }
  throw new Error("no error");
}
