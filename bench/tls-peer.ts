/**
 * The node:tls peer of `npm run bench -- ssl`'s handshake rows, in a process of its own so that
 * its CPU is not the bridge's:
 *
 *   node tls-peer.js server CERTFILE KEYFILE   serves TLS on 127.0.0.1 (port on stdout), reads
 *                                              each connection to its end, then ends it too;
 *   node tls-peer.js client PORT CONCURRENCY   keeps CONCURRENCY connections handshaking with
 *                                              127.0.0.1:PORT, each one until the server closes it;
 *   node tls-peer.js upload PORT TOTAL CHUNK   sends the bench's native receiver on 127.0.0.1:PORT
 *                                              TOTAL bytes in CHUNK-byte writes, as its upload
 *                                              row's callers do, then prints the nanoseconds from
 *                                              the first write to the receiver's answer, and its
 *                                              own CPU seconds meanwhile (user + system).
 *
 * The server and the client run until they are killed; the upload ends when it has printed.
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
} else if (mode === "upload") {
  const [total, chunk] = [Number(b), Number(process.argv[5])];
  const socket = connect({ host: "127.0.0.1", port: Number(a), rejectUnauthorized: false }, () => {
    const head = Buffer.alloc(9);
    head.write("u");
    head.writeBigUInt64BE(BigInt(total), 1);
    socket.write(head);
    const data = Buffer.alloc(chunk, "y");
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    // The receiver's one-byte answer says that every byte arrived.
    socket.once("data", () => {
      const { user, system } = process.cpuUsage(cpu0);
      console.log(`${process.hrtime.bigint() - t0} ${(user + system) / 1e6}`);
      socket.end();
    });
    let left = total;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, chunk);
        left -= n;
        if (!socket.write(data.subarray(0, n))) return void socket.once("drain", pump);
      }
    };
    pump();
  });
} else {
  console.error("usage: tls-peer.js server CERTFILE KEYFILE | client PORT CONCURRENCY | upload PORT TOTAL CHUNK");
  process.exit(2);
}
