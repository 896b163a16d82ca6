/**
 * Starting the bridge from an erl-like command line (bridge/cli.ts): the node, joined as a hidden
 * node (serving EPMD itself when none answers), `ts_ssl_bridge` registered on it, and the words
 * that tell a user how to reach it from an `erl` shell. main.ts runs this for `npm start`.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, DEFAULT_EPMD_PORT, parseNodeArgs, type NodeArgs } from "../bridge/cli.js";
import type { DistTransport } from "../bridge/dist-transport.js";
import { stderrLogger, type Logger } from "../bridge/log.js";
import { DistNode } from "../bridge/node.js";
import { tlsTransport } from "../bridge/tls-dist.js";
import {
  TlsDistConfigError,
  mergeRaw,
  readSslDistOptfile,
  sslDistOptPairs,
  tlsDistConfig,
  type RawOptions,
} from "../bridge/tls-dist-options.js";
import { setInjectedFault } from "./fault.js";
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
    // A cookie read from the cookie file is never shown: erl on this host reads the same file.
    ...(args.cookieSource === "--setcookie" ? ["-setcookie", args.cookie] : []),
    ...(args.protoDist === "inet_tls"
      ? [
          "-proto_dist",
          "inet_tls",
          ...(args.sslDistOptfile !== undefined ? ["-ssl_dist_optfile", resolve(args.sslDistOptfile)] : []),
          // A key's password is not printed: the line says where it goes.
          ...(args.sslDistOpt.length > 0
            ? ["-ssl_dist_opt", ...args.sslDistOpt.flatMap(([k, v]) => [k, k.endsWith("_password") ? "PASSWORD" : v])]
            : []),
        ]
      : []),
    "-pa",
    ebin,
    "-ts_ssl",
    "bridge",
    atomText(args.name),
  ];
  return words.map(shellWord).join(" ");
}

/** TLS distribution as `--ssl-dist-opt` and `--ssl-dist-optfile` configure it; CliError when they cannot. */
function tlsDistTransport(args: NodeArgs, log: Logger): DistTransport {
  try {
    const fromFile: RawOptions = args.sslDistOptfile !== undefined ? readSslDistOptfile(args.sslDistOptfile) : { server: [], client: [] };
    const config = tlsDistConfig(mergeRaw(sslDistOptPairs(args.sslDistOpt), fromFile));
    if (!config.server.verify) log.warning("TLS distribution: server {verify, verify_none}: nodes that connect are not asked for a certificate");
    if (!config.client.verify) log.warning("TLS distribution: client {verify, verify_none}: the certificates of the nodes this bridge dials are not checked");
    return tlsTransport(config);
  } catch (e) {
    if (e instanceof TlsDistConfigError) throw new CliError("bad_ssl_dist_opt", e.message);
    throw e;
  }
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
  setInjectedFault(env.TS_SSL_INJECT_FAULT);
  const log = logger ?? stderrLogger(args.logLevel);
  const node = await DistNode.start({
    name: args.name,
    longNames: args.longNames,
    cookie: args.cookie,
    epmdPort: args.epmdPort,
    logger: log,
    ...(args.protoDist === "inet_tls" ? { transport: tlsDistTransport(args, log) } : {}),
    ...(args.listenAddress !== undefined ? { listenAddress: args.listenAddress } : {}),
    ...(args.portRange !== undefined ? { portRange: args.portRange } : {}),
    ...(args.netTickTime !== undefined ? { netTickTime: args.netTickTime } : {}),
  });
  const { service } = startSslServer(node);
  const cookieFrom =
    args.cookieSource === "--setcookie" ? "given with --setcookie" : `${args.cookieSource}${args.cookieCreated ? " (created now)" : ""}`;
  say(`ts-ssl bridge: node ${node.name.name}, hidden, serving ts_ssl_bridge`);
  say(`cookie: ${cookieFrom}`);
  say(`EPMD: port ${args.epmdPort}${node.servesEpmd ? " (served by this bridge: no EPMD was running)" : ""}`);
  if (args.protoDist !== "inet_tcp" || args.listenAddress !== undefined || args.portRange !== undefined) {
    say(`distribution: ${args.protoDist}, port ${node.port}${args.listenAddress !== undefined ? ` on ${args.listenAddress}` : ""}`);
  }
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
