/**
 * How a binary packet reaches the owner under `{mode, _}` and `{header, N}` (inet_drv's
 * `inet_port_data`): list mode gives a charlist; binary mode gives a binary, or with `{header, N}`
 * the first N bytes as integers in front of the rest, `[B1, ..., BN | Rest]`. A packet shorter
 * than N comes as a plain list of its bytes. http packets are terms already and are not touched.
 */
import { Charlist, ImproperList, type Term } from "../../etf/terms.js";
import type { FramingOptions } from "./types.js";

export function deliver(body: Uint8Array, options: Pick<FramingOptions, "mode" | "header">): Term {
  const { mode, header } = options;
  if (mode === "list" || header > body.length) return new Charlist(body);
  if (header === 0) return body;
  return new ImproperList(Array.from(body.subarray(0, header)), body.subarray(header));
}
