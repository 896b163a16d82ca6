/**
 * Node names as `erl` takes them: `-sname Name` (short: `Name@Host` with the host name up to
 * its first dot) and `-name Name@Host` (long: a fully qualified host or an IP address).
 */
import { hostname } from "node:os";
import { CodedError } from "../etf/errors.js";

export class NodeNameError extends CodedError<"bad_node_name"> {
  constructor(message: string) {
    super("bad_node_name", message);
  }
}

export interface NodeName {
  /** `Name@Host`. */
  full: string;
  /** The part before `@`, which EPMD knows the node by. */
  alive: string;
  host: string;
}

/** Letters, digits, `_` and `-`, as erl accepts for the name part. */
const ALIVE = /^[A-Za-z0-9_-]+$/;

/** The host part `-sname` uses: this machine's host name up to the first dot. */
export function shortHostName(): string {
  return hostname().split(".")[0]!;
}

/**
 * The full node name for `name` (`Name` or `Name@Host`). Without a host, short names take this
 * machine's short host name and long names its fully qualified one (which must have a dot).
 */
export function resolveNodeName(name: string, longNames = false): NodeName {
  const at = name.indexOf("@");
  const alive = at < 0 ? name : name.slice(0, at);
  let host = at < 0 ? undefined : name.slice(at + 1);
  if (!ALIVE.test(alive)) {
    throw new NodeNameError(`invalid node name ${JSON.stringify(name)}: the name part may hold only letters, digits, _ and -`);
  }
  if (host === undefined) {
    host = longNames ? hostname() : shortHostName();
    if (longNames && !host.includes(".")) {
      throw new NodeNameError(
        `cannot make a long node name: the host name ${JSON.stringify(host)} is not fully qualified; give one (--name ${alive}@HOST)`,
      );
    }
  }
  if (host.length === 0 || host.includes("@")) throw new NodeNameError(`invalid host in node name ${JSON.stringify(name)}`);
  if (!longNames && host.includes(".")) {
    throw new NodeNameError(`invalid short node name ${JSON.stringify(name)}: the host has a dot (use --name for long names)`);
  }
  const full = `${alive}@${host}`;
  if (full.length > 255) throw new NodeNameError(`node name ${JSON.stringify(full)} is longer than 255 characters`);
  return { full, alive, host };
}

/** Splits `Name@Host`; undefined when it is not a node name. */
export function splitNodeName(node: string): { alive: string; host: string } | undefined {
  const parts = node.split("@");
  if (parts.length !== 2 || parts[0]!.length === 0 || parts[1]!.length === 0) return undefined;
  return { alive: parts[0]!, host: parts[1]! };
}
