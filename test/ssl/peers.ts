/**
 * TLS peers for tests: node:tls servers and clients, and the `openssl` command line as server
 * (`s_server`) and client (`s_client`), each talking through stdin/stdout.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { connect, createServer, type ConnectionOptions, type TLSSocket, type TlsOptions } from "node:tls";
import { freePort } from "../support/erlang.js";
import type { Credential } from "../support/certs.js";
import { portOf } from "./harness.js";

/** A node:tls server on 127.0.0.1; `accepted` yields its connections in order. */
export class TlsPeerServer {
  readonly sockets: TLSSocket[] = [];
  #waiters: Array<(s: TLSSocket) => void> = [];

  private constructor(readonly server: Server) {}

  static async start(options: TlsOptions, onSocket?: (s: TLSSocket) => void): Promise<TlsPeerServer> {
    const peer = new TlsPeerServer(createServer(options));
    peer.server.on("secureConnection", (sock: TLSSocket) => {
      sock.on("error", () => {});
      onSocket?.(sock);
      const w = peer.#waiters.shift();
      if (w !== undefined) w(sock);
      else peer.sockets.push(sock);
    });
    peer.server.on("tlsClientError", () => {});
    await new Promise<void>((r) => peer.server.listen(0, "127.0.0.1", r));
    return peer;
  }

  get port(): number {
    return portOf(this.server);
  }

  accepted(): Promise<TLSSocket> {
    const s = this.sockets.shift();
    if (s !== undefined) return Promise.resolve(s);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  close(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }
}

export function credentials(c: Credential): { cert: Buffer; key: Buffer } {
  return { cert: c.cert, key: c.key };
}

/** A node:tls client to 127.0.0.1:port; resolves once the handshake is done. */
export async function tlsClient(port: number, options: ConnectionOptions = {}): Promise<TLSSocket> {
  const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false, ...options });
  socket.on("error", () => {});
  await once(socket, "secureConnect");
  return socket;
}

/** Reads from a stream until `n` bytes came, or it ended; the stream stays open. */
export function readBytes(stream: NodeJS.ReadableStream, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  return new Promise((resolve) => {
    const done = () => {
      stream.off("data", onData);
      stream.off("end", done);
      stream.pause();
      resolve(Buffer.concat(parts));
    };
    const onData = (chunk: Buffer) => {
      parts.push(chunk);
      got += chunk.length;
      if (got >= n) done();
    };
    stream.on("data", onData);
    stream.on("end", done);
    stream.resume();
  });
}

/** Collects everything a stream delivers until it ends. */
export function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  stream.on("data", (d: Buffer) => parts.push(d));
  return new Promise((resolve) => stream.on("end", () => resolve(Buffer.concat(parts))));
}

/** A TCP server that accepts and never speaks (TLS handshakes against it never finish). */
export async function silentServer(): Promise<{ port: number; close(): void }> {
  const held: Socket[] = [];
  const server = createTcpServer((s) => held.push(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: portOf(server),
    close: () => {
      server.close();
      for (const s of held) s.destroy();
    },
  };
}

/** `openssl s_server` or `s_client`: what it prints on stdout, and its stdin to type into. */
export class OpensslPeer {
  #out = "";
  #waiters: Array<() => void> = [];

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on("data", (d: Buffer) => this.#got(d.toString("latin1")));
    child.stderr!.on("data", (d: Buffer) => this.#got(d.toString("latin1")));
  }

  #got(text: string): void {
    this.#out += text;
    for (const w of this.#waiters.splice(0)) w();
  }

  get output(): string {
    return this.#out;
  }

  /**
   * `openssl s_server` on a free port, serving one connection; with `-ign_eof` unless `http`, a
   * folder: then `-HTTP`, serving its files (each a whole HTTP response) and closing after each.
   */
  static async server(cred: Credential, extra: string[] = [], http?: string): Promise<{ peer: OpensslPeer; port: number }> {
    const port = await freePort();
    const child = spawn(
      "openssl",
      [
        "s_server",
        "-accept",
        `127.0.0.1:${port}`,
        "-cert",
        cred.certFile,
        "-key",
        cred.keyFile,
        "-naccept",
        "1",
        ...(http === undefined ? ["-ign_eof"] : ["-HTTP"]),
        ...extra,
      ],
      { stdio: ["pipe", "pipe", "pipe"], cwd: http },
    );
    const peer = new OpensslPeer(child);
    await peer.waitFor("ACCEPT");
    return { peer, port };
  }

  /** `openssl s_client` to 127.0.0.1:port. */
  static client(port: number, extra: string[] = []): OpensslPeer {
    const child = spawn("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-ign_eof", ...extra], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    return new OpensslPeer(child);
  }

  async waitFor(text: string, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.#out.includes(text)) {
      if (Date.now() > until) throw new Error(`openssl did not print ${JSON.stringify(text)}; it printed:\n${this.#out}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, until - Date.now());
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  type(text: string): void {
    this.child.stdin!.write(text);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, "exit");
    this.child.kill();
    await exited;
  }
}
