/**
 * The distribution's sockets: `listen` and `connect` make them (plain TCP with Nagle off; the one
 * place to change for another transport), and `SocketTransport` carries the handshake over one:
 * whole messages with a 2-byte length prefix, one deadline for the whole handshake (OTP's
 * `net_setuptime`, 7 s by default), and the bytes that arrived past the last handshake message
 * handed on to the connected state.
 */
import { connect as tcpConnect, createServer, type Server, type Socket } from "node:net";
import { ByteBuilder } from "../etf/bytes.js";
import { ByteQueue } from "./framing.js";
import { HandshakeError, type HandshakeTransport, type Step } from "./handshake.js";

/**
 * A server on `port` (0: any free one) that hands each connection to `onSocket`; resolves once
 * it listens. Errors after that are `onError`'s.
 */
export async function listen(port: number, onSocket: (socket: Socket) => void, onError: (err: Error) => void): Promise<Server> {
  const server = createServer({ noDelay: true }, onSocket);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", onError);
  return server;
}

/** A TCP connection to `host:port` with Nagle off; rejects on error or after `timeoutMs`. */
export function connect(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`connecting to ${host}:${port} timed out`), { code: "ETIMEDOUT" }));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export class SocketTransport implements HandshakeTransport {
  readonly #socket: Socket;
  readonly #input = new ByteQueue();
  readonly #out = new ByteBuilder({ initialSize: 512 });
  #waiting: { step: Step; resolve: (m: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  #failure: HandshakeError | undefined;
  readonly #timer: NodeJS.Timeout;
  #lastStep: Step = "recv_name";

  constructor(socket: Socket, timeoutMs: number) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("data", this.#onData);
    socket.on("close", this.#onClose);
    socket.on("error", this.#onError);
    this.#timer = setTimeout(() => {
      this.#fail(new HandshakeError(this.#lastStep, "timeout", `no handshake message within ${timeoutMs} ms`));
      socket.destroy();
    }, timeoutMs);
  }

  send(message: Uint8Array): void {
    if (this.#socket.destroyed) return;
    this.#socket.write(this.#out.u16(message.length).bytes(message).finish());
  }

  recv(step: Step): Promise<Uint8Array> {
    this.#lastStep = step;
    const m = this.#input.takeFrame(2);
    if (m !== undefined) return Promise.resolve(m);
    if (this.#failure !== undefined) return Promise.reject(new HandshakeError(step, this.#failure.code, this.#failure.message));
    return new Promise((resolve, reject) => (this.#waiting = { step, resolve, reject }));
  }

  /** Stops reading for the handshake; returns what arrived after its last message. */
  detach(): Uint8Array {
    clearTimeout(this.#timer);
    this.#socket.off("data", this.#onData);
    this.#socket.off("close", this.#onClose);
    this.#socket.off("error", this.#onError);
    return this.#input.take(this.#input.length);
  }

  /** Ends the socket after a failed handshake (what was sent, a refusal status, goes out first). */
  abandon(): void {
    this.detach();
    this.#socket.on("error", () => {});
    this.#socket.end();
    this.#socket.destroySoon();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#input.push(chunk);
    const w = this.#waiting;
    if (w === undefined) return;
    const m = this.#input.takeFrame(2);
    if (m === undefined) return;
    this.#waiting = undefined;
    w.resolve(m);
  };

  readonly #onClose = (): void => {
    this.#fail(new HandshakeError(this.#lastStep, "closed", "the peer closed the connection"));
  };

  readonly #onError = (err: Error): void => {
    this.#fail(new HandshakeError(this.#lastStep, "closed", err.message));
  };

  #fail(e: HandshakeError): void {
    clearTimeout(this.#timer);
    this.#failure ??= e;
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.reject(new HandshakeError(w.step, e.code, e.message));
  }
}
