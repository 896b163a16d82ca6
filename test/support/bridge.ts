/**
 * The bridge in this process, as `npm start` runs it (DistNode + serveSsl), for the runs that
 * drive ts_ssl from a real node: the conformance run and the framing end-to-end test.
 */
import type { Node } from "../../bridge/api.js";
import { DistNode } from "../../bridge/node.js";
import { serveSsl } from "../../ts-ssl/server.js";
import { randomName } from "../support/erlang.js";

/** The bridge logs what peers do wrong; the runs provoke that on purpose. Errors still show. */
const quietLogger = {
  debug: () => {},
  info: () => {},
  warning: () => {},
  error: (message: string) => console.error(`bridge: ${message}`),
};

/** A bridge node with a random name, registered with the EPMD on `epmdPort`, serving ts_ssl_bridge. */
export async function startBridge(cookie: string, epmdPort: number): Promise<Node> {
  const node = await DistNode.start({ name: randomName("tsbridge"), cookie, epmdPort, logger: quietLogger });
  serveSsl(node);
  return node;
}
