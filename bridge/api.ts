/**
 * The bridge's API: what the rest of the program (ts-ssl/) may use of the distribution peer.
 * Everything here is Erlang's process model, seen from TypeScript; nothing here is about the
 * wire. `DistNode` (bridge/node.ts) implements `Node`, and so does `ProcessRuntime`
 * (bridge/runtime.ts) alone, a node without distribution.
 */
import type { Atom, Pid, Ref, Term, Tuple } from "../etf/terms.js";
import type { Logger } from "./log.js";

/**
 * Where a message can go, as in `erlang:send/2`: a pid (local or remote), a locally registered
 * name, `{Name, Node}` as a `Tuple` of two atoms, or an alias (a reference made by `alias()`).
 */
export type Destination = Pid | Atom | Tuple | Ref;

/** What a process does with what reaches it. */
export interface Behaviour {
  /**
   * A message arrived: anything sent to the process, `{'EXIT', From, Reason}` for exit signals
   * when `trapExit` is set, `{'DOWN', Ref, process, Object, Reason}` for its monitors.
   * Messages from one sender arrive in the order sent, as in Erlang.
   */
  message(msg: Term, self: Process): void;
  /** The process has ended (by `terminate` or by an exit signal it did not trap). */
  terminated?(reason: Term, self: Process): void;
}

export interface SpawnOptions {
  /** Register the process under this name (`register/2`). */
  register?: Atom;
  /** `process_flag(trap_exit, true)`: exit signals become messages instead of ending it. */
  trapExit?: boolean;
}

/** A process of the bridge node, with Erlang semantics. */
export interface Process {
  readonly pid: Pid;
  readonly node: Node;
  readonly alive: boolean;
  trapExit: boolean;
  /** `erlang:send/2` from this process. Never throws for an unreachable destination. */
  send(to: Destination, msg: Term): void;
  /** `link/1`: a link to a process that is gone (or on a node that cannot be reached) fires at once. */
  link(pid: Pid): void;
  unlink(pid: Pid): void;
  /** `erlang:monitor(process, Target)`; `Target` a pid, a local name, or `{Name, Node}`. */
  monitor(target: Pid | Atom | Tuple): Ref;
  demonitor(ref: Ref): void;
  /** `exit/2`: send an exit signal to `pid`. */
  exit(pid: Pid, reason: Term): void;
  /** `alias/0`: a reference that others can send to; `unalias/1` ends it. */
  alias(): Ref;
  unalias(ref: Ref): void;
  /** Ends this process with `reason`: links get the exit signal, monitors fire DOWN. */
  terminate(reason: Term): void;
}

export interface Node {
  /** This node's name, `name@host`. */
  readonly name: Atom;
  /** The 32-bit creation EPMD gave this incarnation. */
  readonly creation: number;
  /** Where the node and its processes log. */
  readonly log: Logger;
  spawn(behaviour: Behaviour, options?: SpawnOptions): Process;
  whereis(name: Atom): Pid | undefined;
  makeRef(): Ref;
  /**
   * True while the connection to `node` has more queued for sending than its high-water mark.
   * A producer (active-mode socket) stops reading its source until `whenDrained` resolves.
   */
  isBackedUp(node: Atom): boolean;
  whenDrained(node: Atom): Promise<void>;
  /** Disconnects every peer, ends every process (reason `shutdown`), leaves EPMD. */
  stop(): Promise<void>;
}

/** `From` of a `$gen_call`: the caller's pid and its reply tag (`[alias | Ref]` from OTP 24). */
export interface From {
  readonly pid: Pid;
  readonly tag: Term;
}
