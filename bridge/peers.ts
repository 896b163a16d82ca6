/**
 * `PeerManager`: the connections of a node to other nodes. It listens for and dials
 * distribution connections (through the `DistTransport` it is given: TCP or TLS), runs the handshake,
 * decides which of two simultaneous attempts wins, installs the connection, logs refused peers
 * as OTP does, and hands the signals that arrive to the local runtime. Signals for a node still
 * being connected to wait in order until its connection is up.
 */
import { randomBytes, randomInt } from "node:crypto";
import type { Server, Socket } from "node:net";
import { atom, Pid, Ref, type Atom } from "../etf/terms.js";
import type { Signal } from "./control.js";
import { Connection, type ConnectionHandler } from "./connection.js";
import { lookup } from "./epmd-client.js";
import { OUR_FLAGS, REQUIRED_FLAGS } from "./flags.js";
import { HandshakeError, acceptHandshake, connectHandshake, type Admission, type HandshakeResult } from "./handshake.js";
import type { Logger } from "./log.js";
import { splitNodeName } from "./names.js";
import { addressee, type Peers, type ProcessRuntime } from "./runtime.js";
import { listenInRange, type DistTransport } from "./dist-transport.js";
import { SocketTransport } from "./transport.js";

export interface PeerOptions {
  cookie: string;
  epmdPort: number;
  netTickTimeMs: number;
  maxMessageSize: number;
  highWaterMark: number;
  setupTimeMs: number;
  /** What carries distribution: TCP or TLS (dist-transport.ts). */
  transport: DistTransport;
}

type Peer =
  | { state: "up"; conn: Connection }
  | { state: "pending"; queue: Array<{ sender: number; sig: Signal }>; waiters: Array<() => void> };

/** Signals queued for a node still being connected to, above which it counts as backed up. */
const PENDING_HIGH_WATER = 1024;

export class PeerManager implements Peers {
  readonly #local: ProcessRuntime;
  readonly #options: PeerOptions;
  readonly #log: Logger;
  #server: Server | undefined;
  readonly #peers = new Map<Atom, Peer>();
  readonly #sockets = new Set<Socket>();
  #stopping = false;

  constructor(local: ProcessRuntime, options: PeerOptions) {
    this.#local = local;
    this.#options = options;
    this.#log = local.log;
  }

  /**
   * Listens for distribution connections on the first free port of `range` (0: any free one),
   * on `address` or every interface; the port it got.
   */
  async listen(range: { min: number; max: number }, address: string | undefined): Promise<number> {
    const { transport, setupTimeMs } = this.#options;
    const server = transport.createServer((socket) => void this.#accept(socket), { log: this.#log, setupTimeMs });
    this.#server = server;
    const port = await listenInRange(server, address, range.min, range.max);
    server.on("error", (err) => this.#log.error(`distribution listener: ${err.message}`));
    return port;
  }

  /** The nodes with a connection up, as `nodes(connected)` lists them. */
  connectedNodes(): Atom[] {
    return [...this.#peers].filter(([, p]) => p.state === "up").map(([n]) => n);
  }

  /** `erlang:disconnect_node/1`. */
  disconnect(node: Atom): boolean {
    const p = this.#peers.get(node);
    if (p?.state !== "up") return false;
    p.conn.close("disconnected");
    return true;
  }

  send(node: Atom, sender: number, sig: Signal): void {
    let peer = this.#peers.get(node);
    if (peer === undefined) {
      if (this.#stopping) return;
      peer = this.#dial(node);
    }
    if (peer.state === "up") peer.conn.send(sender, sig);
    else peer.queue.push({ sender, sig });
  }

  isBackedUp(node: Atom): boolean {
    const p = this.#peers.get(node);
    if (p === undefined) return false;
    return p.state === "up" ? p.conn.backedUp : p.queue.length > PENDING_HIGH_WATER;
  }

  whenDrained(node: Atom): Promise<void> {
    const p = this.#peers.get(node);
    if (p === undefined || !this.isBackedUp(node)) return Promise.resolve();
    if (p.state === "up") return p.conn.whenDrained();
    return new Promise((resolve) => p.waiters.push(resolve));
  }

  /** Closes every connection (peers see the node go) and stops listening. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const [node, p] of [...this.#peers]) {
      if (p.state === "up") p.conn.close("stopped", true);
      else this.#failPeer(node, p, "the node is stopping");
    }
    for (const s of this.#sockets) s.destroySoon();
    const server = this.#server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  readonly #handler: ConnectionHandler = {
    signal: (sig, conn) => {
      if (!this.#forUs(sig, conn.peer)) {
        this.#log.warning(`dropping a ${sig.op} signal from ${conn.peer} not addressed to this node`);
        return;
      }
      this.#local.deliver(sig);
    },
    readDone: () => this.#local.run(),
    down: (conn, reason) => {
      const p = this.#peers.get(conn.peer);
      if (p?.state === "up" && p.conn === conn) this.#peers.delete(conn.peer);
      if (!this.#stopping) this.#log.info(`connection to ${conn.peer} down (${reason})`);
      this.#local.nodeDown(conn.peer);
    },
  };

  /** The signal's target is on this node and its sender on the peer it came from. */
  #forUs(sig: Signal, peer: Atom): boolean {
    const to = addressee(sig);
    if ((to instanceof Pid || to instanceof Ref) && to.node !== this.#local.name) return false;
    const from = sig.op === "spawn_reply" ? undefined : sig.from;
    return !(from instanceof Pid) || from.node === peer;
  }

  #install(socket: Socket, hs: HandshakeResult, early: Uint8Array): void {
    const node = atom(hs.peer);
    const before = this.#peers.get(node);
    if (before?.state === "up") before.conn.close("replaced by a new connection");
    const o = this.#options;
    const conn = new Connection(
      socket,
      node,
      hs.peerCreation,
      hs.flags,
      { netTickTimeMs: o.netTickTimeMs, maxMessageSize: o.maxMessageSize, highWaterMark: o.highWaterMark, log: this.#log },
      this.#handler,
      early,
    );
    this.#peers.set(node, { state: "up", conn });
    this.#log.info(`connected to ${node}`);
    if (before?.state === "pending") {
      for (const q of before.queue) conn.send(q.sender, q.sig);
      for (const w of before.waiters) w();
    }
  }

  async #accept(socket: Socket): Promise<void> {
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    this.#track(socket);
    const t = new SocketTransport(socket, this.#options.setupTimeMs, this.#options.transport.handshakeHeader);
    let hs: HandshakeResult;
    try {
      hs = await acceptHandshake(t, {
        name: this.#local.name.name,
        creation: this.#local.creation,
        flags: OUR_FLAGS,
        required: REQUIRED_FLAGS,
        cookie: () => this.#options.cookie,
        admit: (peer, creation) => this.#admit(peer, creation),
        nameMe: (host) => ({ name: `dyn_${randomBytes(6).toString("hex")}@${host}`, creation: randomInt(4, 0xffffffff) }),
      });
    } catch (e) {
      t.abandon();
      this.#handshakeFailed("from", e, socket.remoteAddress);
      return;
    }
    if (this.#stopping) {
      socket.destroy();
      return;
    }
    this.#install(socket, hs, t.detach());
  }

  /** The status for a peer that named itself (dist_util's mark_pending outcomes). */
  #admit(peer: string, creation: number): Admission {
    const p = this.#peers.get(atom(peer));
    if (p === undefined) return "ok";
    if (p.state === "up") {
      // A new creation is a new incarnation: the old connection is dead, whatever TCP says.
      return p.conn.peerCreation === creation ? "alive" : "ok";
    }
    // Both sides are connecting: the greater name keeps its own attempt (as net_kernel does).
    return this.#local.name.name > peer ? "nok" : "ok_simultaneous";
  }

  #dial(node: Atom): Peer {
    const peer: Peer = { state: "pending", queue: [], waiters: [] };
    this.#peers.set(node, peer);
    void this.#connect(node, peer);
    return peer;
  }

  async #connect(node: Atom, peer: Peer): Promise<void> {
    const still = () => this.#peers.get(node) === peer && !this.#stopping;
    const setupTimeMs = this.#options.setupTimeMs;
    let transport: SocketTransport | undefined;
    try {
      const where = splitNodeName(node.name);
      if (where === undefined) throw new Error(`${node} is not a node name`);
      const info = await lookup({ host: where.host, port: this.#options.epmdPort }, where.alive, setupTimeMs);
      // Another connection (the peer's own, accepted meanwhile) may have made this one moot.
      if (!still()) return;
      if (info === undefined) throw new Error(`EPMD on ${where.host} does not know ${where.alive}`);
      if (info.highestVersion < 6 || info.lowestVersion > 6) {
        throw new Error(`${node} speaks distribution versions ${info.lowestVersion}-${info.highestVersion}, not 6`);
      }
      const socket = await this.#options.transport.connect(where.host, info.port, setupTimeMs);
      if (!still()) {
        socket.destroy();
        return;
      }
      this.#track(socket);
      transport = new SocketTransport(socket, setupTimeMs, this.#options.transport.handshakeHeader);
      const hs = await connectHandshake(transport, {
        name: this.#local.name.name,
        creation: this.#local.creation,
        flags: OUR_FLAGS,
        required: REQUIRED_FLAGS,
        peer: node.name,
        cookie: this.#options.cookie,
      });
      const early = transport.detach();
      if (!still()) {
        socket.destroy();
        return;
      }
      this.#install(socket, hs, early);
    } catch (e) {
      transport?.abandon();
      if (e instanceof HandshakeError && e.code === "nok") {
        // The peer's own attempt to reach us wins; it arrives through #accept. Give up on it
        // only if it never does.
        setTimeout(() => {
          if (still()) this.#failPeer(node, peer, "the peer's simultaneous connection never came");
        }, setupTimeMs).unref();
        return;
      }
      this.#handshakeFailed("to", e, node.name);
      if (still()) this.#failPeer(node, peer, (e as Error).message);
    }
  }

  #failPeer(node: Atom, peer: Peer, reason: string): void {
    this.#peers.delete(node);
    if (peer.state === "pending") {
      if (peer.queue.length > 0) this.#log.info(`dropping ${peer.queue.length} signals for ${node}: ${reason}`);
      for (const w of peer.waiters) w();
    }
    this.#local.nodeDown(node);
  }

  #handshakeFailed(direction: "from" | "to", e: unknown, who: string | undefined): void {
    if (!(e instanceof HandshakeError)) {
      this.#log.warning(`connection ${direction} ${who}: ${(e as Error).message ?? String(e)}`);
      return;
    }
    const node = e.peer ?? who ?? "unknown";
    if (e.code === "missing_flags") {
      this.#log.error(
        `** Connection attempt ${direction} node ${node} ${direction === "from" ? "rejected" : "aborted"} ` +
          `at ${e.step} since it cannot handle ${e.missing.join(", ")} **`,
      );
    } else if (e.code === "bad_cookie") {
      this.#log.error(`** Connection attempt ${direction} node ${node} rejected at ${e.step}: invalid digest (wrong cookie) **`);
    } else {
      this.#log.warning(`handshake ${direction} ${node} failed at ${e.step} (${e.code}): ${e.message}`);
    }
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
  }
}
