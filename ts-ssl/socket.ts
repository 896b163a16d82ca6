/**
 * A connected ssl socket (made by `connect` or by `transport_accept` + `ssl_accept`): the
 * handshake, sending, options and the session's facts. What the peer sends is delivered by the
 * rules of socket-machine.ts (active and passive mode, framed as gen_tcp frames it, the end told
 * once, reading paced by the owner); this class gives the machine node:tls's events and carries
 * out its actions.
 */
import type { X509Certificate } from "node:crypto";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import type { Node, Process } from "../bridge/api.js";
import { atom, charlist, error, ok, tuple, type Pid, type Term } from "../etf/terms.js";
import { ipTuple } from "./args.js";
import type { TlsSetup } from "./context.js";
import { Endpoint, type SocketTable } from "./endpoint.js";
import { errorCode, fail, reason, reasonOf, SslError, type FailureDetail } from "./errors.js";
import { injectFault } from "./fault.js";
import { acceptTls, connectTls, peerCertificate, type ConnectTarget, type StreamTarget } from "./handshake.js";
import { activeTerm, Options, protocols, type SocketKind } from "./options.js";
import { framePacket, FramingError, largestPacket } from "./packet/framer.js";
import { SocketMachine, type CallId, type OwnerMessage, type SocketEvent } from "./socket-machine.js";

const ssl = atom("ssl");
const sslClosed = atom("ssl_closed");
const sslError = atom("ssl_error");
const sslPassive = atom("ssl_passive");
const sendLimitNotice = atom("ts_ssl_send_limit");
const sendFlushNotice = atom("ts_ssl_send_flush");
const sendAtom = atom("send");
const infinity = atom("infinity");
/** The largest plaintext a TLS record carries (RFC 8446, 5.1; RFC 5246, 6.2.1). */
const TLS_RECORD = 16 * 1024;

/**
 * The process that sends each node's send-limit notices. It sends nothing else, so it never has
 * a large message being written in fragments: a notice it sends leaves before anything any
 * other process of the bridge sends after it (a reply, `{ssl_closed, S}`).
 */
const notifiers = new WeakMap<Node, Process>();

function notifier(node: Node): Process {
  let p = notifiers.get(node);
  if (p === undefined || !p.alive) {
    p = node.spawn({ message: () => {} });
    notifiers.set(node, p);
  }
  return p;
}

export interface ModernSession {
  readonly cipherStandardName: string | undefined;
  readonly alpn: string | undefined;
  readonly serverName: string | undefined;
}

type State = "accepted" | "handshaking" | "open";

export class SslSocket extends Endpoint {
  readonly kind: SocketKind;
  #state: State;
  /** An accepted TCP connection (or a stream of one made elsewhere) until its handshake. */
  #raw: Socket | Duplex | undefined;
  /** An accepted socket's TLS settings, the listener's. */
  #setup: TlsSetup | undefined;
  #tls: TLSSocket | undefined;
  #options: Options;
  /** The receive and close rules (socket-machine.ts); this class carries out what it decides. */
  readonly #machine: SocketMachine;
  /** Callers waiting for the machine's reply: recvs, and sends waiting for drain. */
  readonly #calls = new Map<CallId, (reply: Term) => void>();
  #nextCall = 0;
  #corked = false;
  /**
   * The stub's sender processes of this socket (ts_ssl_sender), watched so that the set does
   * not keep dead ones, and the send limit they were last told, with its version.
   */
  readonly #senders = new Map<string, { readonly pid: Pid; flushed?: () => void }>();
  #sendLimit = { version: 0, limit: 0 };
  /** The bridge is stopping: no send is safe to answer early any more (see `flushSenders`). */
  #stopping = false;
  /** Aborts the handshake of `connect` when the socket closes before it is done. */
  #abandon: AbortController | undefined;
  /** What the handshake settled, kept for after the connection is gone. */
  #session: { protocol: Term | undefined; cipher: string | undefined; peerCert: X509Certificate | undefined } | undefined;
  /** The modern API's facts of the session (otp-api.ts): IANA's cipher name, ALPN, SNI. */
  #modernSession: ModernSession | undefined;
  /** `getstat/1,2`: application data packets and bytes each way. */
  readonly #stats = { recvCnt: 0, recvMax: 0, sendCnt: 0, sendMax: 0 };
  /** The addresses of a TCP connection made elsewhere (`connect` over a stream): node:tls has none. */
  #addresses: StreamTarget["peer" | "local"][] | undefined;
  /** The TCP connection's bytes each way when last seen (node:tls drops its handle at the end). */
  #wire = { read: 0, written: 0 };
  /**
   * The last answers of peername/1 (0) and sockname/1 (1) with what they were made from: the
   * same address and port give the same term, made once rather than parsed on every call.
   */
  readonly #answered: Array<{ address: string; port: number; term: Term } | undefined> = [undefined, undefined];

  private constructor(table: SocketTable, owner: Pid, kind: SocketKind, options: Options, state: State) {
    super(table, owner);
    this.kind = kind;
    this.#state = state;
    this.#options = options;
    this.#machine = new SocketMachine(options.socket.framing, options.socket.active, () => this.words);
  }

  /**
   * `connect/3,4` for `owner`, linked from the start: the owner's exit during the handshake
   * abandons it and closes the TCP connection (as a call into gen_tcp dies with its caller). A
   * connect that fails unlinks before it closes, so that a caller that traps exits gets no exit
   * signal. (Linking at once, rather than watching the caller until the handshake is done, spares
   * a monitor and a demonitor across the distribution connection on every connect.)
   */
  static async connect(
    table: SocketTable,
    owner: Pid,
    target: ConnectTarget,
    setup: TlsSetup,
    options: Options,
    signal: AbortSignal | undefined,
  ): Promise<SslSocket> {
    const s = new SslSocket(table, owner, "connect", options, "handshaking");
    if ("stream" in target) s.#addresses = [target.peer, target.local];
    const abandon = new AbortController();
    s.#abandon = abandon;
    s.linkOwner();
    // The deadline ends the handshake through the one signal it listens to.
    const onDeadline = () => abandon.abort(signal?.reason);
    if (signal?.aborted) onDeadline();
    else signal?.addEventListener("abort", onDeadline, { once: true });
    try {
      const tls = await connectTls(target, setup, abandon.signal);
      s.#abandon = undefined;
      if (!s.open) {
        tls.destroy();
        fail(reason.closed);
      }
      s.#state = "open";
      s.#start(tls);
      return s;
    } catch (err) {
      s.process.unlink(owner);
      s.close();
      throw err;
    } finally {
      signal?.removeEventListener("abort", onDeadline);
    }
  }

  /** `transport_accept/1,2`: a TCP connection; TLS starts at `ssl_accept`. */
  static accepted(table: SocketTable, owner: Pid, raw: Socket | StreamTarget, options: Options, setup: TlsSetup): SslSocket {
    const s = new SslSocket(table, owner, "accept", options, "accepted");
    s.linkOwner();
    if ("stream" in raw) s.#addresses = [raw.peer, raw.local];
    const connection = "stream" in raw ? raw.stream : raw;
    s.#raw = connection;
    s.#setup = setup;
    connection.on("error", () => {});
    if (!s.open) connection.destroy();
    return s;
  }

  /**
   * `ssl_accept/1,2`. A failed handshake closes the socket (3.9: the socket is then unusable).
   * `own`: this connection's options and TLS settings, in place of the listener's (the modern
   * API's `handshake/3`).
   */
  async sslAccept(signal: AbortSignal | undefined, own?: { readonly options: Options; readonly setup: TlsSetup }): Promise<void> {
    if (this.#state !== "accepted" || this.#raw === undefined || this.#setup === undefined) fail(reason.ebadstate);
    if (own !== undefined) {
      this.#options = own.options;
      this.#setup = own.setup;
    }
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
    const cipher = tls.getCipher();
    this.#session = {
      protocol: [...protocols].find(([, v]) => v === version)?.[0],
      cipher: cipher?.name,
      // A reference to OpenSSL's copy, which outlives the connection; its DER is made only when
      // peercert asks (getPeerCertificate would parse every field of it on every connection).
      peerCert: peerCertificate(tls),
    };
    const servername = (tls as { servername?: unknown }).servername;
    this.#modernSession = {
      cipherStandardName: cipher?.standardName,
      alpn: typeof tls.alpnProtocol === "string" ? tls.alpnProtocol : undefined,
      serverName: typeof servername === "string" ? servername : undefined,
    };
    tls.pause();
    this.#applyTcpOptions(this.#options);
    const side = this.kind === "accept" ? "accept" : "connect";
    tls.on("error", this.guarded((err: Error) => this.#end(reasonOf(err, "transfer"), { code: errorCode(err) ?? "UNKNOWN", phase: side })));
    tls.on("end", this.guarded(() => this.#end(undefined)));
    tls.on("close", this.guarded(() => this.#end(undefined)));
    tls.on("data", this.#onData);
    this.#run({ type: "started" });
  }

  readonly #onData = this.guarded((chunk: Buffer): void => {
    injectFault(chunk);
    if (this.#machine.readShut) return;
    this.#stats.recvCnt += 1;
    this.#stats.recvMax = Math.max(this.#stats.recvMax, chunk.length);
    this.#run({ type: "data", chunk });
  });

  // ---- receiving

  /** `recv/2,3` for `caller`. */
  recv(length: number, signal: AbortSignal | undefined, caller: Pid, request: Term): Promise<Term> {
    if (this.#state !== "open") fail(reason.ebadstate);
    const id = this.#nextCall++;
    let unwatch: (() => void) | undefined;
    const onAbort = () => this.#run({ type: "recv_timeout", id });
    const answer = new Promise<Term>((resolve) => {
      this.#calls.set(id, (reply) => {
        signal?.removeEventListener("abort", onAbort);
        unwatch?.();
        resolve(reply);
      });
    });
    try {
      this.#run({ type: "recv", id, length, request });
    } catch (err) {
      this.#calls.delete(id);
      throw err;
    }
    if (!this.#calls.has(id)) return answer;
    // It waits: a timeout, or the caller's exit, withdraws it (the caller gets no reply then).
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    if (this.#calls.has(id)) unwatch = this.watch(caller, () => this.#run({ type: "caller_gone", id }));
    return answer;
  }

  /** Gives the machine an event and carries out what it says. */
  #run(event: SocketEvent): void {
    const actions = this.#machine.handle(event);
    // Before the owner or a caller can hear of what changed.
    this.#tellSenders();
    for (const action of actions) {
      switch (action.type) {
        case "to_owner":
          this.toOwner(this.#ownerMessage(action.message));
          break;
        case "reply": {
          const done = this.#calls.get(action.id);
          this.#calls.delete(action.id);
          done?.(action.reply);
          break;
        }
        case "read":
          if (action.on) this.#tls?.resume();
          else this.#tls?.pause();
          break;
        case "watch_owner_drain":
          void this.table.node.whenDrained(this.owner.node).then(this.guarded(() => this.#run({ type: "owner_drained" })));
          break;
        case "destroy":
          this.#tls?.destroy();
          break;
      }
    }
    // What was just delivered may have backed the owner's connection up.
    if (this.#machine.pacedByOwner && this.open && this.table.node.isBackedUp(this.owner.node)) this.#run({ type: "owner_backed_up" });
  }

  #ownerMessage(m: OwnerMessage): Term {
    switch (m.kind) {
      case "ssl":
        return tuple(ssl, this.term, m.data);
      case "ssl_passive":
        return tuple(sslPassive, this.term);
      case "ssl_error":
        return tuple(sslError, this.term, m.reason);
      case "ssl_closed":
        return tuple(sslClosed, this.term);
    }
  }

  /** The peer has closed or the connection failed. */
  #end(why: Term | undefined, detail?: FailureDetail): void {
    if (this.#machine.ended) return;
    // A paused TLS socket may hold data it decrypted before the close or reset: it came from the
    // peer before the end, so it is delivered first, as gen_tcp delivers what it read before an
    // error. (read() would also emit 'data' before 'close' has been emitted: hence the `off`.)
    const tls = this.#tls!;
    tls.off("data", this.#onData);
    const rest: Buffer[] = [];
    for (let chunk: Buffer | null; (chunk = tls.read() as Buffer | null) !== null; ) rest.push(chunk);
    this.#run({ type: "end", reason: why, detail, rest });
  }

  // ---- sending

  /** `send/2`. Answers once the bytes are queued below node:tls's high-water mark, or written out. */
  send(data: Uint8Array): Promise<Term> | Term {
    if (this.#state !== "open") fail(reason.ebadstate);
    const tls = this.#tls!;
    // 3.9 answered every send failure with closed.
    if (this.#machine.ended || !tls.writable) return tuple(error, reason.closed);
    let parts: Uint8Array[];
    try {
      parts = framePacket(data, this.#machine.framing);
    } catch (err) {
      if (err instanceof FramingError) fail(err.reason);
      throw err;
    }
    if (parts.length === 0) return ok;
    // Small writes of one event-loop turn leave together, in as few records as they fit. A send
    // of a full record or more goes at once, after those: node:tls copies writes gathered by a
    // cork into one buffer before it encrypts them, which for 64 KiB sends cost more CPU than
    // writing each alone (about 80 against 57 ms per 64 MiB, measured with node:tls alone).
    if (data.length >= TLS_RECORD) this.#uncork();
    else if (!this.#corked) {
      this.#corked = true;
      tls.cork();
      process.nextTick(() => this.#uncork());
    }
    let below = true;
    this.#stats.sendCnt += 1;
    this.#stats.sendMax = Math.max(this.#stats.sendMax, data.length);
    // A send that leaves node:tls's buffer above its high-water mark is answered once its own
    // bytes have been written out (node:tls calls back in order), not once the whole buffer has
    // drained: the sends queued behind it are those of a send window, and the caller's next
    // send can be on its way while they go out.
    const id = this.#nextCall++;
    const last = parts.length - 1;
    for (let i = 0; i <= last; i++) below = tls.write(parts[i]!, i === last ? this.#written(id) : undefined);
    if (below) return ok;
    const answer = new Promise<Term>((resolve) => this.#calls.set(id, resolve));
    this.#run({ type: "send_blocked", id });
    return answer;
  }

  /** Lets go the writes held since the turn's first small send, if they still are. */
  #uncork(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#tls!.uncork();
  }

  /** The write callback of send `id`: answers it if it waits; a failed write ends the connection, which answers it. */
  #written(id: CallId): (err?: Error | null) => void {
    return this.guarded((err?: Error | null) => {
      if (err == null && this.#calls.has(id)) this.#run({ type: "send_drained", id });
    });
  }

  /**
   * The largest send this socket would take now without an error: 0 once it cannot send (not
   * open yet, closed, the peer's end, `shutdown(S, write)`), the length field's limit under
   * `{packet, 1 | 2 | 4}`, else Infinity.
   */
  #currentSendLimit(): number {
    if (this.#state !== "open" || !this.open || this.#stopping || this.#machine.ended || this.#tls?.writable !== true) return 0;
    return largestPacket(this.#machine.framing);
  }

  /**
   * A send of `sender` arrived, before it is carried out: the sender is told of every later
   * change of the limit until it or the socket ends. `flush`: it is the sender's answer to
   * `flushSenders`, so a flush waiting for it is done.
   */
  heardFrom(sender: Pid, flush: boolean): void {
    const key = sender.toString() + String(sender.creation);
    const known = this.#senders.get(key);
    if (known !== undefined) {
      if (flush) known.flushed?.();
    } else if (this.open) {
      this.#senders.set(key, { pid: sender });
      this.watch(sender, () => {
        this.#senders.get(key)?.flushed?.();
        this.#senders.delete(key);
      });
    }
  }

  /** `{Version, Limit}` of the send limit, for an acknowledgement. */
  get sendLimit(): [number, Term] {
    this.#tellSenders();
    const { version, limit } = this.#sendLimit;
    return [version, limit === Infinity ? infinity : limit];
  }

  /**
   * Resolves once every sender has shown that no send it answered `ok` for is still on its way
   * (asked with `{ts_ssl_send_flush, {send, S, <<>>}}`, it sends that empty send, with the reply
   * tag `flush`, after its others), or has ended, or the socket has. For the bridge's shutdown,
   * which closes the sockets after that: the senders are first told that no send is safe any
   * more, so those that follow wait for their own replies.
   */
  flushSenders(): Promise<void> {
    this.#stopping = true;
    this.#tellSenders();
    const notice = tuple(sendFlushNotice, tuple(sendAtom, this.term, new Uint8Array(0)));
    const from = notifier(this.table.node);
    return Promise.all(
      [...this.#senders.values()].map(
        (sender) =>
          new Promise<void>((resolve) => {
            sender.flushed = resolve;
            from.send(sender.pid, notice);
          }),
      ),
    ).then(() => {});
  }

  /** How many senders the socket knows (they end with their callers). */
  get senderCount(): number {
    return this.#senders.size;
  }

  /** A notice `{ts_ssl_send_limit, S, Version, Limit}` to each sender when the limit changed. */
  #tellSenders(): void {
    const limit = this.#currentSendLimit();
    if (limit === this.#sendLimit.limit) return;
    this.#sendLimit = { version: this.#sendLimit.version + 1, limit };
    if (this.#senders.size === 0) return;
    const notice = tuple(sendLimitNotice, this.term, this.#sendLimit.version, limit === Infinity ? infinity : limit);
    const from = notifier(this.table.node);
    for (const { pid } of this.#senders.values()) from.send(pid, notice);
  }

  /** controlling_process/2; the new owner's node may keep up where the old one's did not. */
  override changeOwner(caller: Pid, newOwner: Pid, request: Term): void {
    super.changeOwner(caller, newOwner, request);
    this.#run({ type: "owner_changed" });
  }

  // ---- options and facts

  /** `setopts/2`: socket options only (ssl options are eoptions, as in 3.9). */
  setopts(list: Term): void {
    const changes = Options.parse(list, "setopts");
    const merged = this.#options.merge(changes);
    // A setopts the machine refuses (an active count over the limit) changes no option.
    this.#run({ type: "setopts", framing: merged.socket.framing, active: changes.has("active") ? changes.socket.active : undefined });
    this.#options = merged;
    this.#applyTcpOptions(changes);
  }

  /** The TCP-level options among `given`, set on the connection (node:tls passes them down). */
  #applyTcpOptions(given: Options): void {
    const tls = this.#tls;
    if (tls === undefined) return;
    if (given.has("nodelay")) tls.setNoDelay(this.#options.socket.nodelay);
    if (given.has("keepalive")) tls.setKeepAlive(this.#options.socket.keepalive);
  }

  getopts(tags: Term): Term[] {
    return this.#options.with("active", activeTerm(this.#machine.active)).getopts(tags, this.kind);
  }

  get options(): Options {
    return this.#options;
  }

  #network(): Socket | Duplex | undefined {
    return this.#tls ?? this.#raw;
  }

  /** The TCP connection's own socket, for its addresses: a stream of one has them in `#addresses`. */
  #tcp(): Socket | undefined {
    return this.#addresses === undefined ? (this.#network() as Socket | undefined) : undefined;
  }

  peername(): Term {
    return this.#address(0);
  }

  sockname(): Term {
    return this.#address(1);
  }

  /**
   * `{ok, {Address, Port}}` of the peer's end (0) or ours (1): from the TCP socket, or those
   * given with a connection made elsewhere. The term is made once per address and port.
   */
  #address(which: 0 | 1): Term {
    const given = this.#addresses?.[which];
    const s = given === undefined ? this.#tcp() : undefined;
    const address = given?.address ?? (which === 0 ? s?.remoteAddress : s?.localAddress);
    const port = given?.port ?? (which === 0 ? s?.remotePort : s?.localPort);
    if (address === undefined || port === undefined) fail(reason.enotconn);
    const last = this.#answered[which];
    if (last !== undefined && last.address === address && last.port === port) return last.term;
    const term = tuple(ok, tuple(ipTuple(address), port));
    this.#answered[which] = { address, port, term };
    return term;
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
    return tuple(ok, session.peerCert.raw);
  }

  // ---- the modern API's extras (otp-api.ts)

  /**
   * `shutdown/2`: `write` sends close_notify and FIN, and reading goes on until the peer closes;
   * `read` stops reading and delivering.
   */
  shutdown(how: "read" | "write" | "read_write"): void {
    if (this.#state !== "open") fail(reason.enotconn);
    const tls = this.#tls!;
    if (how !== "read") {
      if (this.#machine.ended || !tls.writable) fail(reason.enotconn);
      tls.end();
      this.#tellSenders();
    }
    if (how !== "write") this.#run({ type: "shutdown_read" });
  }

  /** The modern session's facts; undefined before the handshake. */
  get modernSession(): ModernSession | undefined {
    return this.#modernSession;
  }

  /**
   * `getstat/1,2`'s counters, inet's names: bytes as they crossed the TCP connection (the
   * handshake and TLS records included), as OTP's `ssl` counts them; packets and sizes as the
   * application sent and received them (node:tls counts no TCP packets).
   */
  statistics(): Record<string, number> {
    const tls = this.#tls;
    const st = this.#stats;
    // node:tls's TLSSocket counts application bytes; the TCP handle under it counts the wire's.
    const tcp = (tls as { _handle?: { _parent?: { bytesRead?: unknown; bytesWritten?: unknown } } } | undefined)?._handle?._parent;
    if (typeof tcp?.bytesRead === "number" && typeof tcp.bytesWritten === "number") this.#wire = { read: tcp.bytesRead, written: tcp.bytesWritten };
    const recvOct = this.#wire.read;
    const sendOct = this.#wire.written;
    return {
      recv_oct: recvOct,
      recv_cnt: st.recvCnt,
      recv_max: st.recvMax,
      recv_avg: st.recvCnt === 0 ? 0 : Math.floor(recvOct / st.recvCnt),
      recv_dvi: 0,
      send_oct: sendOct,
      send_cnt: st.sendCnt,
      send_max: st.sendMax,
      send_avg: st.sendCnt === 0 ? 0 : Math.floor(sendOct / st.sendCnt),
      send_pend: tls?.writableLength ?? 0,
    };
  }

  protected release(): void {
    this.#abandon?.abort(new SslError(reason.closed, "closed during handshake"));
    this.#run({ type: "close" });
    // Its monitors of the senders went with the process: a flush waits for none of them now.
    for (const sender of this.#senders.values()) sender.flushed?.();
    // The peer sees a TLS close (close_notify, then FIN) after what was written so far.
    const socket = this.#network();
    if (socket === undefined || socket.closed) {
      this.settle();
      return;
    }
    socket.once("close", this.settle);
    if (socket === this.#tls) this.#tls.destroySoon();
    else socket.destroy();
  }
}
