/**
 * `DistNode`: the bridge as a hidden Erlang node. It puts together the local processes
 * (`ProcessRuntime`, bridge/runtime.ts), the connections to other nodes (`PeerManager`,
 * bridge/peers.ts) and the node's presence in EPMD (registered, or served itself when none
 * answers), and starts `net_kernel`.
 */
import { formatTerm } from "../etf/format.js";
import { Tuple, atom, isTagged, type Atom, type Pid, type Ref } from "../etf/terms.js";
import type { Behaviour, Node, Process, SpawnOptions } from "./api.js";
import { tcpTransport, type DistTransport } from "./dist-transport.js";
import { EPMD_PORT } from "./epmd.js";
import { call, reply, serveCalls } from "./gen-server.js";
import { stderrLogger, type Logger } from "./log.js";
import { resolveNodeName } from "./names.js";
import { PeerManager } from "./peers.js";
import { EpmdPresence } from "./registration.js";
import { ProcessRuntime } from "./runtime.js";

export interface DistNodeOptions {
  /** `"ts_ssl_bridge"` (the host is added) or `"name@host"`. */
  name: string;
  /** Long names (`-name`) rather than short ones (`-sname`). */
  longNames?: boolean;
  cookie: string;
  /** EPMD's port (default 4369, EPMD's own). */
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

const am = {
  net_kernel: atom("net_kernel"),
  is_auth: atom("is_auth"),
  yes: atom("yes"),
} as const;

export class DistNode implements Node {
  readonly #runtime: ProcessRuntime;
  readonly #peers: PeerManager;
  readonly #epmd: EpmdPresence;
  readonly port: number;
  #stopped: Promise<void> | undefined;

  private constructor(runtime: ProcessRuntime, peers: PeerManager, epmd: EpmdPresence, port: number) {
    this.#runtime = runtime;
    this.#peers = peers;
    this.#epmd = epmd;
    this.port = port;
  }

  /** Listens, registers with EPMD (or serves it), and starts `net_kernel`. */
  static async start(options: DistNodeOptions): Promise<DistNode> {
    const name = resolveNodeName(options.name, options.longNames ?? false);
    const log = options.logger ?? stderrLogger();
    const epmdPort = options.epmdPort ?? EPMD_PORT;
    const transport = options.transport ?? tcpTransport;
    const runtime = new ProcessRuntime(atom(name.full), log);
    const peers = new PeerManager(runtime, {
      cookie: options.cookie,
      epmdPort,
      netTickTimeMs: (options.netTickTime ?? 60) * 1000,
      maxMessageSize: options.maxMessageSize ?? 256 * 1024 * 1024,
      highWaterMark: options.highWaterMark ?? 4 * 1024 * 1024,
      setupTimeMs: options.setupTimeMs ?? 7_000,
      transport,
    });
    runtime.peers = peers;
    const port = await peers.listen(options.portRange ?? { min: options.port ?? 0, max: options.port ?? 0 }, options.listenAddress);
    let epmd: EpmdPresence;
    try {
      epmd = await EpmdPresence.start(name.alive, port, epmdPort, log, options.listenAddress);
    } catch (e) {
      await peers.stop();
      throw e;
    }
    runtime.creation = epmd.creation;
    const node = new DistNode(runtime, peers, epmd, port);
    const netKernel: Process = serveCalls(node, am.net_kernel, (request, from) => {
      // net_adm:ping/1 asks net_kernel {is_auth, Node}; `yes` makes it say pong.
      if (isTagged(request, am.is_auth, 2)) reply(netKernel, from, am.yes);
      else log.debug(`net_kernel: ignoring ${formatTerm(request, { maxLength: 200 })}`);
    });
    log.info(`${node.name} up: distribution port ${port} (${transport.name}), EPMD ${node.servesEpmd ? "served here on" : "at"} port ${epmdPort}`);
    return node;
  }

  get name(): Atom {
    return this.#runtime.name;
  }

  get creation(): number {
    return this.#runtime.creation;
  }

  get log(): Logger {
    return this.#runtime.log;
  }

  /** True when this node serves EPMD itself. */
  get servesEpmd(): boolean {
    return this.#epmd.serving;
  }

  /** The nodes with a connection up, as `nodes(connected)` lists them. */
  connectedNodes(): Atom[] {
    return this.#peers.connectedNodes();
  }

  spawn(behaviour: Behaviour, options?: SpawnOptions): Process {
    return this.#runtime.spawn(behaviour, options);
  }

  whereis(name: Atom): Pid | undefined {
    return this.#runtime.whereis(name);
  }

  makeRef(): Ref {
    return this.#runtime.makeRef();
  }

  isBackedUp(node: Atom): boolean {
    return this.#peers.isBackedUp(node);
  }

  whenDrained(node: Atom): Promise<void> {
    return this.#peers.whenDrained(node);
  }

  /** `net_adm:ping/1`: `pong` when `node` answers net_kernel's is_auth, else `pang`. */
  async ping(node: Atom, timeoutMs = 5_000): Promise<"pong" | "pang"> {
    try {
      const answer = await call(this, new Tuple([am.net_kernel, node]), new Tuple([am.is_auth, this.name]), timeoutMs);
      return answer === am.yes ? "pong" : "pang";
    } catch {
      return "pang";
    }
  }

  /** `erlang:disconnect_node/1`. */
  disconnect(node: Atom): boolean {
    return this.#peers.disconnect(node);
  }

  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    // Processes end first, so that their exit signals and DOWN messages reach the peers.
    await this.#runtime.stop();
    await this.#peers.stop();
    await this.#epmd.close();
  }
}
