/**
 * `DistNode`: the bridge as a hidden Erlang node. It registers with EPMD (or serves EPMD itself
 * when none answers), accepts and makes distribution connections, and runs the local processes:
 * every signal between processes, local or remote, goes through `route`, and every signal for a
 * local process through one ordered run queue.
 */
import { randomBytes, randomInt } from "node:crypto";
import type { Server, Socket } from "node:net";
import { formatTerm } from "../etf/format.js";
import { Atom, Pid, Ref, Tuple, atom, isTagged, type Term } from "../etf/terms.js";
import type { Behaviour, Destination, SpawnOptions } from "./api.js";
import type { Signal } from "./control.js";
import { Connection, type ConnectionHandler } from "./connection.js";
import { listenInRange, tcpTransport, type DistTransport } from "./dist-transport.js";
import { lookup } from "./epmd-client.js";
import { EPMD_PORT } from "./epmd.js";
import { OUR_FLAGS, REQUIRED_FLAGS } from "./flags.js";
import { call, reply, serveCalls } from "./gen-server.js";
import {
  HandshakeError,
  acceptHandshake,
  connectHandshake,
  type Admission,
  type HandshakeResult,
} from "./handshake.js";
import { stderrLogger, type Logger } from "./log.js";
import { resolveNodeName, splitNodeName } from "./names.js";
import { LocalProcess, am, type ProcessHost } from "./process.js";
import { RefMap } from "./ref-map.js";
import { EpmdPresence } from "./registration.js";
import { SocketTransport } from "./transport.js";

export interface DistNodeOptions {
  /** `"ts_ssl_bridge"` (the host is added) or `"name@host"`. */
  name: string;
  /** Long names (`-name`) rather than short ones (`-sname`). */
  longNames?: boolean;
  cookie: string;
  /** EPMD's port: default `ERL_EPMD_PORT`, else EPMD's own (4369). */
  epmdPort?: number;
  /** `net_ticktime` in seconds (default 60). */
  netTickTime?: number;
  logger?: Logger;
  /** The distribution port (default: any free one). */
  port?: number;
  /** The first free port of this range, instead of `port` (`inet_dist_listen_min`/`_max`). */
  portRange?: { min: number; max: number };
  /**
   * The address the distribution listener, and the EPMD this node serves when none runs, bind
   * to (`inet_dist_use_interface`); default every interface. The EPMD answers on loopback too.
   */
  listenAddress?: string;
  /** What carries distribution: plain TCP by default, or TLS (tls-dist.ts). */
  transport?: DistTransport;
  /** The largest message accepted from a peer, whole or reassembled (default 256 MiB). */
  maxMessageSize?: number;
  /** Bytes queued toward a peer above which `isBackedUp` is true (default 4 MiB). */
  highWaterMark?: number;
  /** The handshake's deadline in milliseconds (`net_setuptime`, default 7000). */
  setupTimeMs?: number;
}

type Peer =
  | { state: "up"; conn: Connection }
  | { state: "pending"; queue: Array<{ sender: number; sig: Signal }>; waiters: Array<() => void> };

/** Signals queued for a node still being connected to, above which it counts as backed up. */
const PENDING_HIGH_WATER = 1024;
/** Local deliveries per turn before I/O gets its chance. */
const RUN_BUDGET = 10_000;
/** Slots of the run queue kept between runs. */
const QUEUE_KEPT = 65_536;

const am2 = {
  net_kernel: atom("net_kernel"),
  is_auth: atom("is_auth"),
  yes: atom("yes"),
  notsup: atom("notsup"),
  exception: atom("exception"),
};

export class DistNode implements ProcessHost {
  readonly name: Atom;
  readonly log: Logger;
  #creation = 0;
  readonly #alive: string;
  readonly #cookie: string;
  readonly #epmdPort: number;
  readonly #netTickTimeMs: number;
  readonly #maxMessageSize: number;
  readonly #highWaterMark: number;
  readonly #setupTimeMs: number;

  readonly #server: Server;
  readonly #transport: DistTransport;
  #port = 0;
  #epmd: EpmdPresence | undefined;
  #stopping = false;
  #stopped: Promise<void> | undefined;

  readonly #procs = new Map<number, LocalProcess>();
  readonly #names = new Map<Atom, LocalProcess>();
  readonly #aliases = new RefMap<LocalProcess>();
  readonly #peers = new Map<Atom, Peer>();
  readonly #sockets = new Set<Socket>();

  #nextPid = 1;
  #serial = 0;
  #refs = 0;
  readonly #refSalt = randomBytes(4).readUInt32BE(0);

  // Pairs of (target process, or undefined to look it up; signal), flattened, from #queueHead
  // to #queueTail. The array is kept from one run to the next: growing it anew every turn
  // was a good part of what a call allocated.
  #queue: Array<LocalProcess | Signal | undefined> = [];
  #queueHead = 0;
  #queueTail = 0;
  #draining = false;

  private constructor(options: DistNodeOptions) {
    const name = resolveNodeName(options.name, options.longNames ?? false);
    this.name = atom(name.full);
    this.#alive = name.alive;
    this.#cookie = options.cookie;
    this.log = options.logger ?? stderrLogger();
    this.#epmdPort = options.epmdPort ?? (Number(process.env.ERL_EPMD_PORT) || EPMD_PORT);
    this.#netTickTimeMs = (options.netTickTime ?? 60) * 1000;
    this.#maxMessageSize = options.maxMessageSize ?? 256 * 1024 * 1024;
    this.#highWaterMark = options.highWaterMark ?? 4 * 1024 * 1024;
    this.#setupTimeMs = options.setupTimeMs ?? 7_000;
    this.#transport = options.transport ?? tcpTransport;
    this.#server = this.#transport.createServer((socket) => void this.#accept(socket), { log: this.log, setupTimeMs: this.#setupTimeMs });
  }

  /** Listens, registers with EPMD (or serves it), and starts `net_kernel`. */
  static async start(options: DistNodeOptions): Promise<DistNode> {
    const node = new DistNode(options);
    const range = options.portRange ?? { min: options.port ?? 0, max: options.port ?? 0 };
    node.#port = await listenInRange(node.#server, options.listenAddress, range.min, range.max);
    node.#server.on("error", (err) => node.log.error(`distribution listener: ${err.message}`));
    try {
      node.#epmd = await EpmdPresence.start(node.#alive, node.#port, node.#epmdPort, node.log, options.listenAddress);
    } catch (e) {
      node.#server.close();
      throw e;
    }
    node.#creation = node.#epmd.creation;
    serveCalls(node, am2.net_kernel, (request, from) => {
      // net_adm:ping/1 asks net_kernel {is_auth, Node}; `yes` makes it say pong.
      if (isTagged(request, am2.is_auth, 2)) reply(node.#names.get(am2.net_kernel)!, from, am2.yes);
      else node.log.debug(`net_kernel: ignoring ${formatTerm(request, { maxLength: 200 })}`);
    });
    node.log.info(`${node.name} up: distribution port ${node.#port} (${node.#transport.name}), EPMD ${node.servesEpmd ? "served here on" : "at"} port ${node.#epmdPort}`);
    return node;
  }

  get creation(): number {
    return this.#creation;
  }

  /** The port peers connect to. */
  get port(): number {
    return this.#port;
  }

  /** True when this node serves EPMD itself. */
  get servesEpmd(): boolean {
    return this.#epmd?.serving ?? false;
  }

  /** The nodes with a connection up, as `nodes(connected)` lists them. */
  connectedNodes(): Atom[] {
    return [...this.#peers].filter(([, p]) => p.state === "up").map(([n]) => n);
  }

  // ---- processes ----

  spawn(behaviour: Behaviour, options: SpawnOptions = {}): LocalProcess {
    if (options.register !== undefined && this.#names.has(options.register)) {
      throw new Error(`register/2: the name ${options.register} is taken`);
    }
    const proc = new LocalProcess(this.#newPid(), this, behaviour, options.trapExit ?? false);
    this.#procs.set(proc.pid.id, proc);
    if (options.register !== undefined) {
      this.#names.set(options.register, proc);
      proc.registeredName = options.register;
    }
    return proc;
  }

  whereis(name: Atom): Pid | undefined {
    return this.#names.get(name)?.pid;
  }

  makeRef(): Ref {
    const n = ++this.#refs;
    return new Ref(this.name, this.#creation, [n & 0x3ffff, Math.floor(n / 0x40000) >>> 0, this.#refSalt]);
  }

  #newPid(): Pid {
    for (;;) {
      const id = this.#nextPid;
      if (++this.#nextPid > 0x7fff) {
        this.#nextPid = 1;
        this.#serial = (this.#serial + 1) & 0x1fff;
      }
      if (!this.#procs.has(id)) return new Pid(this.name, id, this.#serial, this.#creation);
    }
  }

  /** `net_adm:ping/1`: `pong` when `node` answers net_kernel's is_auth, else `pang`. */
  async ping(node: Atom, timeoutMs = 5_000): Promise<"pong" | "pang"> {
    try {
      const answer = await call(this, new Tuple([am2.net_kernel, node]), new Tuple([am2.is_auth, this.name]), timeoutMs);
      return answer === am2.yes ? "pong" : "pang";
    } catch {
      return "pang";
    }
  }

  /** `erlang:disconnect_node/1`. */
  disconnect(node: Atom): boolean {
    const p = this.#peers.get(node);
    if (p?.state !== "up") return false;
    p.conn.close("disconnected");
    return true;
  }

  // ---- ProcessHost ----

  sendFrom(sender: LocalProcess, to: Destination, message: Term): void {
    if (to instanceof Pid) this.route({ op: "send", from: sender.pid, to, message }, sender);
    else if (to instanceof Ref) this.route({ op: "alias_send", from: sender.pid, to, message }, sender);
    else if (to instanceof Atom) this.route({ op: "reg_send", from: sender.pid, to, message }, sender, this.name);
    else {
      const [name, node] = to.elements;
      if (to.size !== 2 || !(name instanceof Atom) || !(node instanceof Atom)) {
        this.log.warning(`send: ${formatTerm(to, { maxLength: 200 })} is not a destination`);
        return;
      }
      this.route({ op: "reg_send", from: sender.pid, to: name, message }, sender, node);
    }
  }

  route(sig: Signal, sender: LocalProcess | undefined, node?: Atom): void {
    const to = addressee(sig);
    const target = node ?? (to instanceof Atom || to === undefined ? this.name : to.node);
    if (target === this.name) this.#enqueue(undefined, sig);
    else this.#toPeer(target, sender?.pid.id ?? 0, sig);
  }

  enqueue(proc: LocalProcess, sig: Signal): void {
    this.#enqueue(proc, sig);
  }

  addAlias(ref: Ref, proc: LocalProcess): void {
    this.#aliases.set(ref, proc);
  }

  removeAlias(ref: Ref): void {
    this.#aliases.take(ref);
  }

  removed(proc: LocalProcess): void {
    if (this.#procs.get(proc.pid.id) === proc) this.#procs.delete(proc.pid.id);
    if (proc.registeredName !== undefined && this.#names.get(proc.registeredName) === proc) {
      this.#names.delete(proc.registeredName);
    }
    for (const ref of proc.aliases) this.#aliases.take(ref);
  }

  crashed(proc: LocalProcess, error: unknown): Term {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.log.error(`process ${proc.pid} failed: ${text}`);
    return new Tuple([am2.exception, Buffer.from(error instanceof Error ? error.message : String(error))]);
  }

  // ---- local delivery: one ordered queue ----

  #enqueue(proc: LocalProcess | undefined, sig: Signal): void {
    const q = this.#queue;
    const t = this.#queueTail;
    q[t] = proc;
    q[t + 1] = sig;
    this.#queueTail = t + 2;
    if (!this.#draining) {
      this.#draining = true;
      queueMicrotask(this.#drain);
    }
  }

  readonly #drain = (): void => {
    let budget = RUN_BUDGET;
    const q = this.#queue;
    while (this.#queueHead < this.#queueTail) {
      if (--budget < 0) {
        setImmediate(this.#drain);
        return;
      }
      const h = this.#queueHead;
      const proc = q[h] as LocalProcess | undefined;
      const sig = q[h + 1] as Signal;
      // Delivered signals are let go at once, not when the queue next fills this far.
      q[h] = q[h + 1] = undefined;
      this.#queueHead = h + 2;
      try {
        if (proc !== undefined) proc.handle(sig);
        else this.#apply(sig);
      } catch (e) {
        this.log.error(`delivering ${sig.op}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
      if (this.#queueHead > QUEUE_KEPT && this.#queueHead * 2 > this.#queueTail) {
        // Under a steady stream the queue never empties: move what is left to the front.
        const left = this.#queueTail - this.#queueHead;
        q.copyWithin(0, this.#queueHead, this.#queueTail);
        q.length = left;
        this.#queueHead = 0;
        this.#queueTail = left;
      }
    }
    this.#queueHead = this.#queueTail = 0;
    // After a burst the array would keep its size for good.
    if (q.length > QUEUE_KEPT) this.#queue = [];
    this.#draining = false;
  };

  /** A signal for a process of this node: to it, or the answer a missing process gives. */
  #apply(sig: Signal): void {
    let proc: LocalProcess | undefined;
    switch (sig.op) {
      case "reg_send":
        proc = this.#names.get(sig.to);
        break;
      case "alias_send":
        proc = this.#aliases.get(sig.to);
        break;
      case "monitor":
      case "demonitor":
        proc = sig.to instanceof Atom ? this.#names.get(sig.to) : this.#local(sig.to);
        break;
      case "spawn_request":
        // Processes of this node run TypeScript; there is nothing to spawn an MFA in.
        this.route({ op: "spawn_reply", ref: sig.ref, to: sig.from, flags: 0, result: am2.notsup }, undefined);
        return;
      case "spawn_reply":
      case "group_leader":
        return;
      default:
        proc = this.#local(sig.to);
    }
    if (proc !== undefined) {
      proc.handle(sig);
      return;
    }
    // No such process: links and monitors to it fire at once with `noproc`, as in erts.
    if (sig.op === "link") {
      this.route({ op: "exit", from: sig.to, to: sig.from, reason: am.noproc }, undefined);
    } else if (sig.op === "monitor") {
      this.route({ op: "monitor_exit", from: sig.to, to: sig.from, ref: sig.ref, reason: am.noproc }, undefined);
    } else if (sig.op === "reg_send") {
      this.log.debug(`dropping a message to ${sig.to}: no process has that name`);
    }
  }

  #local(pid: Pid): LocalProcess | undefined {
    if (pid.node !== this.name || pid.creation !== this.#creation) return undefined;
    const p = this.#procs.get(pid.id);
    return p !== undefined && p.pid.serial === pid.serial ? p : undefined;
  }

  // ---- peers ----

  #toPeer(node: Atom, sender: number, sig: Signal): void {
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

  readonly #handler: ConnectionHandler = {
    signal: (sig, conn) => {
      if (!this.#forUs(sig, conn.peer)) {
        this.log.warning(`dropping a ${sig.op} signal from ${conn.peer} not addressed to this node`);
        return;
      }
      this.#enqueue(undefined, sig);
    },
    down: (conn, reason) => {
      const p = this.#peers.get(conn.peer);
      if (p?.state === "up" && p.conn === conn) this.#peers.delete(conn.peer);
      if (!this.#stopping) this.log.info(`connection to ${conn.peer} down (${reason})`);
      this.#nodeDown(conn.peer);
    },
  };

  /** The signal's target is on this node and its sender on the peer it came from. */
  #forUs(sig: Signal, peer: Atom): boolean {
    const to = addressee(sig);
    if ((to instanceof Pid || to instanceof Ref) && to.node !== this.name) return false;
    const from = sig.op === "spawn_reply" ? undefined : sig.from;
    return !(from instanceof Pid) || from.node === peer;
  }

  #nodeDown(node: Atom): void {
    for (const p of this.#procs.values()) p.nodeDown(node);
  }

  #install(socket: Socket, hs: HandshakeResult, early: Uint8Array): void {
    const node = atom(hs.peer);
    const before = this.#peers.get(node);
    if (before?.state === "up") before.conn.close("replaced by a new connection");
    const conn = new Connection(
      socket,
      node,
      hs.peerCreation,
      hs.flags,
      {
        netTickTimeMs: this.#netTickTimeMs,
        maxMessageSize: this.#maxMessageSize,
        highWaterMark: this.#highWaterMark,
        log: this.log,
      },
      this.#handler,
      early,
    );
    this.#peers.set(node, { state: "up", conn });
    this.log.info(`connected to ${node}`);
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
    const t = new SocketTransport(socket, this.#setupTimeMs, this.#transport.handshakeHeader);
    let hs: HandshakeResult;
    try {
      hs = await acceptHandshake(t, {
        name: this.name.name,
        creation: this.#creation,
        flags: OUR_FLAGS,
        required: REQUIRED_FLAGS,
        cookie: () => this.#cookie,
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
    return this.name.name > peer ? "nok" : "ok_simultaneous";
  }

  #dial(node: Atom): Peer {
    const peer: Peer = { state: "pending", queue: [], waiters: [] };
    this.#peers.set(node, peer);
    void this.#connect(node, peer);
    return peer;
  }

  async #connect(node: Atom, peer: Peer): Promise<void> {
    const still = () => this.#peers.get(node) === peer && !this.#stopping;
    let transport: SocketTransport | undefined;
    try {
      const where = splitNodeName(node.name);
      if (where === undefined) throw new Error(`${node} is not a node name`);
      const info = await lookup({ host: where.host, port: this.#epmdPort }, where.alive, this.#setupTimeMs);
      // Another connection (the peer's own, accepted meanwhile) may have made this one moot.
      if (!still()) return;
      if (info === undefined) throw new Error(`EPMD on ${where.host} does not know ${where.alive}`);
      if (info.highestVersion < 6 || info.lowestVersion > 6) {
        throw new Error(`${node} speaks distribution versions ${info.lowestVersion}-${info.highestVersion}, not 6`);
      }
      const socket = await this.#transport.connect(where.host, info.port, this.#setupTimeMs);
      if (!still()) {
        socket.destroy();
        return;
      }
      this.#track(socket);
      transport = new SocketTransport(socket, this.#setupTimeMs, this.#transport.handshakeHeader);
      const hs = await connectHandshake(transport, {
        name: this.name.name,
        creation: this.#creation,
        flags: OUR_FLAGS,
        required: REQUIRED_FLAGS,
        peer: node.name,
        cookie: this.#cookie,
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
        }, this.#setupTimeMs).unref();
        return;
      }
      this.#handshakeFailed("to", e, node.name);
      if (still()) this.#failPeer(node, peer, (e as Error).message);
    }
  }

  #failPeer(node: Atom, peer: Peer, reason: string): void {
    this.#peers.delete(node);
    if (peer.state === "pending") {
      if (peer.queue.length > 0) this.log.info(`dropping ${peer.queue.length} signals for ${node}: ${reason}`);
      for (const w of peer.waiters) w();
    }
    this.#nodeDown(node);
  }

  #handshakeFailed(direction: "from" | "to", e: unknown, who: string | undefined): void {
    if (!(e instanceof HandshakeError)) {
      this.log.warning(`connection ${direction} ${who}: ${(e as Error).message ?? String(e)}`);
      return;
    }
    const node = e.peer ?? who ?? "unknown";
    if (e.code === "missing_flags") {
      this.log.error(
        `** Connection attempt ${direction} node ${node} ${direction === "from" ? "rejected" : "aborted"} ` +
          `at ${e.step} since it cannot handle ${e.missing.join(", ")} **`,
      );
    } else if (e.code === "bad_cookie") {
      this.log.error(`** Connection attempt ${direction} node ${node} rejected at ${e.step}: invalid digest (wrong cookie) **`);
    } else {
      this.log.warning(`handshake ${direction} ${node} failed at ${e.step} (${e.code}): ${e.message}`);
    }
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
  }

  // ---- stopping ----

  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    // Processes end first, so that their exit signals and DOWN messages reach the peers.
    for (const p of [...this.#procs.values()]) p.terminate(am.shutdown);
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#stopping = true;
    for (const [node, p] of [...this.#peers]) {
      if (p.state === "up") p.conn.close("stopped", true);
      else this.#failPeer(node, p, "the node is stopping");
    }
    for (const s of this.#sockets) s.destroySoon();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await this.#epmd?.close();
  }
}

/** The process a signal is for: a pid, a name, an alias; none for a spawn request (the node). */
function addressee(sig: Signal): Pid | Atom | Ref | undefined {
  return sig.op === "spawn_request" ? undefined : sig.to;
}
