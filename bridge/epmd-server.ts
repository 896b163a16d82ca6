/**
 * An EPMD served from inside the bridge, for when none runs: the same protocol on the same
 * port, so `epmd -names` and `erl` nodes started later register with it and find the bridge.
 * While it listens, a real `epmd` started later cannot take the port and leaves it to us (erl
 * then registers here). Like `epmd`, it accepts registrations from this host only.
 */
import { randomInt } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import {
  EpmdError,
  buildAlive2XResp,
  buildNamesResp,
  buildPort2Resp,
  parseRequest,
  type EpmdRequest,
  type NodeInfo,
} from "./epmd.js";
import { ByteQueue } from "./framing.js";
import type { Logger } from "./log.js";

interface Entry {
  info: NodeInfo;
  creation: number;
  /** The registration socket; none for the bridge's own entry. */
  socket: Socket | undefined;
}

export class EmbeddedEpmd {
  readonly #servers: Server[];
  readonly #log: Logger;
  readonly #nodes = new Map<string, Entry>();
  // The creation each name last had, so that a node coming back gets a different one.
  readonly #lastCreation = new Map<string, number>();
  readonly #sockets = new Set<Socket>();

  private constructor(
    servers: Server[],
    readonly port: number,
    log: Logger,
  ) {
    this.#servers = servers;
    this.#log = log;
    for (const server of servers) server.on("connection", (socket) => this.#accept(socket));
  }

  /**
   * Listens on `port` on every interface, or on `address` and loopback (as `epmd` does with
   * `ERL_EPMD_ADDRESS`, since the nodes of this host register through loopback); rejects
   * (EADDRINUSE) when something already does.
   */
  static async start(port: number, log: Logger, address?: string): Promise<EmbeddedEpmd> {
    // Loopback is reached already when the address is loopback itself or every interface.
    const alone = address === undefined || isLoopback(address) || ["localhost", "0.0.0.0", "::"].includes(address);
    const hosts = alone ? [address] : [address, "127.0.0.1"];
    const servers: Server[] = [];
    try {
      for (const host of hosts) {
        const server = createServer();
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen({ port, ...(host !== undefined ? { host } : {}) }, () => {
            server.off("error", reject);
            resolve();
          });
        });
        server.on("error", (err) => log.warning(`embedded EPMD: ${err.message}`));
        servers.push(server);
      }
    } catch (e) {
      for (const server of servers) server.close();
      throw e;
    }
    return new EmbeddedEpmd(servers, port, log);
  }

  /** Registers a node living in this process (the bridge itself); returns its creation. */
  registerLocal(info: NodeInfo): number {
    const taken = this.#nodes.get(info.name);
    if (taken !== undefined) throw new EpmdError("refused", `the name ${info.name} is already registered`);
    const creation = this.#newCreation(info.name);
    this.#nodes.set(info.name, { info, creation, socket: undefined });
    return creation;
  }

  unregisterLocal(name: string): void {
    const entry = this.#nodes.get(name);
    if (entry !== undefined && entry.socket === undefined) this.#nodes.delete(name);
  }

  /** The names registered, as NAMES_REQ lists them. */
  get names(): string[] {
    return [...this.#nodes.keys()];
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await Promise.all(this.#servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }

  #newCreation(name: string): number {
    const last = this.#lastCreation.get(name);
    let creation: number;
    do creation = randomInt(4, 0xffffffff);
    while (creation === last);
    this.#lastCreation.set(name, creation);
    return creation;
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    const input = new ByteQueue();
    let registered: string | undefined;
    socket.on("data", (chunk: Buffer) => {
      input.push(chunk);
      try {
        const request = input.takeFrame(2);
        if (request === undefined) return;
        socket.pause();
        registered = this.#serve(socket, parseRequest(request)) ?? registered;
      } catch (e) {
        this.#log.debug(`embedded EPMD: dropping a client: ${(e as Error).message}`);
        socket.destroy();
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.#sockets.delete(socket);
      if (registered !== undefined && this.#nodes.get(registered)?.socket === socket) {
        this.#nodes.delete(registered);
        this.#log.debug(`embedded EPMD: ${registered} unregistered`);
      }
    });
  }

  /** Answers one request; returns the name it registered, if it did. */
  #serve(socket: Socket, req: EpmdRequest): string | undefined {
    switch (req.kind) {
      case "ALIVE2_REQ": {
        const name = req.node.name;
        if (!isLoopback(socket.remoteAddress) || this.#nodes.has(name)) {
          socket.end(buildAlive2XResp(1, 0));
          return undefined;
        }
        const creation = this.#newCreation(name);
        this.#nodes.set(name, { info: req.node, creation, socket });
        socket.write(buildAlive2XResp(0, creation));
        // The socket stays open: its close is the unregistration.
        socket.resume();
        this.#log.debug(`embedded EPMD: ${name} registered at port ${req.node.port}`);
        return name;
      }
      case "PORT_PLEASE2_REQ":
        socket.end(buildPort2Resp(this.#nodes.get(req.name)?.info));
        return undefined;
      case "NAMES_REQ":
      case "DUMP_REQ":
        socket.end(buildNamesResp(this.port, [...this.#nodes.values()].map((e) => e.info)));
        return undefined;
      case "KILL_REQ":
        // This EPMD lives as long as the bridge; `epmd -kill` is told no, as epmd answers when
        // nodes are registered.
        socket.end("NO");
        return undefined;
      case "STOP_REQ":
        socket.end();
        return undefined;
    }
  }
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}
