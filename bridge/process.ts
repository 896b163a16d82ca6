/**
 * A process of the bridge node, with Erlang's semantics for what reaches it: messages, links
 * (the UNLINK_ID protocol of `erl_dist_protocol.md`, "Link Protocol", used locally too), exit
 * signals (trapped or not; `kill` from exit/2 cannot be trapped), monitors (by pid and by name)
 * and aliases.
 *
 * A process never acts on another directly: everything it does to another process is a
 * `Signal` handed to its host (the node), which delivers it locally in order or writes it to the
 * connection of the node it is for. Everything that reaches it comes through `handle`.
 */
import { Atom, Pid, Ref, Tuple, atom, type Term } from "../etf/terms.js";
import type { Behaviour, Destination, Node, Process } from "./api.js";
import type { Signal } from "./control.js";
import { RefMap } from "./ref-map.js";

export const am = {
  EXIT: atom("EXIT"),
  DOWN: atom("DOWN"),
  process: atom("process"),
  normal: atom("normal"),
  kill: atom("kill"),
  killed: atom("killed"),
  noproc: atom("noproc"),
  noconnection: atom("noconnection"),
  shutdown: atom("shutdown"),
} as const;

/** What a process needs of its node. */
export interface ProcessHost extends Node {
  /** Delivers `sig` to its target; `node` names the target's node when `sig.to` is a name. */
  route(sig: Signal, sender: LocalProcess, node?: Atom): void;
  /** `erlang:send/2` from `sender`. */
  sendFrom(sender: LocalProcess, to: Destination, msg: Term): void;
  /** Queues `sig` for `proc`, in order with everything else delivered locally. */
  enqueue(proc: LocalProcess, sig: Signal): void;
  addAlias(ref: Ref, proc: LocalProcess): void;
  removeAlias(ref: Ref): void;
  /** The process has ended: forget its pid, name and aliases. */
  removed(proc: LocalProcess): void;
  /** A message handler threw. */
  crashed(proc: LocalProcess, error: unknown): Term;
}

function pidKey(p: Pid): string {
  return `${p.node.name}/${p.id}.${p.serial}.${p.creation}`;
}

interface Link {
  pid: Pid;
  /** Cleared while our UNLINK_ID awaits its acknowledgement. */
  active: boolean;
  unlinkId?: number | bigint;
}

/** A monitor this process holds. */
interface Watching {
  ref: Ref;
  /** The pid or name it was set on. */
  target: Pid | Atom;
  node: Atom;
  /** What the DOWN message names: the pid, or `{Name, Node}`. */
  object: Term;
}

/** A monitor someone holds on this process. */
interface WatchedBy {
  ref: Ref;
  watcher: Pid;
  /** The name it was set by, which MONITOR_P_EXIT then names. */
  name: Atom | undefined;
}

export class LocalProcess implements Process {
  #alive = true;
  trapExit: boolean;
  registeredName: Atom | undefined;
  readonly #links = new Map<string, Link>();
  readonly #watching = new RefMap<Watching>();
  readonly #watchedBy = new RefMap<WatchedBy>();
  readonly #aliases = new Set<Ref>();
  #unlinkIds = 0;

  constructor(
    readonly pid: Pid,
    readonly host: ProcessHost,
    readonly behaviour: Behaviour,
    trapExit: boolean,
  ) {
    this.trapExit = trapExit;
  }

  get node(): Node {
    return this.host;
  }

  get alive(): boolean {
    return this.#alive;
  }

  send(to: Destination, msg: Term): void {
    if (this.#alive) this.host.sendFrom(this, to, msg);
  }

  link(pid: Pid): void {
    const key = pidKey(pid);
    if (!this.#alive || key === pidKey(this.pid)) return;
    const l = this.#links.get(key);
    if (l?.active) return;
    this.#links.set(key, { pid, active: true });
    this.host.route({ op: "link", from: this.pid, to: pid }, this);
  }

  unlink(pid: Pid): void {
    const l = this.#links.get(pidKey(pid));
    if (!this.#alive || l === undefined || !l.active) return;
    const id = ++this.#unlinkIds;
    l.active = false;
    l.unlinkId = id;
    this.host.route({ op: "unlink_id", id, from: this.pid, to: pid }, this);
  }

  monitor(target: Pid | Atom | Tuple): Ref {
    const ref = this.host.makeRef();
    let to: Pid | Atom;
    let node: Atom;
    let object: Term;
    if (target instanceof Pid) {
      to = object = target;
      node = target.node;
    } else if (target instanceof Atom) {
      to = target;
      node = this.host.name;
      object = new Tuple([target, node]);
    } else {
      const [name, where] = target.elements;
      if (!(name instanceof Atom) || !(where instanceof Atom) || target.size !== 2) {
        throw new TypeError("monitor/2: the target is not a pid, a name or {Name, Node}");
      }
      to = name;
      node = where;
      object = target;
    }
    if (!this.#alive) {
      // erlang:monitor/2 on behalf of a dead process has nothing to tell.
      return ref;
    }
    this.#watching.set(ref, { ref, target: to, node, object });
    this.host.route({ op: "monitor", from: this.pid, to, ref }, this, node);
    return ref;
  }

  demonitor(ref: Ref): void {
    const m = this.#watching.take(ref);
    if (m === undefined) return;
    this.host.route({ op: "demonitor", from: this.pid, to: m.target, ref }, this, m.node);
  }

  exit(pid: Pid, reason: Term): void {
    if (this.#alive) this.host.route({ op: "exit2", from: this.pid, to: pid, reason }, this);
  }

  alias(): Ref {
    const ref = this.host.makeRef();
    if (this.#alive) {
      this.#aliases.add(ref);
      this.host.addAlias(ref, this);
    }
    return ref;
  }

  unalias(ref: Ref): void {
    if (this.#aliases.delete(ref)) this.host.removeAlias(ref);
  }

  get aliases(): ReadonlySet<Ref> {
    return this.#aliases;
  }

  terminate(reason: Term): void {
    if (!this.#alive) return;
    this.#alive = false;
    this.host.removed(this);
    for (const l of this.#links.values()) {
      if (l.active) this.host.route({ op: "exit", from: this.pid, to: l.pid, reason }, this);
    }
    this.#links.clear();
    for (const m of this.#watchedBy.values()) {
      this.host.route({ op: "monitor_exit", from: m.name ?? this.pid, to: m.watcher, ref: m.ref, reason }, this);
    }
    this.#watchedBy.clear();
    for (const m of this.#watching.values()) {
      this.host.route({ op: "demonitor", from: this.pid, to: m.target, ref: m.ref }, this, m.node);
    }
    this.#watching.clear();
    this.#aliases.clear();
    try {
      this.behaviour.terminated?.(reason, this);
    } catch (e) {
      this.host.crashed(this, e);
    }
  }

  /** A signal for this process (its target resolved to it). */
  handle(sig: Signal): void {
    if (!this.#alive) return;
    switch (sig.op) {
      case "send":
      case "reg_send":
      case "alias_send":
        this.#deliver(sig.message);
        return;
      case "link": {
        // An existing entry, even one waiting for an unlink acknowledgement, stays as it is.
        const key = pidKey(sig.from);
        if (!this.#links.has(key)) this.#links.set(key, { pid: sig.from, active: true });
        return;
      }
      case "unlink_id": {
        const key = pidKey(sig.from);
        if (this.#links.get(key)?.active) this.#links.delete(key);
        this.host.route({ op: "unlink_id_ack", id: sig.id, from: this.pid, to: sig.from }, this);
        return;
      }
      case "unlink_id_ack": {
        const key = pidKey(sig.from);
        const l = this.#links.get(key);
        if (l !== undefined && !l.active && l.unlinkId !== undefined && BigInt(l.unlinkId) === BigInt(sig.id)) {
          this.#links.delete(key);
        }
        return;
      }
      case "exit": {
        const key = pidKey(sig.from);
        const l = this.#links.get(key);
        if (l === undefined) return;
        this.#links.delete(key);
        if (l.active) this.#exitSignal(sig.from, sig.reason, true);
        return;
      }
      case "exit2":
        this.#exitSignal(sig.from, sig.reason, false);
        return;
      case "monitor":
        this.#watchedBy.set(sig.ref, {
          ref: sig.ref,
          watcher: sig.from,
          name: sig.to instanceof Atom ? sig.to : undefined,
        });
        return;
      case "demonitor":
        this.#watchedBy.take(sig.ref);
        return;
      case "monitor_exit": {
        const m = this.#watching.take(sig.ref);
        if (m === undefined) return;
        this.#deliver(new Tuple([am.DOWN, sig.ref, am.process, m.object, sig.reason]));
        return;
      }
      case "group_leader":
      case "spawn_request":
      case "spawn_reply":
        return;
    }
  }

  /**
   * The connection to `node` is gone: links and monitors across it fire with `noconnection`
   * (queued, in order with what arrived before), monitors from there are forgotten.
   */
  nodeDown(node: Atom): void {
    for (const [key, l] of this.#links) {
      if (l.pid.node !== node) continue;
      if (l.active) this.host.enqueue(this, { op: "exit", from: l.pid, to: this.pid, reason: am.noconnection });
      else this.#links.delete(key);
    }
    for (const m of this.#watching.values()) {
      if (m.node !== node) continue;
      this.host.enqueue(this, { op: "monitor_exit", from: m.target, to: this.pid, ref: m.ref, reason: am.noconnection });
    }
    for (const m of [...this.#watchedBy.values()]) if (m.watcher.node === node) this.#watchedBy.take(m.ref);
  }

  #exitSignal(from: Pid, reason: Term, viaLink: boolean): void {
    if (!viaLink && reason === am.kill) {
      this.terminate(am.killed);
    } else if (this.trapExit) {
      this.#deliver(new Tuple([am.EXIT, from, reason]));
    } else if (reason !== am.normal || (!viaLink && pidKey(from) === pidKey(this.pid))) {
      this.terminate(reason);
    }
  }

  #deliver(msg: Term): void {
    try {
      this.behaviour.message(msg, this);
    } catch (e) {
      this.terminate(this.host.crashed(this, e));
    }
  }
}
