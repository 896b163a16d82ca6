/**
 * `npm start`: the bridge node (see launch.ts), until SIGINT or SIGTERM, which close every
 * socket, so that TLS peers see the close, then leave EPMD.
 */
import { CliError } from "../bridge/cli.js";
import { launch, type Bridge } from "./launch.js";

let bridge: Bridge;
try {
  bridge = await launch(process.argv.slice(2), process.env, (line) => console.log(line));
} catch (e) {
  if (!(e instanceof CliError)) throw e;
  console.error(`ts-ssl bridge: ${e.message}`);
  process.exit(2);
}

let stopping = false;
function stop(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  bridge.node.log.info(`${signal}: closing every socket and leaving`);
  bridge.stop().then(
    () => {
      process.exitCode = 0;
    },
    (err: unknown) => {
      bridge.node.log.error(`stopping: ${String(err)}`);
      process.exitCode = 1;
    },
  );
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
