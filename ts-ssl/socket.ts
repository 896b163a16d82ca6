/**
 * A connected ssl socket (made by `connect` or by `transport_accept` + `ssl_accept`): delivery
 * of what the peer sends, in active or passive mode, framed as gen_tcp frames it (packet/), and
 * sending.
 *
 * Reading follows the owner: in passive mode and `{active, once}` the TLS socket is read only
 * while a `recv` waits or a message is owed; in `{active, true}` (and `{active, N}`) it is read
 * until the distribution connection to the owner's node backs up, and again once it drains.
 *
 * When the peer closes, gen_tcp's rules apply (see packet/framer.ts): active mode gets the rest
 * of a raw stream then `{ssl_closed, S}`; passive `recv`s get what is buffered, then
 * `{error, closed}`. An error (a reset, a fatal alert, a packet over `packet_size`) is reported
 * once, as `{ssl_error, S, Reason}` followed by `{ssl_closed, S}`, or as the next `recv`'s
 * `{error, Reason}`. After that, or after the peer closed, `send` is `{error, closed}`.
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { atom, charlist, error, ok, true_, tuple, type Pid, type Term } from "../etf/terms.js";
import { ipTuple } from "./args.js";
import type { TlsSetup } from "./context.js";
import { Endpoint, type SocketTable } from "./endpoint.js";
import { badcall, fail, reason, reasonOf } from "./errors.js";
import { injectFault } from "./fault.js";
import { acceptTls } from "./handshake.js";
import { ACTIVE_MAX, activeOf, activeTerm, framingOptions, Options, protocols, type Active, type SocketKind } from "./options.js";
import { Framer, framePacket, FramingError } from "./packet/framer.js";

const ssl = atom("ssl");
const sslClosed = atom("ssl_closed");
const sslError = atom("ssl_error");
const sslPassive = atom("ssl_passive");

interface Recv {
  readonly length: number;
  readonly done: (reply: Term) => void;
}

type State = "accepted" | "handshaking" | "open";

export class SslSocket extends Endpoint {
  readonly kind: SocketKind;
  #state: State;
  #raw: Socket | undefined;
  /** An accepted socket's TLS settings, the listener's. */
  #setup: TlsSetup | undefined;
  #tls: TLSSocket | undefined;
  #options: Options;
  readonly #framer: Framer;
  #active: Active;
  readonly #recvs: Recv[] = [];
  /** Set when nothing more will come from the peer: undefined reason = it closed cleanly. */
  #ended: { reason: Term | undefined } | undefined;
  /** `{ssl_closed, S}` has been sent. */
  #closedSent = false;
  /** The end's reason has been told, as `{ssl_error, S, R}` or as a recv's `{error, R}`. */
  #reasonTold = false;
  #waitingForDrain = false;
  #corked = false;
  readonly #pendingSends = new Set<(reply: Term) => void>();
  /** What the handshake settled, kept for after the connection is gone. */
  #session: { protocol: Term | undefined; cipher: string | undefined; peerCert: Buffer | undefined } | undefined;

  private constructor(table: SocketTable, owner: Pid, kind: SocketKind, options: Options, state: State) {
    super(table, owner);
    this.kind = kind;
    this.#state = state;
    this.#options = options;
    this.#framer = new Framer(framingOptions(options));
    this.#active = activeOf(options);
    this.linkOwner();
  }

  /** A client socket whose handshake is done. */
  static connected(table: SocketTable, owner: Pid, tls: TLSSocket, options: Options): SslSocket {
    const s = new SslSocket(table, owner, "connect", options, "open");
    if (s.open) s.#start(tls);
    else tls.destroy();
    return s;
  }

  /** `transport_accept/1,2`: a TCP connection; TLS starts at `ssl_accept`. */
  static accepted(table: SocketTable, owner: Pid, raw: Socket, options: Options, setup: TlsSetup): SslSocket {
    const s = new SslSocket(table, owner, "accept", options, "accepted");
    s.#raw = raw;
    s.#setup = setup;
    raw.on("error", () => {});
    if (!s.open) raw.destroy();
    return s;
  }

  /** `ssl_accept/1,2`. A failed handshake closes the socket (3.9: the socket is then unusable). */
  async sslAccept(signal: AbortSignal | undefined): Promise<void> {
    if (this.#state !== "accepted" || this.#raw === undefined || this.#setup === undefined) fail(reason.ebadstate);
    this.#state = "handshaking";
    try {
      const tls = await acceptTls(this.#raw, this.#setup, signal);
      if (!this.open) {
        tls.destroy();
        fail(reason.closed);
      }
      this.#state = "open";
      this.#start(tls);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  #start(tls: TLSSocket): void {
    this.#tls = tls;
    const version = tls.getProtocol();
    const peer = tls.getPeerCertificate();
    this.#session = {
      protocol: [...protocols].find(([, v]) => v === version)?.[0],
      cipher: tls.getCipher()?.name,
      peerCert: peer?.raw,
    };
    tls.pause();
    tls.setNoDelay(this.#options.get("nodelay") === true_);
    tls.on("error", this.guarded((err: Error) => this.#end(reasonOf(err, "transfer"))));
    tls.on("end", this.guarded(() => this.#end(undefined)));
    tls.on("close", this.guarded(() => this.#end(undefined)));
    tls.on("data", this.#onData);
    this.#pump();
  }

  readonly #onData = this.guarded((chunk: Buffer): void => {
    injectFault(chunk);
    this.#framer.push(chunk);
    this.#pump();
  });

  // ---- receiving

  /** `recv/2,3` for `caller`. */
  recv(length: number, signal: AbortSignal | undefined, caller: Pid, request: Term): Promise<Term> {
    if (this.#state !== "open") fail(reason.ebadstate);
    if (this.#active !== false) throw badcall(request);
    if (length > 0 && this.#options.get("packet") !== 0) fail(reason.einval);
    return new Promise<Term>((resolve) => {
      let unwatch: (() => void) | undefined;
      const r: Recv = {
        length,
        done: (reply) => {
          signal?.removeEventListener("abort", onAbort);
          unwatch?.();
          resolve(reply);
        },
      };
      const withdraw = (reply: Term) => {
        const i = this.#recvs.indexOf(r);
        if (i >= 0) this.#recvs.splice(i, 1);
        r.done(reply);
        this.#flow();
      };
      const onAbort = () => withdraw(tuple(error, reason.timeout));
      this.#recvs.push(r);
      this.#pump();
      if (!this.#recvs.includes(r)) return;
      // It waits: a timeout, or the caller's exit, withdraws it (the caller gets no reply then).
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
      if (this.#recvs.includes(r)) unwatch = this.watch(caller, () => withdraw(tuple(error, reason.closed)));
    });
  }

  /** Delivers every packet the owner or a recv may have now, then decides whether to read on. */
  #pump(): void {
    if (!this.open) return;
    try {
      for (;;) {
        if (this.#active !== false) {
          const packet = this.#framer.next();
          if (packet === undefined) break;
          this.#deliver(packet);
        } else {
          const r = this.#recvs[0];
          if (r === undefined) break;
          const packet = this.#framer.take(r.length);
          if (packet === undefined) break;
          this.#recvs.shift();
          r.done(tuple(ok, packet));
        }
      }
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      // gen_tcp closes a socket whose packets cannot be framed, and delivers nothing more.
      this.#framer.discard();
      this.#tls?.destroy();
      this.#ended = { reason: err.reason };
      this.#failSends();
    }
    if (this.#ended !== undefined) this.#reportEnd();
    this.#flow();
  }

  #deliver(packet: Term): void {
    this.toOwner(tuple(ssl, this.term, packet));
    if (this.#active === "once") this.#active = false;
    else if (typeof this.#active === "number") {
      this.#active -= 1;
      if (this.#active <= 0) this.#goPassive();
    }
  }

  /** `{active, N}` ran out: passive, and the owner is told (OTP 17+). */
  #goPassive(): void {
    this.#active = false;
    this.toOwner(tuple(sslPassive, this.term));
  }

  /** The peer has closed or the connection failed: what is buffered goes out, then the end. */
  #end(why: Term | undefined): void {
    if (this.#ended !== undefined) return;
    // A paused TLS socket may hold data it decrypted before the close or reset: it came from the
    // peer before the end, so it is delivered first, as gen_tcp delivers what it read before an
    // error. (read() would also emit 'data' before 'close' has been emitted: hence the `off`.)
    const tls = this.#tls!;
    tls.off("data", this.#onData);
    for (let chunk: Buffer | null; (chunk = tls.read() as Buffer | null) !== null; ) this.#framer.push(chunk);
    this.#ended = { reason: why };
    this.#failSends();
    this.#pump();
  }

  /** Sends waiting for the socket to drain: it never will. */
  #failSends(): void {
    for (const done of [...this.#pendingSends]) done(tuple(error, reason.closed));
  }

  #reportEnd(): void {
    if (this.#active !== false) {
      if (this.#closedSent) return;
      const rest = this.#framer.drainOnClose();
      if (rest !== undefined) this.#deliver(rest);
      const why = this.#tellEnd();
      if (why !== reason.closed) this.toOwner(tuple(sslError, this.term, why));
      this.toOwner(tuple(sslClosed, this.term));
      this.#closedSent = true;
      return;
    }
    // Passive: recv(S, 0) gets the raw rest; a recv that wants more than there is gets closed.
    while (this.#recvs.length > 0) {
      const r = this.#recvs.shift()!;
      const rest = this.#framer.drainOnClose();
      r.done(rest !== undefined && r.length === 0 ? tuple(ok, rest) : tuple(error, this.#tellEnd()));
    }
  }

  /** The end's reason the first time it is told; closed after that, and for a clean close. */
  #tellEnd(): Term {
    const why = this.#reasonTold ? undefined : this.#ended!.reason;
    this.#reasonTold = true;
    return why ?? reason.closed;
  }

  /** Reads from TLS only while someone wants data and the owner's connection keeps up. */
  #flow(): void {
    const tls = this.#tls;
    if (tls === undefined || !this.open || this.#ended !== undefined) return;
    // {active, once} owes one message at most: no need to ask the connection.
    const want = this.#active === false ? this.#recvs.length > 0 : this.#active === "once" || !this.#ownerBackedUp();
    if (want) tls.resume();
    else tls.pause();
  }

  /** Whether the connection to the owner's node is backed up; if so, pumps again once it drains. */
  #ownerBackedUp(): boolean {
    const node = this.table.node;
    if (!node.isBackedUp(this.owner.node)) return false;
    if (!this.#waitingForDrain) {
      this.#waitingForDrain = true;
      void node.whenDrained(this.owner.node).then(
        this.guarded(() => {
          this.#waitingForDrain = false;
          this.#pump();
        }),
      );
    }
    return true;
  }

  // ---- sending

  /** `send/2`. Answers once the bytes are queued below node:tls's high-water mark. */
  send(data: Uint8Array): Promise<Term> | Term {
    if (this.#state !== "open") fail(reason.ebadstate);
    const tls = this.#tls!;
    // 3.9 answered every send failure with closed.
    if (this.#ended !== undefined || !tls.writable) return tuple(error, reason.closed);
    let parts: Uint8Array[];
    try {
      parts = framePacket(data, this.#framer.options);
    } catch (err) {
      if (err instanceof FramingError) fail(err.reason);
      throw err;
    }
    if (parts.length === 0) return ok;
    // Writes of one event-loop turn leave together.
    if (!this.#corked) {
      this.#corked = true;
      tls.cork();
      process.nextTick(() => {
        this.#corked = false;
        tls.uncork();
      });
    }
    let below = true;
    for (const p of parts) below = tls.write(p);
    if (below) return ok;
    return new Promise<Term>((resolve) => {
      const done = (reply: Term) => {
        this.#pendingSends.delete(done);
        tls.off("drain", onDrain);
        resolve(reply);
      };
      const onDrain = () => done(ok);
      this.#pendingSends.add(done);
      tls.once("drain", onDrain);
    });
  }

  // ---- options and facts

  /** `setopts/2`: socket options only (ssl options are eoptions, as in 3.9). */
  setopts(list: Term): void {
    const changes = Options.parse(list, "setopts");
    let active = this.#active;
    if (changes.has("active")) {
      const asked = activeOf(changes);
      if (typeof asked === "number") {
        active = (typeof this.#active === "number" ? this.#active : 0) + asked;
        if (active > ACTIVE_MAX) fail(reason.einval, "active count over 32767");
      } else active = asked;
    }
    this.#options = this.#options.merge(changes);
    this.#framer.setOptions(framingOptions(this.#options));
    if (changes.has("nodelay")) this.#tls?.setNoDelay(this.#options.get("nodelay") === true_);
    this.#active = active;
    if (typeof active === "number" && active <= 0) this.#goPassive();
    this.#pump();
  }

  getopts(tags: Term): Term[] {
    return this.#options.with("active", activeTerm(this.#active)).getopts(tags, this.kind);
  }

  get options(): Options {
    return this.#options;
  }

  #network(): Socket | undefined {
    return this.#tls ?? this.#raw;
  }

  peername(): Term {
    const s = this.#network();
    if (s?.remoteAddress === undefined || s.remotePort === undefined) fail(reason.enotconn);
    return tuple(ok, tuple(ipTuple(s.remoteAddress), s.remotePort));
  }

  sockname(): Term {
    const s = this.#network();
    if (s?.localAddress === undefined || s.localPort === undefined) fail(reason.enotconn);
    return tuple(ok, tuple(ipTuple(s.localAddress), s.localPort));
  }

  /** `connection_info/1`: `{ok, {Protocol, CipherName}}`, the cipher as OpenSSL names it. */
  connectionInfo(): Term {
    const session = this.#session;
    if (session === undefined) fail(reason.ebadstate);
    if (session.protocol === undefined || session.cipher === undefined) fail(reason.closed);
    return tuple(ok, tuple(session.protocol, charlist(session.cipher)));
  }

  /** `peercert/1`: the DER bytes of the peer's certificate. */
  peercert(): Term {
    const session = this.#session;
    if (session === undefined) fail(reason.ebadstate);
    if (session.peerCert === undefined) fail(reason.enopeercert);
    return tuple(ok, session.peerCert);
  }

  protected release(): void {
    for (const r of this.#recvs.splice(0)) r.done(tuple(error, reason.closed));
    this.#failSends();
    // The peer sees a TLS close (close_notify, then FIN) after what was written so far.
    const socket = this.#network();
    if (socket === undefined || socket.closed) {
      this.settle();
      return;
    }
    socket.once("close", this.settle);
    if (socket === this.#tls) socket.destroySoon();
    else socket.destroy();
  }
}
