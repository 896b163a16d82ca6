/**
 * `ProcessRuntime`: the local processes of a node, with no sockets. It hands out pids,
 * references and aliases, keeps the registered names, and delivers every signal for a local
 * process through one ordered run queue; a signal for another node goes to `peers`, the
 * connections to other nodes (bridge/peers.ts in a `DistNode`).
 *
 * A runtime with no `peers` is a node alone: whatever is sent to another node is lost, and links
 * and monitors across fire with `noconnection`, as when a connection cannot be set up.
 */
import { randomBytes } from "node:crypto";
import { formatTerm } from "../etf/format.js";
import { Atom, Pid, Ref, Tuple, atom, type Term } from "../etf/terms.js";
import type { Behaviour, Destination, SpawnOptions } from "./api.js";
import type { Signal } from "./control.js";
import type { Logger } from "./log.js";
import { LocalProcess, am, type ProcessHost } from "./process.js";
import { RefMap } from "./ref-map.js";

/** What the runtime needs of the connections to other nodes. */
export interface Peers {
  /** Writes `sig` to the connection to `node`, connecting first when there is none. */
  send(node: Atom, sender: number, sig: Signal): void;
  isBackedUp(node: Atom): boolean;
  whenDrained(node: Atom): Promise<void>;
}

/** Local deliveries per turn before I/O gets its chance. */
export const RUN_BUDGET = 10_000;
/** Slots of the run queue kept between runs. */
const QUEUE_KEPT = 65_536;

const exception = atom("exception");
const notsup = atom("notsup");

export class ProcessRuntime implements ProcessHost {
  readonly name: Atom;
  readonly log: Logger;
  /**
   * EPMD hands the creation out only once the node listens, after the runtime exists; it is set
   * once, before the first process is spawned.
   */
  creation = 0;
  /**
   * The connections to other nodes; none for a runtime alone. Set by the node that puts the
   * two together: the peer manager needs the runtime to deliver to, so it is made after it.
   */
  peers: Peers | undefined;

  readonly #procs = new Map<number, LocalProcess>();
  readonly #names = new Map<Atom, LocalProcess>();
  readonly #aliases = new RefMap<LocalProcess>();

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
  /** A run of the queue is due (in a microtask, or after a yield). */
  #draining = false;
  /** The last run went past its budget: the rest waits for the immediate it scheduled. */
  #yielded = false;
  #running = false;

  constructor(name: Atom, log: Logger) {
    this.name = name;
    this.log = log;
  }

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
    return new Ref(this.name, this.creation, [n & 0x3ffff, Math.floor(n / 0x40000) >>> 0, this.#refSalt]);
  }

  #newPid(): Pid {
    for (;;) {
      const id = this.#nextPid;
      if (++this.#nextPid > 0x7fff) {
        this.#nextPid = 1;
        this.#serial = (this.#serial + 1) & 0x1fff;
      }
      if (!this.#procs.has(id)) return new Pid(this.name, id, this.#serial, this.creation);
    }
  }

  isBackedUp(node: Atom): boolean {
    return this.peers?.isBackedUp(node) ?? false;
  }

  whenDrained(node: Atom): Promise<void> {
    return this.peers?.whenDrained(node) ?? Promise.resolve();
  }

  /** Ends every process (reason `shutdown`) and lets the signals that sends go out. */
  async stop(): Promise<void> {
    for (const p of [...this.#procs.values()]) p.terminate(am.shutdown);
    await new Promise<void>((resolve) => setImmediate(resolve));
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
    else if (this.peers !== undefined) this.peers.send(target, sender?.pid.id ?? 0, sig);
    else queueMicrotask(() => this.nodeDown(target));
  }

  enqueue(proc: LocalProcess, sig: Signal): void {
    this.#enqueue(proc, sig);
  }

  /** A signal from a peer, already checked to be for this node. */
  deliver(sig: Signal): void {
    this.#enqueue(undefined, sig);
  }

  /** The connection to `node` is gone (or could not be made): links and monitors across fire. */
  nodeDown(node: Atom): void {
    for (const p of this.#procs.values()) p.nodeDown(node);
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
    return new Tuple([exception, Buffer.from(error instanceof Error ? error.message : String(error))]);
  }

  /**
   * Runs the queue now rather than in the microtask scheduled for it. A connection calls it
   * once it has handed over what one read brought, so that what those signals lead to (a
   * reply, above all) is done before the rest of the read's callback and can leave with the
   * write that follows it.
   */
  run(): void {
    this.#drain();
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

  /** The immediate after a yield. */
  readonly #resume = (): void => {
    this.#yielded = false;
    this.#drain();
  };

  readonly #drain = (): void => {
    // Already run (by run(), before its microtask came), waiting for its immediate, or a
    // handler calling run() from within a run.
    if (!this.#draining || this.#yielded || this.#running) return;
    this.#running = true;
    let budget = RUN_BUDGET;
    const q = this.#queue;
    while (this.#queueHead < this.#queueTail) {
      if (--budget < 0) {
        this.#yielded = true;
        this.#running = false;
        setImmediate(this.#resume);
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
    this.#running = false;
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
        this.route({ op: "spawn_reply", ref: sig.ref, to: sig.from, flags: 0, result: notsup }, undefined);
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
    if (pid.node !== this.name || pid.creation !== this.creation) return undefined;
    const p = this.#procs.get(pid.id);
    return p !== undefined && p.pid.serial === pid.serial ? p : undefined;
  }
}

/** The process a signal is for: a pid, a name, an alias; none for a spawn request (the node). */
export function addressee(sig: Signal): Pid | Atom | Ref | undefined {
  return sig.op === "spawn_request" ? undefined : sig.to;
}

