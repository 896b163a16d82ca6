/**
 * What carries the distribution protocol: plain TCP (`inet_tcp_dist`, the default) or TLS
 * (`inet_tls_dist`, tls-dist.ts). A transport makes the listener and the outgoing connections;
 * both hand `DistNode` a socket ready for the distribution handshake.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "./log.js";
import { connect } from "./transport.js";

export interface DistTransport {
  /** For logs: `tcp` or `tls`. */
  readonly name: string;
  /**
   * The length prefix of handshake messages: 2 bytes over TCP (inet_tcp_dist's `{packet, 2}`),
   * 4 inside TLS (inet_tls_dist runs the handshake with `{packet, 4}`).
   */
  readonly handshakeHeader: 2 | 4;
  /**
   * A listener (not yet listening) that hands each connection to `onSocket` once it may start
   * the handshake; connections it refuses itself it logs with the reason.
   */
  createServer(onSocket: (socket: Socket) => void, context: { log: Logger; setupTimeMs: number }): Server;
  /** A connection to the node `host` names, listening on `port`. */
  connect(host: string, port: number, timeoutMs: number): Promise<Socket>;
}

export const tcpTransport: DistTransport = {
  name: "tcp",
  handshakeHeader: 2,
  createServer: (onSocket) => createServer({ noDelay: true }, onSocket),
  connect,
};

/**
 * Listens on the first free port of `min..max` (`inet_dist_listen_min`/`_max`), on `host` or on
 * every interface; resolves with the port.
 */
export async function listenInRange(server: Server, host: string | undefined, min: number, max: number): Promise<number> {
  for (let port = min; ; port++) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ port, ...(host !== undefined ? { host } : {}) }, () => {
          server.off("error", reject);
          resolve();
        });
      });
      const address = server.address();
      if (address === null || typeof address === "string") throw new Error("the distribution listener has no port");
      return address.port;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE" || port >= max) throw e;
    }
  }
}
