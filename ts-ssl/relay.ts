/**
 * A TCP connection of the caller's node as a stream of the bridge, for `ts_ssl_otp:connect/2,3`
 * and `handshake/2,3` on a gen_tcp socket (STARTTLS): the gen_tcp socket stays a port of the
 * caller's node, owned there by a relay process (ts_ssl_relay.erl) that passes its bytes here as
 * messages and writes the bytes it is sent. node:tls then runs over this stream as over a socket
 * of its own.
 *
 * Messages, both ways tagged so that each side can tell them from anything else:
 * - relay -> stream: `{ts_ssl_tcp, Relay, Data}` (one chunk read), `{ts_ssl_tcp_closed, Relay}`
 *   (the peer's FIN), `{ts_ssl_tcp_error, Relay, Reason}`, `{ts_ssl_tcp_sent, Relay}` (the
 *   last write is done);
 * - stream -> relay: `{ts_ssl_relay_start, Stream}`, `{ts_ssl_tcp_read, Stream}` (read one more
 *   chunk), `{ts_ssl_tcp_send, Stream, Data}`, `{ts_ssl_tcp_shutdown, Stream}` (our FIN),
 *   `{ts_ssl_tcp_close, Stream}`.
 * The relay reads a chunk only when asked (the stream keeps a few asked for while node:tls wants
 * more), and the stream sends the next write only once the last one is written (gen_tcp:send
 * blocks the relay meanwhile), so neither can flood the other.
 */
import { Duplex } from "node:stream";
import type { Node, Process } from "../bridge/api.js";
import { atom, isTagged, Pid, termEquals, tuple, type Term, type Tuple } from "../etf/terms.js";

const tcpData = atom("ts_ssl_tcp");
const tcpClosed = atom("ts_ssl_tcp_closed");
const tcpError = atom("ts_ssl_tcp_error");
const tcpSent = atom("ts_ssl_tcp_sent");
const EXIT = atom("EXIT");
const start = atom("ts_ssl_relay_start");
const read = atom("ts_ssl_tcp_read");
const sendTag = atom("ts_ssl_tcp_send");
const shutdownTag = atom("ts_ssl_tcp_shutdown");
const closeTag = atom("ts_ssl_tcp_close");

/**
 * Chunks asked of the relay at once: a few in flight hide the round trip over the distribution
 * connection that one at a time waits for each, and bound what the bridge holds unread. Measured
 * on loopback, 32 MiB from OTP's ssl to a passive owner: one at a time 11 MiB/s, four 16 MiB/s;
 * with the relay's 64 KiB chunks too, 82 to 102 MiB/s (connect/3's socket: 98 to 115).
 */
const inFlight = 4;

export class RelayStream extends Duplex {
  readonly #process: Process;
  readonly #relay: Pid;
  /** Chunks asked of the relay and not yet come. */
  #asked = 0;
  /** The callback of the write the relay is carrying out. */
  #writing: ((err?: Error | null) => void) | undefined;

  constructor(node: Node, relay: Pid) {
    super({ allowHalfOpen: true });
    this.#relay = relay;
    this.#process = node.spawn(
      {
        message: (msg) => this.#onMessage(msg),
        // The bridge stopping, or anything else that ends the process, ends the stream.
        terminated: () => this.destroy(),
      },
      { trapExit: true },
    );
    // The relay ends with this process, so it cannot outlive the bridge's side of the connection.
    this.#process.link(relay);
    this.#process.send(relay, tuple(start, this.#process.pid));
  }

  #fromRelay(msg: Tuple): boolean {
    return termEquals(msg.elements[1]!, this.#relay);
  }

  #onMessage(msg: Term): void {
    if (isTagged(msg, tcpData, 3) && this.#fromRelay(msg)) {
      const data = msg.elements[2];
      if (!(data instanceof Uint8Array)) return;
      this.#asked -= 1;
      if (this.push(Buffer.from(data))) this.#askMore();
    } else if (isTagged(msg, tcpSent, 2) && this.#fromRelay(msg)) {
      const done = this.#writing;
      this.#writing = undefined;
      done?.();
    } else if (isTagged(msg, tcpClosed, 2) && this.#fromRelay(msg)) {
      this.push(null);
    } else if (isTagged(msg, tcpError, 3) && this.#fromRelay(msg)) {
      this.destroy(Object.assign(new Error(`TCP connection failed: ${String(msg.elements[2])}`), { code: "ECONNRESET" }));
    } else if (isTagged(msg, EXIT, 3) && termEquals(msg.elements[1]!, this.#relay)) {
      // The relay ended (its owner exited, or the TCP connection went): nothing more can pass.
      this.destroy();
    }
    // Anything else is not the relay's and changes nothing.
  }

  /** Keeps `inFlight` chunks asked for while node:tls wants more. */
  #askMore(): void {
    for (; this.#asked < inFlight && this.#process.alive; this.#asked++) this.#process.send(this.#relay, tuple(read, this.#process.pid));
  }

  override _read(): void {
    this.#askMore();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (!this.#process.alive) {
      callback(Object.assign(new Error("TCP relay gone"), { code: "EPIPE" }));
      return;
    }
    this.#writing = callback;
    this.#process.send(this.#relay, tuple(sendTag, this.#process.pid, chunk));
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.#process.alive) this.#process.send(this.#relay, tuple(shutdownTag, this.#process.pid));
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    if (this.#process.alive) {
      this.#process.send(this.#relay, tuple(closeTag, this.#process.pid));
      this.#process.unlink(this.#relay);
      this.#process.terminate(atom("normal"));
    }
    const pending = this.#writing;
    this.#writing = undefined;
    pending?.(err ?? new Error("closed"));
    callback(err);
  }
}
