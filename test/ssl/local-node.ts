/**
 * An in-process implementation of the bridge's `Node` (bridge/api.ts) with no distribution:
 * processes, registered names, links, exit signals, monitors and aliases as Erlang defines them,
 * for tests of ts-ssl that need no Erlang node. Messages are delivered asynchronously in the order
 * sent. The interop tests use the real bridge; this only lets the ssl semantics be tested alone.
 */
import { Atom, atom, Pid, Ref, Tuple, tuple, type Term } from "../../etf/terms.js";
import type { Behaviour, Destination, Node, Process, SpawnOptions } from "../../bridge/api.js";
import { MemoryLogger } from "../../bridge/log.js";

const EXIT = atom("EXIT");
const DOWN = atom("DOWN");
const normal = atom("normal");
const kill = atom("kill");
const killed = atom("killed");
const noproc = atom("noproc");

class LocalProcess implements Process {
  alive = true;
  trapExit: boolean;
  readonly links = new Set<LocalProcess>();
  readonly monitors = new Map<Ref, LocalProcess>();
  readonly aliases = new Set<Ref>();

  constructor(
    readonly node: LocalNode,
    readonly pid: Pid,
    readonly behaviour: Behaviour,
    options: SpawnOptions,
  ) {
    this.trapExit = options.trapExit ?? false;
  }

  send(to: Destination, msg: Term): void {
    const target = this.node.resolve(to);
    if (target !== undefined) this.node.enqueue(() => target.alive && target.behaviour.message(msg, target));
  }

  link(pid: Pid): void {
    const other = this.node.process(pid);
    if (other === undefined || !other.alive) {
      this.node.enqueue(() => this.alive && this.exitSignal(pid, noproc));
      return;
    }
    this.links.add(other);
    other.links.add(this);
  }

  unlink(pid: Pid): void {
    const other = this.node.process(pid);
    if (other === undefined) return;
    this.links.delete(other);
    other.links.delete(this);
  }

  monitor(target: Pid | Atom | Tuple): Ref {
    const ref = this.node.makeRef();
    const other = this.node.resolve(target);
    if (other === undefined || !other.alive) {
      this.node.enqueue(() => this.send(this.pid, tuple(DOWN, ref, atom("process"), target, noproc)));
    } else other.monitors.set(ref, this);
    return ref;
  }

  demonitor(ref: Ref): void {
    for (const p of this.node.all()) p.monitors.delete(ref);
  }

  exit(pid: Pid, reason: Term): void {
    const other = this.node.process(pid);
    if (other !== undefined) this.node.enqueue(() => other.alive && other.exitSignal(this.pid, reason, true));
  }

  alias(): Ref {
    const ref = this.node.makeRef();
    this.aliases.add(ref);
    return ref;
  }

  unalias(ref: Ref): void {
    this.aliases.delete(ref);
  }

  terminate(reason: Term): void {
    if (!this.alive) return;
    this.alive = false;
    this.node.forget(this);
    for (const other of this.links) {
      other.links.delete(this);
      this.node.enqueue(() => other.alive && other.exitSignal(this.pid, reason));
    }
    this.links.clear();
    for (const [ref, watcher] of this.monitors) {
      this.node.enqueue(() => watcher.alive && watcher.behaviour.message(tuple(DOWN, ref, atom("process"), this.pid, reason), watcher));
    }
    this.monitors.clear();
    this.behaviour.terminated?.(reason, this);
  }

  /** An exit signal from `from` (a link's, or `exit/2`'s when `direct`). */
  exitSignal(from: Pid, reason: Term, direct = false): void {
    if (direct && reason === kill) return this.terminate(killed);
    if (this.trapExit) return this.behaviour.message(tuple(EXIT, from, reason), this);
    if (reason !== normal) this.terminate(reason);
  }
}

export class LocalNode implements Node {
  readonly name: Atom;
  readonly creation = 1;
  readonly log = new MemoryLogger();
  #nextPid = 100;
  #nextRef = 1;
  readonly #processes = new Map<number, LocalProcess>();
  readonly #registered = new Map<Atom, LocalProcess>();
  readonly #queue: Array<() => void> = [];
  #scheduled = false;

  constructor(name = "local@localhost") {
    this.name = atom(name);
  }

  spawn(behaviour: Behaviour, options: SpawnOptions = {}): Process {
    const pid = new Pid(this.name, this.#nextPid++, 0, this.creation);
    const p = new LocalProcess(this, pid, behaviour, options);
    this.#processes.set(pid.id, p);
    if (options.register !== undefined) this.#registered.set(options.register, p);
    return p;
  }

  whereis(name: Atom): Pid | undefined {
    return this.#registered.get(name)?.pid;
  }

  makeRef(): Ref {
    return new Ref(this.name, this.creation, [this.#nextRef++, 0, 0]);
  }

  /** Whether the (pretend) connection to every other node is backed up; see `drain`. */
  backedUp = false;
  /** The nodes someone waited on with `whenDrained`, in order. */
  readonly drainWaits: Atom[] = [];
  #drainWaiters: Array<() => void> = [];

  isBackedUp(): boolean {
    return this.backedUp;
  }

  whenDrained(node: Atom): Promise<void> {
    this.drainWaits.push(node);
    if (!this.backedUp) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** The backlog is gone: `whenDrained` promises resolve. */
  drain(): void {
    this.backedUp = false;
    for (const w of this.#drainWaiters.splice(0)) w();
  }

  async stop(): Promise<void> {
    for (const p of [...this.#processes.values()]) p.terminate(atom("shutdown"));
    await new Promise((r) => setImmediate(r));
  }

  process(pid: Pid): LocalProcess | undefined {
    return pid.node === this.name ? this.#processes.get(pid.id) : undefined;
  }

  all(): LocalProcess[] {
    return [...this.#processes.values()];
  }

  resolve(to: Destination): LocalProcess | undefined {
    if (to instanceof Pid) return this.process(to);
    if (to instanceof Atom) return this.#registered.get(to);
    if (to instanceof Tuple) return to.elements[1] === this.name ? this.#registered.get(to.elements[0] as Atom) : undefined;
    return this.all().find((p) => p.aliases.has(to));
  }

  forget(p: LocalProcess): void {
    this.#processes.delete(p.pid.id);
    for (const [name, q] of this.#registered) if (q === p) this.#registered.delete(name);
  }

  enqueue(task: () => void): void {
    this.#queue.push(task);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      for (const t of this.#queue.splice(0)) t();
    });
  }
}
