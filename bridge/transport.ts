/**
 * Plain TCP connections (`connect`, for distribution and EPMD), and `SocketTransport`, which
 * carries the distribution handshake over a socket of any transport (dist-transport.ts): whole
 * messages behind a 2-byte length prefix (4 inside TLS distribution), one deadline for the whole
 * handshake (OTP's `net_setuptime`, 7 s by default), and the bytes that arrived past the last
 * handshake message handed on to the connected state.
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { ByteBuilder } from "../etf/bytes.js";
import { ByteQueue } from "./framing.js";
import { HandshakeError, type HandshakeTransport, type Step } from "./handshake.js";

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

/** Handshake messages are a name, flags and digests: far below what a 2-byte length allows. */
const MAX_HANDSHAKE_MESSAGE = 0xffff;

export class SocketTransport implements HandshakeTransport {
  readonly #socket: Socket;
  readonly #input = new ByteQueue();
  readonly #out = new ByteBuilder({ initialSize: 512 });
  #waiting: { step: Step; resolve: (m: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  #failure: HandshakeError | undefined;
  readonly #timer: NodeJS.Timeout;
  #lastStep: Step = "recv_name";
  readonly #header: 2 | 4;
  #started = false;

  constructor(socket: Socket, timeoutMs: number, header: 2 | 4 = 2) {
    this.#socket = socket;
    this.#header = header;
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
    const out = this.#header === 2 ? this.#out.u16(message.length) : this.#out.u32(message.length);
    this.#socket.write(out.bytes(message).finish());
  }

  recv(step: Step): Promise<Uint8Array> {
    this.#lastStep = step;
    const m = this.#take();
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

  #take(): Uint8Array | undefined {
    const h = this.#header;
    if (this.#input.length < h) return undefined;
    const refusal = this.#refusal(Buffer.from(this.#input.peek(h)));
    if (refusal !== undefined) {
      this.#fail(new HandshakeError(this.#lastStep, "malformed", refusal));
      this.#socket.destroy();
      return undefined;
    }
    const m = this.#input.takeFrame(h);
    if (m !== undefined) this.#started = true;
    return m;
  }

  /** Why input starting with `head` (a length prefix) cannot be a handshake message, if it cannot. */
  #refusal(head: Buffer): string | undefined {
    // A TLS record (a handshake, 22, or an alert, 21; version 3.x) where the first handshake
    // message belongs.
    const record = head[0] === 22 || head[0] === 21;
    if (this.#header === 2 && !this.#started && record && head[1] === 0x03) {
      return "the peer speaks TLS: it runs TLS distribution (-proto_dist inet_tls), this node plain TCP";
    }
    const len = head.readUIntBE(0, this.#header);
    return len > MAX_HANDSHAKE_MESSAGE ? `a handshake message of ${len} bytes (at most ${MAX_HANDSHAKE_MESSAGE})` : undefined;
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#input.push(chunk);
    const w = this.#waiting;
    if (w === undefined) return;
    const m = this.#take();
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
