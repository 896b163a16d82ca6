/**
 * `npm start`: the bridge node (see launch.ts), until SIGINT or SIGTERM, which close every
 * socket, so that TLS peers see the close, then leave EPMD.
 */
import { CliError } from "../bridge/cli.js";
import { launch, type Bridge } from "./launch.js";
import { reportStats } from "./stats.js";

/**
 * The first signal closes every socket and leaves EPMD, then exits: a connection still lingering
 * (a peer that never acknowledges its close) must not keep the process alive. A second signal,
 * or a stop that takes more than 10 s, exits at once. The handlers are there before the bridge
 * is up: a signal that comes while it starts stops it as soon as it is.
 */
let signalled: NodeJS.Signals | undefined;
let bridge: Bridge | undefined;

function onSignal(signal: NodeJS.Signals): void {
  if (signalled !== undefined) {
    console.error(`ts-ssl bridge: ${signal} again: leaving now`);
    process.exit(1);
  }
  signalled = signal;
  if (bridge !== undefined) stop(bridge, signal);
}
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

function stop(b: Bridge, signal: NodeJS.Signals): void {
  b.node.log.info(`${signal}: closing every socket and leaving`);
  setTimeout(() => {
    b.node.log.warning("stopping took more than 10 s: leaving now");
    process.exit(1);
  }, 10_000).unref();
  b.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      b.node.log.error(`stopping: ${String(err)}`);
      process.exit(1);
    },
  );
}

try {
  bridge = await launch(process.argv.slice(2), process.env, (line) => console.log(line));
} catch (e) {
  if (!(e instanceof CliError)) throw e;
  console.error(`ts-ssl bridge: ${e.message}`);
  process.exit(2);
}
const statsSeconds = Number(process.env.TS_SSL_STATS);
if (Number.isFinite(statsSeconds) && statsSeconds > 0) reportStats(bridge.service, statsSeconds, (line) => console.log(line));
if (signalled !== undefined) stop(bridge, signalled);
