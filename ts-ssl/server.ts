/**
 * The bridge's ssl server: the process registered as `ts_ssl_bridge` that answers the requests
 * of README.md "How ts_ssl talks to the bridge". Each request is handled on its own (see
 * service.ts) and answered when its handler settles (at once when it answers at once), so a
 * call that waits (recv, accept, connect) holds up no other.
 */
import type { Node, Process } from "../bridge/api.js";
import { reply, serveCalls } from "../bridge/gen-server.js";
import { atom } from "../etf/terms.js";
import { SslService } from "./service.js";

/** The registered name ts_ssl calls (README.md, "How ts_ssl talks to the bridge"). */
const SERVER_NAME = atom("ts_ssl_bridge");

export interface SslServer {
  readonly process: Process;
  readonly service: SslService;
}

/** Registers `ts_ssl_bridge` on `node` and serves the ssl API from it. */
export function serveSsl(node: Node): Process {
  return startSslServer(node).process;
}

/** As `serveSsl`, also giving the service (to close every socket at shutdown). */
export function startSslServer(node: Node): SslServer {
  const service = new SslService(node);
  const server: Process = serveCalls(node, SERVER_NAME, (request, from) => {
    const answer = service.call(request, from);
    if (answer instanceof Promise) void answer.then((value) => reply(server, from, value));
    else reply(server, from, answer);
  });
  return { process: server, service };
}
