/**
 * `npm start`: the bridge node. Reads an erl-like command line (bridge/cli.ts), joins the
 * cluster as a hidden node (serving EPMD itself when none answers), registers `ts_ssl_bridge`,
 * and says how to reach it from an `erl` shell. SIGINT and SIGTERM close every socket, so TLS
 * peers see the close, then leave EPMD.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, DEFAULT_EPMD_PORT, parseNodeArgs, type NodeArgs } from "../bridge/cli.js";
import { DistNode } from "../bridge/node.js";
import { startSslServer } from "./server.js";

/** The ts_ssl application's ebin, as `rebar3 compile` leaves it beside this checkout. */
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

/** The node name as an Erlang atom, quoted when it must be. */
function atomText(name: string): string {
  return /^[a-z][\w@]*$/.test(name) ? name : `'${name.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** The `erl` command line that reaches this bridge, ready to paste. */
function erlCommand(args: NodeArgs, ebin: string): string {
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

async function main(): Promise<void> {
  let args: NodeArgs;
  try {
    args = parseNodeArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    console.error(`ts-ssl bridge: ${e.message}`);
    process.exitCode = 2;
    return;
  }
  const node = await DistNode.start({ name: args.name, longNames: args.longNames, cookie: args.cookie, epmdPort: args.epmdPort });
  const { service } = startSslServer(node);

  const cookieFrom =
    args.cookieSource === "--setcookie" ? "given with --setcookie" : `${args.cookieSource}${args.cookieCreated ? " (created now)" : ""}`;
  console.log(`ts-ssl bridge: node ${node.name.name}, hidden, serving ts_ssl_bridge`);
  console.log(`cookie: ${cookieFrom}`);
  console.log(`EPMD: port ${args.epmdPort}${node.servesEpmd ? " (served by this bridge: no EPMD was running)" : ""}`);
  console.log("From an Erlang shell:");
  console.log(`  ${erlCommand(args, tsSslEbin())}`);
  console.log("  1> ts_ssl:start(), ts_ssl:version().");

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    node.log.info(`${signal}: closing every socket and leaving`);
    void service
      .shutdown()
      .then(() => node.stop())
      .then(
        () => {
          process.exitCode = 0;
        },
        (err: unknown) => {
          node.log.error(`stopping: ${String(err)}`);
          process.exitCode = 1;
        },
      );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

await main();
