/**
 * The bridge's command line, as `erl` takes it: `--sname NAME`, `--name NAME@HOST`,
 * `--setcookie COOKIE` (also with one dash, as erl writes them, and as `--flag=value`), and
 * `--kernel net_ticktime SECONDS`, the one kernel parameter the bridge has. Without
 * a name the node is `ts_ssl_bridge@<short host name>`. Without `--setcookie` the cookie is the
 * content of `~/.erlang.cookie`, created as erl creates it when missing: 20 random uppercase
 * letters, readable by the owner only. The EPMD port comes from `ERL_EPMD_PORT`, as for erl.
 */
import { randomInt } from "node:crypto";
import { closeSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { EPMD_PORT } from "./epmd.js";
import { NodeNameError, resolveNodeName } from "./names.js";

export const DEFAULT_NODE_NAME = "ts_ssl_bridge";
export const DEFAULT_EPMD_PORT = EPMD_PORT;

export type CliErrorCode =
  | "unknown_argument"
  | "missing_value"
  | "conflict"
  | "bad_node_name"
  | "bad_cookie"
  | "bad_epmd_port"
  | "bad_net_ticktime";

export class CliError extends Error {
  constructor(
    readonly code: CliErrorCode,
    message: string,
  ) {
    super(message);
  }
}

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
  /** `net_ticktime` in seconds, when given (`--kernel net_ticktime N`). */
  netTickTime?: number;
}

const FLAGS = ["sname", "name", "setcookie", "kernel"] as const;
type Flag = (typeof FLAGS)[number];

/** Reads the bridge's arguments (those after the program name) and environment. */
export function parseNodeArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): NodeArgs {
  const given = new Map<Flag, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([a-z]+)(?:=(.*))?$/s.exec(arg);
    const flag = m?.[1] as Flag | undefined;
    if (m === null || flag === undefined || !FLAGS.includes(flag)) {
      throw new CliError(
        "unknown_argument",
        `unknown argument ${JSON.stringify(arg)} (expected --sname NAME, --name NAME@HOST, --setcookie COOKIE, --kernel net_ticktime N)`,
      );
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

  const epmdPort = parseEpmdPort(env.ERL_EPMD_PORT);
  const tick = given.get("kernel");
  const ticks = tick === undefined ? {} : { netTickTime: parseNetTickTime(tick) };
  const cookie = given.get("setcookie");
  if (cookie !== undefined) {
    if (cookie.length === 0) throw new CliError("bad_cookie", "--setcookie needs a non-empty cookie");
    return { name, longNames, cookie, cookieSource: "--setcookie", cookieCreated: false, epmdPort, ...ticks };
  }
  const file = join(env.HOME ?? homedir(), ".erlang.cookie");
  const { cookie: fromFile, created } = readOrCreateCookie(file);
  return { name, longNames, cookie: fromFile, cookieSource: file, cookieCreated: created, epmdPort, ...ticks };
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
export function readOrCreateCookie(file: string): { cookie: string; created: boolean } {
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
