/**
 * Driving SslService from a test without Erlang: callers are processes of the bridge's own
 * process runtime, alone (no distribution), whose mailboxes the test reads; requests are the README's terms, replies are printed as Erlang
 * prints them (`formatTerm`) so that tests read like a shell session.
 */
import type { AddressInfo } from "node:net";
import { atom, charlist, formatTerm, Tuple, tuple, type Term } from "../../etf/index.js";
import { MemoryLogger } from "../../bridge/log.js";
import { ProcessRuntime } from "../../bridge/runtime.js";
import { SslService } from "../../ts-ssl/service.js";
import { Mailbox } from "../support/mailbox.js";

export const a = atom;
export const t = tuple;
export const s = charlist;
export const infinity = atom("infinity");
export const show = (x: Term) => formatTerm(x, { maxLength: 100_000 });

export class Bench {
  readonly log = new MemoryLogger();
  readonly node = new ProcessRuntime(atom("local@localhost"), this.log);
  readonly service = new SslService(this.node);

  caller(trapExit = false): Caller {
    return new Caller(this, trapExit);
  }

  async stop(): Promise<void> {
    this.service.closeAll();
    await this.node.stop();
  }
}

export class Caller {
  readonly mailbox: Mailbox;

  constructor(
    readonly bench: Bench,
    trapExit: boolean,
  ) {
    this.mailbox = new Mailbox(bench.node, { trapExit });
  }

  get pid() {
    return this.mailbox.pid;
  }

  /** `gen_server:call(ts_ssl_bridge, {Name, Args...})` from this process. */
  async call(name: string, ...args: Term[]): Promise<Term> {
    const request = args.length === 0 ? atom(name) : tuple(atom(name), ...args);
    return this.bench.service.call(request, { pid: this.pid, tag: atom("tag") });
  }

  /** A call whose reply must be `{ok, Socket}`; the socket term. */
  async socket(name: string, ...args: Term[]): Promise<Tuple> {
    const r = await this.call(name, ...args);
    if (!(r instanceof Tuple) || r.elements[0] !== atom("ok")) throw new Error(`${name}: ${show(r)}`);
    return r.elements[1] as Tuple;
  }

  /** The next message, printed, with the socket term written `S`. */
  async next(socket?: Term, match?: (m: Term) => boolean): Promise<string> {
    const m = await this.mailbox.take(match);
    const text = show(m);
    return socket === undefined ? text : text.split(show(socket)).join("S");
  }

  get pending(): string[] {
    return this.mailbox.messages.map(show);
  }
}

export function portOf(server: { address(): AddressInfo | string | null }): number {
  return (server.address() as AddressInfo).port;
}
