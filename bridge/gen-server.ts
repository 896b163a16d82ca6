/**
 * The `gen_server` call protocol (OTP's `gen.erl`), both ways.
 *
 * Serving: `serveCalls` registers a process that answers `{'$gen_call', {Pid, Tag}, Request}`.
 * From OTP 24 the tag is `[alias | Mref]`: the caller monitors the server with an alias and the
 * reply goes to that alias, so a reply after the caller's timeout (alias gone) is dropped by
 * the caller's node instead of landing in its mailbox. Older callers use a plain reference and
 * get the reply at their pid. Handlers may answer later, in any order, with `reply`.
 *
 * Calling: `call` does what `gen_server:call/3` does, from a short-lived bridge process.
 */
import { Atom, ImproperList, Pid, Ref, Tuple, atom, isTagged, termEquals, type Term } from "../etf/terms.js";
import { CodedError } from "../etf/errors.js";
import { formatTerm } from "../etf/format.js";
import type { Destination, From, Node, Process } from "./api.js";
import { am } from "./process.js";

const $gen_call = atom("$gen_call");
const aliasAtom = atom("alias");
const timeout = atom("timeout");

/** The alias of an OTP 24+ reply tag `[alias | Ref]`, if it is one. */
function replyAlias(tag: Term): Ref | undefined {
  if (!(tag instanceof ImproperList) || tag.elements.length !== 1 || tag.elements[0] !== aliasAtom) return undefined;
  return tag.tail instanceof Ref ? tag.tail : undefined;
}

/**
 * Registers `name` as a process answering `$gen_call`. `handle` gets each request and its
 * `From`; it answers with `reply`, now or later. Anything else sent to the process is logged
 * and dropped, as is a `$gen_call` whose From is not `{Pid, Tag}`.
 */
export function serveCalls(node: Node, name: Atom, handle: (request: Term, from: From) => void): Process {
  return node.spawn(
    {
      message(msg) {
        if (!isTagged(msg, $gen_call, 3)) {
          node.log.warning(`${name}: dropping an unexpected message ${formatTerm(msg, { maxLength: 300 })}`);
          return;
        }
        const from = msg.elements[1];
        if (!(from instanceof Tuple) || from.size !== 2 || !(from.elements[0] instanceof Pid)) {
          node.log.warning(`${name}: dropping a $gen_call with a malformed From ${formatTerm(from!, { maxLength: 300 })}`);
          return;
        }
        try {
          handle(msg.elements[2]!, { pid: from.elements[0], tag: from.elements[1]! });
        } catch (e) {
          node.log.error(`${name}: the handler failed on ${formatTerm(msg.elements[2]!, { maxLength: 300 })}: ${String(e)}`);
        }
      },
    },
    { register: name },
  );
}

/** Answers a call: `{Tag, Value}` to the caller's alias (OTP 24+) or to its pid. */
export function reply(server: Process, from: From, value: Term): void {
  server.send(replyAlias(from.tag) ?? from.pid, new Tuple([from.tag, value]));
}

/** A call that ended without a reply: `reason` as gen_server:call would exit with it. */
export class CallError extends CodedError<"call_failed"> {
  constructor(readonly reason: Term) {
    super("call_failed", `call failed: ${formatTerm(reason, { maxLength: 300 })}`);
  }
}

/**
 * `gen_server:call(To, Request, Timeout)`: monitors `to` with an alias as the reply tag, and
 * rejects with CallError(`timeout`, or the DOWN reason: `noproc`, `noconnection`...).
 */
export function call(node: Node, to: Destination & (Pid | Atom | Tuple), request: Term, timeoutMs = 5_000): Promise<Term> {
  return new Promise<Term>((resolve, reject) => {
    let mref: Ref | undefined;
    let tag: Term | undefined;
    let timer: NodeJS.Timeout | undefined;
    const done = (self: Process, ok: boolean, value: Term) => {
      clearTimeout(timer);
      self.terminate(am.normal);
      if (ok) resolve(value);
      else reject(new CallError(value));
    };
    const caller = node.spawn({
      message(msg, self) {
        if (!(msg instanceof Tuple) || tag === undefined) return;
        if (msg.size === 2 && termEquals(msg.elements[0]!, tag)) done(self, true, msg.elements[1]!);
        else if (isTagged(msg, am.DOWN, 5) && msg.elements[1] instanceof Ref && termEquals(msg.elements[1], mref!)) {
          done(self, false, msg.elements[4]!);
        }
      },
    });
    mref = caller.monitor(to);
    // Replies go to an alias that ends with the caller, so a late reply finds nobody.
    const alias = caller.alias();
    tag = new ImproperList([aliasAtom], alias);
    caller.send(to, new Tuple([$gen_call, new Tuple([caller.pid, tag]), request]));
    timer = setTimeout(() => done(caller, false, timeout), timeoutMs);
  });
}
