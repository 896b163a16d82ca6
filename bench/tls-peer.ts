/**
 * The node:tls peer of `npm run bench -- ssl`'s handshake rows, in a process of its own so that
 * its CPU is not the bridge's:
 *
 *   node tls-peer.js server CERTFILE KEYFILE   serves TLS on 127.0.0.1 (port on stdout), reads
 *                                              each connection to its end, then ends it too;
 *   node tls-peer.js client PORT CONCURRENCY   keeps CONCURRENCY connections handshaking with
 *                                              127.0.0.1:PORT, each one until the server closes it.
 *
 * Either runs until it is killed.
 */
import { readFileSync } from "node:fs";
import { connect, createServer } from "node:tls";

const [mode, a, b] = process.argv.slice(2);

if (mode === "server") {
  const server = createServer({ cert: readFileSync(a!), key: readFileSync(b!) }, (socket) => {
    socket.on("error", () => {});
    socket.on("end", () => socket.end());
    socket.resume();
  });
  server.on("tlsClientError", () => {});
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    console.log(typeof address === "object" && address !== null ? address.port : 0);
  });
} else if (mode === "client") {
  const port = Number(a);
  // A connection refused (the listener not there yet, or closed) is tried again a little later.
  const loop = (): void => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    let retry = false;
    socket.on("error", () => (retry = true));
    socket.on("end", () => socket.end());
    socket.on("close", () => (retry ? setTimeout(loop, 10) : setImmediate(loop)));
    socket.resume();
  };
  for (let i = 0; i < Number(b); i++) loop();
} else {
  console.error("usage: tls-peer.js server CERTFILE KEYFILE | client PORT CONCURRENCY");
  process.exit(2);
}
