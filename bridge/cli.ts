/**
 * The bridge's command line, as `erl` takes it: `--sname NAME`, `--name NAME@HOST`,
 * `--setcookie COOKIE` (also with one dash, as erl writes them, and as `--flag=value`), and
 * `--kernel net_ticktime SECONDS`, the one kernel parameter the bridge has. Without
 * a name the node is `ts_ssl_bridge@<short host name>`. Without `--setcookie` the cookie is the
 * content of `~/.erlang.cookie`, created as erl creates it when missing: 20 random uppercase
 * letters, readable by the owner only. The EPMD port comes from `ERL_EPMD_PORT`, as for erl,
 * and the log level from `TS_SSL_LOG`: this is the one place the bridge reads its environment.
 *
 * Distribution: `--proto-dist inet_tls` with `--ssl-dist-optfile FILE` and/or
 * `--ssl-dist-opt server_NAME VALUE client_NAME VALUE ...` (erl's `-proto_dist`,
 * `-ssl_dist_optfile`, `-ssl_dist_opt`); `--inet-dist-use-interface ADDRESS`,
 * `--inet-dist-listen-min PORT`, `--inet-dist-listen-max PORT` (the kernel parameters of those
 * names). Flags may be spelled with `_` as erl does (`-proto_dist`).
 */
import { randomInt } from "node:crypto";
import { isIP } from "node:net";
import { closeSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { CodedError } from "../etf/errors.js";
import { EPMD_PORT } from "./epmd.js";
import { levelFromEnv, type LogLevel } from "./log.js";
import { NodeNameError, resolveNodeName } from "./names.js";

const DEFAULT_NODE_NAME = "ts_ssl_bridge";
export const DEFAULT_EPMD_PORT = EPMD_PORT;

export type CliErrorCode =
  | "unknown_argument"
  | "missing_value"
  | "conflict"
  | "bad_node_name"
  | "bad_cookie"
  | "bad_epmd_port"
  | "bad_proto_dist"
  | "bad_address"
  | "bad_port"
  | "bad_ssl_dist_opt"
  | "bad_net_ticktime";

export class CliError extends CodedError<CliErrorCode> {}

export interface NodeArgs {
  /** The full node name, `name@host`. */
  name: string;
  longNames: boolean;
  cookie: string;
  /** Where the cookie came from: `--setcookie`, or the cookie file's path. */
  cookieSource: string;
  /** The cookie file did not exist and was made now. */
  cookieCreated: boolean;
  epmdPort: number;
  /** `TS_SSL_LOG`'s level, else `info`. */
  logLevel: LogLevel;
  /** The distribution's carrier: `inet_tcp` (the default) or `inet_tls`. */
  protoDist: "inet_tcp" | "inet_tls";
  /** `--ssl-dist-optfile`, for inet_tls. */
  sslDistOptfile: string | undefined;
  /** `--ssl-dist-opt` pairs (`server_certfile`, `/path`), in the order given, for inet_tls. */
  sslDistOpt: Array<[string, string]>;
  /** The address the distribution listener (and an EPMD served here) bind to. */
  listenAddress: string | undefined;
  /** The ports the distribution listener may take, the first free one. */
  portRange: { min: number; max: number } | undefined;
  /** `net_ticktime` in seconds, when given (`--kernel net_ticktime N`). */
  netTickTime?: number;
}

const FLAGS = [
  "sname",
  "name",
  "setcookie",
  "proto-dist",
  "ssl-dist-optfile",
  "ssl-dist-opt",
  "inet-dist-use-interface",
  "inet-dist-listen-min",
  "inet-dist-listen-max",
  "kernel",
] as const;
type Flag = (typeof FLAGS)[number];
const USAGE =
  "expected --sname NAME, --name NAME@HOST, --setcookie COOKIE, --proto-dist inet_tcp|inet_tls, --ssl-dist-optfile FILE, " +
  "--ssl-dist-opt server_NAME VALUE|client_NAME VALUE ..., --inet-dist-use-interface ADDRESS, --inet-dist-listen-min PORT, --inet-dist-listen-max PORT, --kernel net_ticktime N";

/** Reads the bridge's arguments (those after the program name) and environment. */
export function parseNodeArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): NodeArgs {
  const given = new Map<Flag, string>();
  const sslDistOpt: Array<[string, string]> = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([a-z][a-z_-]*)(?:=(.*))?$/s.exec(arg);
    const flag = m?.[1]?.replace(/_/g, "-") as Flag | undefined;
    if (m === null || flag === undefined || !FLAGS.includes(flag)) {
      throw new CliError("unknown_argument", `unknown argument ${JSON.stringify(arg)} (${USAGE})`);
    }
    if (flag === "ssl-dist-opt") {
      // As erl's -ssl_dist_opt: name-value pairs up to the next flag; the flag may come again.
      const start = i;
      while (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("-")) {
        const name = argv[++i]!;
        const value = argv[++i];
        if (value === undefined) throw new CliError("missing_value", `--ssl-dist-opt ${name} needs a value`);
        sslDistOpt.push([name, value]);
      }
      if (i === start) throw new CliError("missing_value", "--ssl-dist-opt needs NAME VALUE pairs");
      continue;
    }
    if (flag === "kernel") {
      // erl's `-kernel Parameter Value`: one word more than the other flags.
      const parameter = m[2] ?? argv[++i];
      if (parameter !== "net_ticktime") {
        throw new CliError("unknown_argument", `--kernel ${parameter ?? ""}: only net_ticktime is a kernel parameter of the bridge`);
      }
    }
    let value = flag === "kernel" ? undefined : m[2];
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined || value.startsWith("-")) throw new CliError("missing_value", `--${flag} needs a value`);
    }
    if (given.has(flag)) throw new CliError("conflict", `--${flag} is given twice`);
    given.set(flag, value);
  }
  if (given.has("sname") && given.has("name")) throw new CliError("conflict", "give --sname or --name, not both");

  const longNames = given.has("name");
  let name: string;
  try {
    name = resolveNodeName(given.get("name") ?? given.get("sname") ?? DEFAULT_NODE_NAME, longNames).full;
  } catch (e) {
    if (e instanceof NodeNameError) throw new CliError("bad_node_name", e.message);
    throw e;
  }

  const dist = parseDistArgs(given, sslDistOpt);
  const epmdPort = parseEpmdPort(env.ERL_EPMD_PORT);
  const logLevel = levelFromEnv(env.TS_SSL_LOG) ?? "info";
  const tick = given.get("kernel");
  const ticks = tick === undefined ? {} : { netTickTime: parseNetTickTime(tick) };
  const cookie = given.get("setcookie");
  if (cookie !== undefined) {
    if (cookie.length === 0) throw new CliError("bad_cookie", "--setcookie needs a non-empty cookie");
    return { name, longNames, cookie, cookieSource: "--setcookie", cookieCreated: false, epmdPort, logLevel, ...dist, ...ticks };
  }
  const file = join(env.HOME ?? homedir(), ".erlang.cookie");
  const { cookie: fromFile, created } = readOrCreateCookie(file);
  return { name, longNames, cookie: fromFile, cookieSource: file, cookieCreated: created, epmdPort, logLevel, ...dist, ...ticks };
}

type DistArgs = Pick<NodeArgs, "protoDist" | "sslDistOptfile" | "sslDistOpt" | "listenAddress" | "portRange">;

function parseDistArgs(given: Map<Flag, string>, sslDistOpt: Array<[string, string]>): DistArgs {
  const protoDist = given.get("proto-dist") ?? "inet_tcp";
  if (protoDist !== "inet_tcp" && protoDist !== "inet_tls") {
    throw new CliError("bad_proto_dist", `--proto-dist ${protoDist}: the bridge speaks inet_tcp and inet_tls`);
  }
  const sslDistOptfile = given.get("ssl-dist-optfile");
  if (protoDist !== "inet_tls" && (sslDistOptfile !== undefined || sslDistOpt.length > 0)) {
    throw new CliError("conflict", "--ssl-dist-optfile and --ssl-dist-opt apply to --proto-dist inet_tls");
  }
  if (protoDist === "inet_tls" && sslDistOptfile === undefined && sslDistOpt.length === 0) {
    throw new CliError("missing_value", "--proto-dist inet_tls needs --ssl-dist-optfile FILE (or --ssl-dist-opt server_certfile FILE ...)");
  }
  const listenAddress = given.get("inet-dist-use-interface");
  if (listenAddress !== undefined && isIP(listenAddress) === 0) {
    throw new CliError("bad_address", `--inet-dist-use-interface ${JSON.stringify(listenAddress)} is not an IP address`);
  }
  const min = given.get("inet-dist-listen-min");
  const max = given.get("inet-dist-listen-max");
  let portRange: DistArgs["portRange"];
  if (min !== undefined || max !== undefined) {
    // As the kernel parameters: a minimum alone is a range of one port.
    const lo = parsePort("--inet-dist-listen-min", min ?? max!);
    const hi = parsePort("--inet-dist-listen-max", max ?? min!);
    if (hi < lo) throw new CliError("bad_port", `--inet-dist-listen-max ${hi} is below --inet-dist-listen-min ${lo}`);
    portRange = { min: lo, max: hi };
  }
  return { protoDist, sslDistOptfile, sslDistOpt, listenAddress, portRange };
}

function parsePort(flag: string, value: string): number {
  const port = Number(value);
  if (!/^[0-9]+$/.test(value) || port < 1 || port > 65535) throw new CliError("bad_port", `${flag} ${JSON.stringify(value)} is not a port number`);
  return port;
}

/** Seconds, a positive integer, as erl takes net_ticktime. */
function parseNetTickTime(value: string): number {
  const seconds = Number(value);
  if (!/^\d+$/.test(value) || seconds < 1) {
    throw new CliError("bad_net_ticktime", `net_ticktime ${JSON.stringify(value)} is not a positive number of seconds`);
  }
  return seconds;
}

function parseEpmdPort(value: string | undefined): number {
  if (value === undefined || value === "") return DEFAULT_EPMD_PORT;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CliError("bad_epmd_port", `ERL_EPMD_PORT=${JSON.stringify(value)} is not a port number`);
  }
  return port;
}

/**
 * The cookie in `file`, made first if the file does not exist. Like erl, refuses a file others
 * may read or write, and one holding anything but printable characters.
 */
function readOrCreateCookie(file: string): { cookie: string; created: boolean } {
  let created = false;
  try {
    const fd = openSync(file, "wx", 0o400);
    try {
      writeSync(fd, Array.from({ length: 20 }, () => String.fromCharCode(65 + randomInt(26))).join(""));
    } finally {
      closeSync(fd);
    }
    created = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new CliError("bad_cookie", `cannot create the cookie file ${file}: ${(e as Error).message}`);
    }
  }
  let text: string;
  try {
    if ((statSync(file).mode & 0o077) !== 0) {
      throw new CliError("bad_cookie", `cookie file ${file} must be accessible by owner only`);
    }
    text = readFileSync(file, "latin1");
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError("bad_cookie", `cannot read the cookie file ${file}: ${(e as Error).message}`);
  }
  const cookie = text.replace(/[\r\n\t ]+$/, "");
  if (cookie.length === 0 || !/^[\x20-\x7e]+$/.test(cookie)) {
    throw new CliError("bad_cookie", `bad cookie in ${file}: it must be one line of printable characters`);
  }
  return { cookie, created };
}
