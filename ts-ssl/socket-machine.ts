/**
 * The receive and close rules of a connected ssl socket, without I/O: events in (bytes from TLS,
 * the peer's end, setopts, recv and its timeout, the owner's connection backing up, close),
 * actions out (a message for the owner, a reply to a waiting caller, read or stop reading TLS,
 * destroy the connection). `SslSocket` (socket.ts) turns node:tls's events into these events and
 * carries the actions out; the rules can thus be checked without a network.
 *
 * The rules are gen_tcp's:
 * - `{active, true}` sends `{ssl, S, Data}` per packet; `once` one packet, then passive;
 *   `{active, N}` N packets, then `{ssl_passive, S}` and passive (setopts adds to the count, and
 *   a count at or below 0 goes passive at once). Passive mode answers `recv`s in their order.
 * - TLS is read while someone wants data (a waiting `recv`, an active owner) and, while nobody
 *   does, ahead until `readAhead` bytes wait to be delivered, as OTP's `ssl` reads ahead of a
 *   passive owner: a peer that sends and then closes, or resets, loses nothing the bridge could
 *   have read, and a peer that sends to an owner that does not read is still stopped once the
 *   bound is reached. In `{active, true}` and `{active, N}` reading stops while the distribution
 *   connection to the owner's node is backed up, and starts again once it drains;
 *   `{active, once}` owes one message at most and reads on.
 * - When the peer closes, active mode gets the rest of a raw stream, then `{ssl_closed, S}`;
 *   passive `recv(S, 0)` gets the raw rest, then `{error, closed}`. A failure (a reset, a fatal
 *   alert, a packet that cannot be framed) is told once, as `{ssl_error, S, Reason}` (followed
 *   by `{ssl_closed, S}` in 3.9's words) or as the next `recv`'s `{error, Reason}`; `closed`
 *   after that. A stream that cannot be framed destroys the connection, as gen_tcp and OTP's
 *   `ssl` close it; the API's words name the reason (`emsgsize`, `{invalid_packet, Bytes}`).
 * - Sends waiting for the TLS socket to drain, and waiting `recv`s, get `{error, closed}` when
 *   the connection ends or the socket closes.
 */
import { error, ok, tuple, type Term } from "../etf/terms.js";
import type { EndWords } from "./endpoint.js";
import { badcall, fail, reason, type FailureDetail } from "./errors.js";
import { ACTIVE_MAX, type Active } from "./options.js";
import { Framer, FramingError, type FramingOptions } from "./packet/framer.js";

/** Names a waiting caller (a recv, or a send waiting for drain); the socket picks it. */
export type CallId = number;

export type SocketEvent =
  /** The handshake is done: the TLS socket exists, paused. */
  | { readonly type: "started" }
  /** Decrypted bytes from the peer. */
  | { readonly type: "data"; readonly chunk: Uint8Array }
  /**
   * Nothing more will come: the peer closed (`reason` undefined) or the connection failed.
   * `rest` is what the paused TLS socket had decrypted before, delivered first.
   */
  | { readonly type: "end"; readonly reason: Term | undefined; readonly detail?: FailureDetail; readonly rest: readonly Uint8Array[] }
  /** setopts/2: the framing in force after it, and `active` if it was given. */
  | { readonly type: "setopts"; readonly framing: FramingOptions; readonly active: Active | undefined }
  /** recv/2,3; `request` is the call, for a badcall. */
  | { readonly type: "recv"; readonly id: CallId; readonly length: number; readonly request: Term }
  | { readonly type: "recv_timeout"; readonly id: CallId }
  /** The caller of a waiting recv exited: the recv goes, and takes no packet. */
  | { readonly type: "caller_gone"; readonly id: CallId }
  /** shutdown(S, read): nothing more is read or delivered. */
  | { readonly type: "shutdown_read" }
  /** The distribution connection to the owner's node is backed up / has drained. */
  | { readonly type: "owner_backed_up" }
  | { readonly type: "owner_drained" }
  /** controlling_process/2: the owner, and so the owner's node, changed. */
  | { readonly type: "owner_changed" }
  /** A send wrote past the TLS socket's high-water mark, and waits for it to drain. */
  | { readonly type: "send_blocked"; readonly id: CallId }
  | { readonly type: "send_drained"; readonly id: CallId }
  /** The socket's process ended (close/1, the owner's exit, the node stopping). */
  | { readonly type: "close" };

/** A message for the owner, as `{ssl, S, Data}`, `{ssl_passive, S}`, `{ssl_error, S, R}`, `{ssl_closed, S}`. */
export type OwnerMessage =
  | { readonly kind: "ssl"; readonly data: Term }
  | { readonly kind: "ssl_passive" }
  | { readonly kind: "ssl_error"; readonly reason: Term }
  | { readonly kind: "ssl_closed" };

export type SocketAction =
  | { readonly type: "to_owner"; readonly message: OwnerMessage }
  | { readonly type: "reply"; readonly id: CallId; readonly reply: Term }
  /** Read the TLS socket (resume) or not (pause); given only when it changes. */
  | { readonly type: "read"; readonly on: boolean }
  /** Call `owner_drained` once the owner's connection drains. */
  | { readonly type: "watch_owner_drain" }
  /** The stream cannot be framed: drop the connection. */
  | { readonly type: "destroy" };

/** How many decrypted bytes a socket holds, by default, for an owner that is not asking for them. */
const READ_AHEAD = 64 * 1024;

interface Recv {
  readonly id: CallId;
  readonly length: number;
}

export class SocketMachine {
  readonly #framer: Framer;
  readonly #words: () => EndWords;
  #active: Active;
  readonly #recvs: Recv[] = [];
  readonly #sends = new Set<CallId>();
  #started = false;
  #closed = false;
  /**
   * Set when nothing more will come from the peer: undefined reason = it closed cleanly;
   * `invalid` = the bytes that could not be framed.
   */
  #ended: { reason: Term | undefined; detail?: FailureDetail; invalid?: Uint8Array } | undefined;
  /** `{ssl_closed, S}` has been sent. */
  #closedSent = false;
  /** The end's reason has been told, as `{ssl_error, S, R}` or as a recv's `{error, R}`. */
  #reasonTold = false;
  #readShut = false;
  #ownerBackedUp = false;
  #watchingDrain = false;
  #reading = false;
  /** The actions of the event being handled. */
  #out: SocketAction[] = [];

  /**
   * `words` gives the API's words for the end at the time it is told (the API may set them
   * after); `readAhead` bounds what is read while nobody wants data.
   */
  constructor(
    framing: FramingOptions,
    active: Active,
    words: () => EndWords,
    readonly readAhead = READ_AHEAD,
  ) {
    this.#framer = new Framer(framing);
    this.#active = active;
    this.#words = words;
  }

  /** The framing in force, for the packets this socket sends. */
  get framing(): Readonly<FramingOptions> {
    return this.#framer.options;
  }

  get active(): Active {
    return this.#active;
  }

  /** Nothing more will come from the peer. */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  get readShut(): boolean {
    return this.#readShut;
  }

  /**
   * Reading for an owner in `{active, true}` or `{active, N}` while its connection was keeping
   * up: the socket should say `owner_backed_up` when it no longer does.
   */
  get pacedByOwner(): boolean {
    return this.#reading && (this.#active === true || typeof this.#active === "number") && !this.#ownerBackedUp;
  }

  /**
   * Handles one event; the actions are to be carried out in order. Throws SslError, changing
   * nothing, for a setopts or recv that the socket refuses (einval, badcall).
   */
  handle(event: SocketEvent): SocketAction[] {
    this.#out = [];
    this.#on(event);
    const out = this.#out;
    this.#out = [];
    return out;
  }

  #on(e: SocketEvent): void {
    switch (e.type) {
      case "started":
        this.#started = true;
        return this.#pump();
      case "data":
        if (this.#readShut || this.#closed) return;
        this.#framer.push(e.chunk);
        return this.#pump();
      case "end":
        if (this.#ended !== undefined) return;
        if (!this.#readShut) for (const chunk of e.rest) this.#framer.push(chunk);
        this.#ended = { reason: e.reason, detail: e.detail };
        this.#failSends();
        return this.#pump();
      case "setopts":
        return this.#setopts(e.framing, e.active);
      case "recv":
        return this.#recv(e.id, e.length, e.request);
      case "recv_timeout":
        return this.#withdraw(e.id, tuple(error, reason.timeout));
      case "caller_gone":
        return this.#withdraw(e.id, tuple(error, reason.closed));
      case "shutdown_read":
        this.#readShut = true;
        this.#framer.discard();
        for (const r of this.#recvs.splice(0)) this.#reply(r.id, tuple(error, reason.closed));
        return this.#flow();
      case "owner_backed_up":
        this.#ownerBackedUp = true;
        if (!this.#watchingDrain) {
          this.#watchingDrain = true;
          this.#out.push({ type: "watch_owner_drain" });
        }
        return this.#flow();
      case "owner_drained":
        this.#watchingDrain = false;
        this.#ownerBackedUp = false;
        return this.#pump();
      case "owner_changed":
        // The new owner's node is asked afresh; a watch of the old one's may still end, harmlessly.
        this.#watchingDrain = false;
        this.#ownerBackedUp = false;
        return this.#flow();
      case "send_blocked":
        if (this.#ended !== undefined || this.#closed) this.#reply(e.id, tuple(error, reason.closed));
        else this.#sends.add(e.id);
        return;
      case "send_drained":
        if (this.#sends.delete(e.id)) this.#reply(e.id, ok);
        return;
      case "close":
        this.#closed = true;
        for (const r of this.#recvs.splice(0)) this.#reply(r.id, tuple(error, reason.closed));
        this.#failSends();
        return;
    }
  }

  #setopts(framing: FramingOptions, asked: Active | undefined): void {
    let active = this.#active;
    if (typeof asked === "number") {
      active = (typeof this.#active === "number" ? this.#active : 0) + asked;
      if (active > ACTIVE_MAX) fail(reason.einval, "active count over 32767");
    } else if (asked !== undefined) active = asked;
    this.#framer.setOptions(framing);
    this.#active = active;
    if (typeof active === "number" && active <= 0) this.#goPassive();
    this.#pump();
  }

  #recv(id: CallId, length: number, request: Term): void {
    // Once {ssl_closed, S} has gone out there is nothing left to be active for: gen_tcp's recv
    // after {tcp_closed, S} says closed, whatever `active` is.
    if (this.#closedSent) return this.#reply(id, tuple(error, reason.closed));
    if (this.#active !== false) throw badcall(request);
    if (this.#readShut) return this.#reply(id, tuple(error, reason.closed));
    if (length > 0 && this.#framer.options.packet !== "raw") fail(reason.einval);
    this.#recvs.push({ id, length });
    this.#pump();
  }

  #withdraw(id: CallId, reply: Term): void {
    const i = this.#recvs.findIndex((r) => r.id === id);
    if (i < 0) return;
    this.#recvs.splice(i, 1);
    this.#reply(id, reply);
    this.#flow();
  }

  #reply(id: CallId, reply: Term): void {
    this.#out.push({ type: "reply", id, reply });
  }

  #toOwner(message: OwnerMessage): void {
    this.#out.push({ type: "to_owner", message });
  }

  /** Delivers every packet the owner or a recv may have now, then decides whether to read on. */
  #pump(): void {
    if (this.#closed) return;
    try {
      for (;;) {
        if (this.#active !== false) {
          const packet = this.#framer.next();
          if (packet === undefined) break;
          this.#deliver(packet);
        } else {
          const r = this.#recvs[0];
          if (r === undefined) break;
          // A recv(S, N > 0) that a setopts to a packet type overtook waits, and times out, as
          // gen_tcp's does: a packet is not N bytes. The next recv(S, 0) gets the packet.
          if (r.length > 0 && this.#framer.options.packet !== "raw") break;
          const packet = this.#framer.take(r.length);
          if (packet === undefined) break;
          this.#recvs.shift();
          this.#reply(r.id, tuple(ok, packet));
        }
      }
    } catch (err) {
      if (!(err instanceof FramingError)) throw err;
      // gen_tcp closes a socket whose packets cannot be framed, and delivers nothing more.
      const invalid = this.#framer.discard();
      this.#out.push({ type: "destroy" });
      this.#ended = { reason: err.reason, invalid };
      this.#failSends();
    }
    if (this.#ended !== undefined) this.#reportEnd();
    this.#flow();
  }

  #deliver(packet: Term): void {
    this.#toOwner({ kind: "ssl", data: packet });
    if (this.#active === "once") this.#active = false;
    else if (typeof this.#active === "number") {
      this.#active -= 1;
      if (this.#active <= 0) this.#goPassive();
    }
  }

  /**
   * `{active, N}` ran out: passive, and the owner is told (OTP 17+), unless it was told the
   * socket closed: gen_tcp sends nothing after `{tcp_closed, S}`.
   */
  #goPassive(): void {
    this.#active = false;
    if (!this.#closedSent) this.#toOwner({ kind: "ssl_passive" });
  }

  /** Sends waiting for the socket to drain: it never will. */
  #failSends(): void {
    for (const id of this.#sends) this.#reply(id, tuple(error, reason.closed));
    this.#sends.clear();
  }

  #reportEnd(): void {
    if (this.#active !== false) {
      if (this.#closedSent) return;
      const rest = this.#framer.drainOnClose();
      if (rest !== undefined) this.#deliver(rest);
      const why = this.#tellEnd();
      if (why !== reason.closed) this.#toOwner({ kind: "ssl_error", reason: why });
      if (why === reason.closed || this.#words().closedAfterError) this.#toOwner({ kind: "ssl_closed" });
      this.#closedSent = true;
      return;
    }
    // Passive: recv(S, 0) gets the raw rest; a recv that wants more than there is gets closed.
    while (this.#recvs.length > 0) {
      const r = this.#recvs.shift()!;
      const rest = this.#framer.drainOnClose();
      this.#reply(r.id, rest !== undefined && r.length === 0 ? tuple(ok, rest) : tuple(error, this.#tellEnd()));
    }
  }

  /** The end's reason the first time it is told; closed after that, and for a clean close. */
  #tellEnd(): Term {
    const ended = this.#reasonTold ? undefined : this.#ended!;
    this.#reasonTold = true;
    if (ended?.invalid !== undefined) return this.#words().invalidPacket(ended.invalid);
    return ended?.reason === undefined ? reason.closed : this.#words().reason(ended.reason, ended.detail);
  }

  /**
   * Reads from TLS while someone wants data and the owner's connection keeps up, and while
   * passive up to `readAhead` buffered bytes.
   */
  #flow(): void {
    if (!this.#started || this.#closed || this.#ended !== undefined) return;
    const want =
      !this.#readShut &&
      (this.#active === false
        ? this.#recvs.length > 0 || this.#framer.buffered < this.readAhead
        : this.#active === "once" || !this.#ownerBackedUp);
    if (want === this.#reading) return;
    this.#reading = want;
    this.#out.push({ type: "read", on: want });
  }
}
