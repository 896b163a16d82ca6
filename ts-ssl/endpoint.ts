/**
 * What every ssl socket is on the bridge: a term `{sslsocket, Id, Pid}` and a bridge process
 * `Pid` that stands for it, linked to the socket's owner.
 *
 * - The owner's exit closes the socket (the process traps exits and ends normally, as 3.9's
 *   broker did).
 * - A socket that dies abnormally takes its owner's link with it: the owner gets the exit signal.
 *   As in 3.9, a message the socket does not expect is such a death, with `{badinfo, Msg}`.
 * - Whatever ends the process (close/1, the owner, `exit(Pid, kill)`, the node stopping) releases
 *   the network resources and forgets the socket, so later calls answer `{error, closed}`.
 */
import type { Node, Process } from "../bridge/api.js";
import { atom, error, isTagged, Pid, Ref, termEquals, tuple, type Term, type Tuple } from "../etf/terms.js";
import { badcall, reason, type FailureDetail } from "./errors.js";

const EXIT = atom("EXIT");
const DOWN = atom("DOWN");
const normal = atom("normal");
const sslsocket = atom("sslsocket");
const exception = atom("exception");

/**
 * How a socket tells its owner that its connection failed, in the words of the API that made it
 * (otp-api.ts has the modern API's).
 */
export interface EndWords {
  /** The reason of `{ssl_error, S, Reason}` and of a recv's `{error, Reason}`, from 3.9's and what happened. */
  readonly reason: (r: Term, detail: FailureDetail | undefined) => Term;
  /**
   * The reason for a packet that cannot be framed (over `packet_size`, or not of its type),
   * given the bytes that were buffered: what the socket could not make packets of.
   */
  readonly invalidPacket: (buffered: Uint8Array) => Term;
  /** Whether `{ssl_closed, S}` follows `{ssl_error, S, Reason}` in active mode. */
  readonly closedAfterError: boolean;
}

/** 3.9 framed on a gen_tcp socket, whose reason for a packet it cannot frame is emsgsize. */
const ssl39Words: EndWords = { reason: (r) => r, invalidPacket: () => reason.emsgsize, closedAfterError: true };

/** The sockets of one bridge, by Id. */
export class SocketTable {
  #nextId = 1;
  readonly #byId = new Map<number, Endpoint>();

  constructor(readonly node: Node) {}

  nextId(): number {
    return this.#nextId++;
  }

  add(e: Endpoint): void {
    this.#byId.set(e.id, e);
  }

  forget(e: Endpoint): void {
    if (this.#byId.get(e.id) === e) this.#byId.delete(e.id);
  }

  /** The socket a `{sslsocket, Id, Pid}` term names, if it is still open. */
  find(term: Tuple): Endpoint | undefined {
    const id = term.elements[1];
    const e = typeof id === "number" ? this.#byId.get(id) : undefined;
    return e !== undefined && termEquals(e.process.pid, term.elements[2]!) ? e : undefined;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Every open socket (for shutdown). */
  all(): Endpoint[] {
    return [...this.#byId.values()];
  }
}

/** True for a term of the shape `{sslsocket, Id, Pid}`. */
export function isSocketTerm(t: Term): t is Tuple {
  return isTagged(t, sslsocket, 3) && typeof t.elements[1] === "number" && t.elements[2] instanceof Pid;
}

export abstract class Endpoint {
  readonly id: number;
  readonly process: Process;
  /** `{sslsocket, Id, Pid}`: the term the owner holds, in every message the socket sends. */
  readonly term: Tuple;
  #owner: Pid;
  /** What to do when a watched caller goes (see `watch`), with the monitor's reference. */
  readonly #watched: Array<{ readonly ref: Ref; readonly gone: () => void }> = [];
  /** How the socket tells of its end: ssl 3.9's words unless the modern API set its own. */
  words: EndWords = ssl39Words;
  /** Resolves once the network resources are gone, after the process ended. */
  readonly settled: Promise<void>;
  protected readonly settle: () => void;

  constructor(
    protected readonly table: SocketTable,
    owner: Pid,
  ) {
    this.id = table.nextId();
    this.#owner = owner;
    let settle!: () => void;
    this.settled = new Promise<void>((resolve) => (settle = resolve));
    this.settle = settle;
    this.process = table.node.spawn(
      {
        message: (msg) => this.#onMessage(msg),
        terminated: () => {
          table.forget(this);
          this.release();
        },
      },
      { trapExit: true },
    );
    this.term = tuple(sslsocket, this.id, this.process.pid);
    table.add(this);
  }

  /**
   * Links the socket to its owner, once the subclass has made the socket (a link to an owner
   * that is already gone may close it at once); a socket made by `connect` only once connected.
   */
  protected linkOwner(): void {
    this.process.link(this.#owner);
  }

  get owner(): Pid {
    return this.#owner;
  }

  get open(): boolean {
    return this.process.alive;
  }

  /**
   * `controlling_process/2`: only the owner may give the socket away (3.9 refused anyone else
   * with a badcall); the link moves with it.
   */
  changeOwner(caller: Pid, newOwner: Pid, request: Term): void {
    if (!termEquals(caller, this.#owner)) throw badcall(request);
    if (termEquals(newOwner, this.#owner)) return;
    this.process.unlink(this.#owner);
    this.#owner = newOwner;
    this.process.link(newOwner);
  }

  /** A message to the owner, from the socket's process. */
  protected toOwner(msg: Term): void {
    this.process.send(this.#owner, msg);
  }

  /** close/1: ends the socket's process normally, which releases everything. */
  close(): void {
    this.process.terminate(normal);
  }

  /** Ends the socket abnormally: the owner, linked, gets the exit signal. */
  protected die(reason: Term): void {
    this.process.terminate(reason);
  }

  /**
   * Calls `gone` if `caller` exits before the returned function is called. A call that waits
   * (recv, transport_accept, connect's handshake) watches its caller, so that a caller that died
   * does not take the next packet or connection, nor keep a connection it was making, as a
   * gen_tcp call dies with its caller.
   */
  protected watch(caller: Pid, gone: () => void): () => void {
    const watch = { ref: this.process.monitor(caller), gone };
    this.#watched.push(watch);
    return () => {
      const i = this.#watched.indexOf(watch);
      if (i < 0) return;
      this.#watched.splice(i, 1);
      if (this.process.alive) this.process.demonitor(watch.ref);
    };
  }

  /**
   * `handler` made safe to run from a network event or a promise of this socket, outside any
   * process's message handling: an exception in it ends this socket as a crash ends an Erlang
   * process (the owner gets the exit signal `{exception, Message}`) and is logged, while the
   * bridge and its other sockets go on.
   */
  protected guarded<A extends unknown[]>(handler: (...args: A) => void): (...args: A) => void {
    return (...args) => {
      try {
        handler(...args);
      } catch (err) {
        this.table.node.log.error(`ts_ssl_bridge: socket ${this.id} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        this.die(tuple(exception, Buffer.from(err instanceof Error ? err.message : String(err))));
      }
    };
  }

  /** `getopts/2`: `{Tag, Value}` for each tag asked. */
  abstract getopts(tags: Term): Term[];
  /** `setopts/2`. */
  abstract setopts(list: Term): void;
  /** `sockname/1`: `{ok, {Address, Port}}`. */
  abstract sockname(): Term;

  /** Frees network resources and answers waiting calls; called once, when the process ends. */
  protected abstract release(): void;

  #onMessage(msg: Term): void {
    if (isTagged(msg, EXIT, 3)) {
      // An old owner's exit that raced with controlling_process/2 is not this owner's.
      if (termEquals(msg.elements[1]!, this.#owner)) this.close();
      return;
    }
    if (isTagged(msg, DOWN, 5)) {
      const i = this.#watched.findIndex((w) => termEquals(w.ref, msg.elements[1]!));
      if (i >= 0) this.#watched.splice(i, 1)[0]!.gone();
      return;
    }
    this.die(tuple(error, tuple(atom("badinfo"), msg)));
  }
}
