/**
 * A listen socket (`listen/2`): a TCP server whose connections wait, paused, for
 * `transport_accept/1,2` to hand them out, first come first served, to callers waiting in the
 * order they called. An accepted socket inherits the listen socket's options and TLS settings;
 * its TLS handshake waits for `ssl_accept/1,2`.
 */
import { createServer, type Server, type Socket } from "node:net";
import { ok, tuple, type Pid, type Term } from "../etf/terms.js";
import { ipTuple } from "./args.js";
import { tlsSetup, type TlsSetup } from "./context.js";
import { Endpoint, type SocketTable } from "./endpoint.js";
import { fail, reason, reasonOf, SslError } from "./errors.js";
import { Options } from "./options.js";
import { SslSocket } from "./socket.js";

/** The reply to the handshake of each socket accepted on a listener that refuses handshakes. */
const refusals = new WeakMap<SslSocket, Term>();

/** What `ssl_accept` on this accepted socket answers instead of a handshake, if anything. */
export function handshakeRefusal(socket: SslSocket): Term | undefined {
  return refusals.get(socket);
}

interface Waiter {
  readonly owner: Pid;
  readonly done: (result: SslSocket | SslError) => void;
}

export class ListenSocket extends Endpoint {
  readonly #server: Server;
  #options: Options;
  readonly setup: TlsSetup;
  readonly #queue: Socket[] = [];
  readonly #waiters: Waiter[] = [];
  #handshakeRefusal: Term | undefined;

  private constructor(table: SocketTable, owner: Pid, server: Server, options: Options, setup: TlsSetup) {
    super(table, owner);
    this.#server = server;
    this.#options = options;
    this.setup = setup;
    server.on("connection", this.guarded((socket: Socket) => this.#arrived(socket)));
    server.on("error", () => {});
    this.linkOwner();
  }

  /** `listen/2` for `owner`: binds, loads the TLS settings, then makes the socket. */
  static async listen(table: SocketTable, owner: Pid, port: number, options: Options): Promise<ListenSocket> {
    const setup = tlsSetup(options.tls, "server");
    // `cachetimeout`: how long the sessions (TLS 1.3 tickets included) of this listener's
    // connections may be resumed. node:tls takes it only from tls.Server, which sets it on the
    // context as here.
    (setup.context.context as { setSessionTimeout(seconds: number): void }).setSessionTimeout(options.tls.cachetimeout);
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: false });
    const host = options.listen.ip;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      // The kernel's queue is left at node:net's default: `backlog` bounds our own (#arrived).
      server.listen({ port, host }, () => {
        server.off("error", reject);
        resolve();
      });
    }).catch((err: unknown) => {
      server.close();
      fail(reasonOf(err, "listen"), String(err));
    });
    return new ListenSocket(table, owner, server, options, setup);
  }

  /**
   * Accepts connections as usual, but answers each one's handshake with `reply` (OTP's `ssl`
   * reads its certificate and key files at each handshake: files it cannot read fail those).
   */
  refuseHandshakes(reply: Term): void {
    this.#handshakeRefusal = reply;
  }

  /**
   * `transport_accept/1,2`: the next connection, owned by `caller`. A listener without its own
   * certificate cannot serve TLS: `enoservercert` (manual, ERRORS).
   */
  transportAccept(caller: Pid, signal: AbortSignal | undefined): Promise<SslSocket> {
    if (!this.setup.hasCertificate && this.#handshakeRefusal === undefined) fail(reason.enoservercert);
    return new Promise<SslSocket>((resolve, reject) => {
      let unwatch: (() => void) | undefined;
      const waiter: Waiter = {
        owner: caller,
        done: (result) => {
          signal?.removeEventListener("abort", onAbort);
          unwatch?.();
          if (result instanceof SslError) reject(result);
          else resolve(result);
        },
      };
      const withdraw = (why: SslError) => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        waiter.done(why);
      };
      const onAbort = () => withdraw(new SslError(reason.timeout));
      this.#waiters.push(waiter);
      this.#handOut();
      if (!this.#waiters.includes(waiter)) return;
      // It waits: a timeout, or the caller's exit, withdraws it, so the next connection goes on
      // to the next caller.
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
      if (this.#waiters.includes(waiter)) unwatch = this.watch(caller, () => withdraw(new SslError(reason.closed)));
    });
  }

  /**
   * Connections nobody has taken are kept as the kernel's accept queue would keep them for
   * `{backlog, N}`: Linux holds N + 1. node:net accepts every connection the kernel queues and
   * cannot leave them there, so one past that is reset (what Linux does on overflow with
   * net.ipv4.tcp_abort_on_overflow) rather than left to wait for its SYN to be answered. The
   * kernel's own queue is larger, so that every connection past ours is reset alike, however
   * quickly they come.
   */
  #arrived(socket: Socket): void {
    socket.on("error", () => {});
    if (this.#waiters.length === 0 && this.#queue.length > this.#options.listen.backlog) {
      socket.resetAndDestroy();
      return;
    }
    socket.once("close", () => {
      const i = this.#queue.indexOf(socket);
      if (i >= 0) this.#queue.splice(i, 1);
    });
    this.#queue.push(socket);
    this.#handOut();
  }

  #handOut(): void {
    while (this.#queue.length > 0 && this.#waiters.length > 0) {
      const socket = this.#queue.shift()!;
      const waiter = this.#waiters.shift()!;
      const accepted = SslSocket.accepted(this.table, waiter.owner, socket, this.#options, this.setup);
      if (this.#handshakeRefusal !== undefined) refusals.set(accepted, this.#handshakeRefusal);
      waiter.done(accepted);
    }
  }

  setopts(list: Term): void {
    this.#options = this.#options.merge(Options.parse(list, "setopts"));
  }

  getopts(tags: Term): Term[] {
    return this.#options.getopts(tags, "listen");
  }

  sockname(): Term {
    const address = this.#server.address();
    if (address === null || typeof address === "string") fail(reason.einval);
    return tuple(ok, tuple(ipTuple(address.address), address.port));
  }

  protected release(): void {
    this.#server.close(() => this.settle());
    for (const socket of this.#queue.splice(0)) socket.destroy();
    // transport_accept while the listen socket closes: {error, closed} (3.9).
    for (const waiter of this.#waiters.splice(0)) waiter.done(new SslError(reason.closed));
  }
}
