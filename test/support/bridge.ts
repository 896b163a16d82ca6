/**
 * The bridge in this process, as `npm start` runs it (DistNode + serveSsl), for the tests and
 * benchmarks that drive ts_ssl from a real node.
 */
import type { Node } from "../../bridge/api.js";
import { stderrLogger, type Logger } from "../../bridge/log.js";
import { DistNode } from "../../bridge/node.js";
import { serveSsl } from "../../ts-ssl/server.js";
import { randomName } from "./erlang.js";

/**
 * A bridge node with a random name, registered with the EPMD on `epmdPort`, serving
 * ts_ssl_bridge; `stop()` it when done. By default it logs errors only: the bridge warns of what
 * peers do wrong, and these runs provoke that on purpose.
 */
export async function startSslBridge(cookie: string, epmdPort: number, logger: Logger = stderrLogger("error")): Promise<Node> {
  const node = await DistNode.start({ name: randomName("tsbridge"), cookie, epmdPort, logger });
  serveSsl(node);
  return node;
}
