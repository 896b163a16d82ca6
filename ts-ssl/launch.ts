/**
 * Starting the bridge from an erl-like command line (bridge/cli.ts): the node, joined as a hidden
 * node (serving EPMD itself when none answers), `ts_ssl_bridge` registered on it, and the words
 * that tell a user how to reach it from an `erl` shell. main.ts runs this for `npm start`.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_EPMD_PORT, parseNodeArgs, type NodeArgs } from "../bridge/cli.js";
import type { Logger } from "../bridge/log.js";
import { DistNode } from "../bridge/node.js";
import { startSslServer } from "./server.js";
import type { SslService } from "./service.js";

export interface Bridge {
  readonly node: DistNode;
  readonly args: NodeArgs;
  readonly service: SslService;
  /** Closes every socket (so TLS peers see the close), then leaves the cluster and EPMD. */
  stop(): Promise<void>;
}

/** The ts_ssl application's ebin, as `rebar3 compile` leaves it in this checkout. */
function tsSslEbin(): string {
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, "rebar.config"))) return join(d, "_build", "default", "lib", "ts_ssl", "ebin");
  }
  return join("_build", "default", "lib", "ts_ssl", "ebin");
}

/** A word for a POSIX shell: quoted unless it is plainly safe. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A node name as an Erlang atom, quoted when it must be. */
function atomText(name: string): string {
  return /^[a-z][\w@]*$/.test(name) ? name : `'${name.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** The `erl` command line that reaches this bridge, ready to paste. */
export function erlCommand(args: NodeArgs, ebin = tsSslEbin()): string {
  const host = args.name.slice(args.name.indexOf("@") + 1);
  const words = [
    ...(args.epmdPort !== DEFAULT_EPMD_PORT ? [`ERL_EPMD_PORT=${args.epmdPort}`] : []),
    "erl",
    args.longNames ? "-name" : "-sname",
    args.longNames ? `shell@${host}` : "shell",
    "-setcookie",
    args.cookie,
    "-pa",
    ebin,
    "-ts_ssl",
    "bridge",
    atomText(args.name),
  ];
  return words.map(shellWord).join(" ");
}

/**
 * Starts the bridge for `argv` (the arguments after the program's name) and `env`, and prints
 * with `say` what a user needs. Throws CliError for a bad command line.
 */
export async function launch(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  say: (line: string) => void,
  logger?: Logger,
): Promise<Bridge> {
  const args = parseNodeArgs(argv, env);
  const node = await DistNode.start({
    name: args.name,
    longNames: args.longNames,
    cookie: args.cookie,
    epmdPort: args.epmdPort,
    ...(args.netTickTime !== undefined ? { netTickTime: args.netTickTime } : {}),
    ...(logger !== undefined ? { logger } : {}),
  });
  const { service } = startSslServer(node);
  const cookieFrom =
    args.cookieSource === "--setcookie" ? "given with --setcookie" : `${args.cookieSource}${args.cookieCreated ? " (created now)" : ""}`;
  say(`ts-ssl bridge: node ${node.name.name}, hidden, serving ts_ssl_bridge`);
  say(`cookie: ${cookieFrom}`);
  say(`EPMD: port ${args.epmdPort}${node.servesEpmd ? " (served by this bridge: no EPMD was running)" : ""}`);
  say("From an Erlang shell:");
  say(`  ${erlCommand(args)}`);
  say("  1> ts_ssl:start(), ts_ssl:version().");
  return {
    node,
    args,
    service,
    stop: async () => {
      await service.shutdown();
      await node.stop();
    },
  };
}
