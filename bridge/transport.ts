/**
 * The handshake's transport over a socket: whole messages with a 2-byte length prefix (4 inside
 * TLS distribution), one
 * deadline for the whole handshake (OTP's `net_setuptime`, 7 s by default), and the bytes that
 * arrived past the last handshake message handed on to the connected state.
 */
import { connect, type Socket } from "node:net";
import { frameHeader } from "./framing.js";
import { HandshakeError, type HandshakeTransport, type Step } from "./handshake.js";

/** Handshake messages are a name, flags and digests: far below what a 2-byte length allows. */
const MAX_HANDSHAKE_MESSAGE = 0xffff;

export class SocketTransport implements HandshakeTransport {
  readonly #socket: Socket;
  #input: Buffer = Buffer.alloc(0);
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
    this.#socket.write(Buffer.concat([frameHeader(message.length, this.#header), message]));
  }

  recv(step: Step): Promise<Uint8Array> {
    this.#lastStep = step;
    const m = this.#take();
    if (m !== undefined) return Promise.resolve(m);
    if (this.#failure !== undefined) return Promise.reject(new HandshakeError(step, this.#failure.code, this.#failure.message));
    return new Promise((resolve, reject) => (this.#waiting = { step, resolve, reject }));
  }

  /** Stops reading for the handshake; returns what arrived after its last message. */
  detach(): Buffer {
    clearTimeout(this.#timer);
    this.#socket.off("data", this.#onData);
    this.#socket.off("close", this.#onClose);
    this.#socket.off("error", this.#onError);
    const rest = this.#input;
    this.#input = Buffer.alloc(0);
    return rest;
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
    const len = h === 2 ? this.#input.readUInt16BE(0) : this.#input.readUInt32BE(0);
    const refusal = this.#refusal(len);
    if (refusal !== undefined) {
      this.#fail(new HandshakeError(this.#lastStep, "malformed", refusal));
      this.#socket.destroy();
      return undefined;
    }
    if (this.#input.length < h + len) return undefined;
    const m = this.#input.subarray(h, h + len);
    this.#started = true;
    this.#input = this.#input.subarray(h + len);
    return m;
  }

  /** Why a message of `len` bytes starting the input cannot be a handshake message, if it cannot. */
  #refusal(len: number): string | undefined {
    // A TLS record (a handshake, 22, or an alert, 21; version 3.x) where the first handshake
    // message belongs.
    const record = this.#input[0] === 22 || this.#input[0] === 21;
    if (this.#header === 2 && !this.#started && record && this.#input[1] === 0x03) {
      return "the peer speaks TLS: it runs TLS distribution (-proto_dist inet_tls), this node plain TCP";
    }
    return len > MAX_HANDSHAKE_MESSAGE ? `a handshake message of ${len} bytes (at most ${MAX_HANDSHAKE_MESSAGE})` : undefined;
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#input = this.#input.length === 0 ? chunk : Buffer.concat([this.#input, chunk]);
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

/** A TCP connection to `host:port` with Nagle off; rejects on error or after `timeoutMs`. */
export function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
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
