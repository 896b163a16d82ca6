/**
 * The node's presence in EPMD for its whole life: registered with the EPMD on this host, or,
 * when none answers, served by an EPMD of our own on its port. If the EPMD we registered with
 * goes away, we register again (with a new one, or by serving it ourselves).
 */
import { EpmdUnavailable, hiddenNodeInfo, register, type Registration } from "./epmd-client.js";
import { EmbeddedEpmd } from "./epmd-server.js";
import type { NodeInfo } from "./epmd.js";
import type { Logger } from "./log.js";

export class EpmdPresence {
  readonly #info: NodeInfo;
  readonly #epmdPort: number;
  readonly #log: Logger;
  #registration: Registration | undefined;
  #embedded: EmbeddedEpmd | undefined;
  #closed = false;
  /** The creation the first registration gave: the node's, for its whole life. */
  creation = 0;

  readonly #address: string | undefined;

  private constructor(alive: string, distPort: number, epmdPort: number, log: Logger, address: string | undefined) {
    this.#info = hiddenNodeInfo(alive, distPort);
    this.#epmdPort = epmdPort;
    this.#log = log;
    this.#address = address;
  }

  /**
   * Registers `alive` at `distPort`; rejects when EPMD refuses the name. An EPMD served here
   * binds to `address` (and loopback) when one is given, else to every interface.
   */
  static async start(alive: string, distPort: number, epmdPort: number, log: Logger, address?: string): Promise<EpmdPresence> {
    const p = new EpmdPresence(alive, distPort, epmdPort, log, address);
    p.creation = await p.#register();
    p.#watch();
    return p;
  }

  /** True while this node serves EPMD itself. */
  get serving(): boolean {
    return this.#embedded !== undefined;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#registration?.close();
    this.#registration = undefined;
    if (this.#embedded !== undefined) {
      this.#embedded.unregisterLocal(this.#info.name);
      await this.#embedded.close();
    }
  }

  /** One registration: with the EPMD that answers, else with our own. Returns its creation. */
  async #register(): Promise<number> {
    const address = { host: "127.0.0.1", port: this.#epmdPort };
    for (let attempt = 1; ; attempt++) {
      try {
        this.#registration = await register(address, this.#info);
        return this.#registration.creation;
      } catch (e) {
        if (!(e instanceof EpmdUnavailable)) throw e;
      }
      try {
        this.#embedded = await EmbeddedEpmd.start(this.#epmdPort, this.#log, this.#address);
        this.#log.info(`no EPMD answers on port ${this.#epmdPort}; serving EPMD there`);
        return this.#embedded.registerLocal(this.#info);
      } catch (e) {
        // Someone took the port between the two attempts (a real EPMD starting): try it again.
        if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
  }

  #watch(): void {
    const reg = this.#registration;
    if (reg === undefined) return;
    void reg.closed.then(async () => {
      if (this.#closed || this.#registration !== reg) return;
      this.#log.warning(`EPMD on port ${this.#epmdPort} closed our registration; registering again`);
      this.#registration = undefined;
      for (let delay = 100; !this.#closed; delay = Math.min(delay * 2, 5_000)) {
        try {
          // The creation EPMD gives now is not ours: our pids and references keep the first one.
          await this.#register();
          this.#watch();
          return;
        } catch (e) {
          this.#log.debug(`registering with EPMD again: ${(e as Error).message}`);
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    });
  }
}
