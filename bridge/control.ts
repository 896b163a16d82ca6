/**
 * Control messages (`erl_dist_protocol.md`, "Protocol between Connected Nodes"; operation codes
 * from OTP's `dist.h`): the tuple that opens each distribution message, and the payload term
 * that follows it for some operations. `parseSignal` turns a control tuple (and its payload) into
 * a typed `Signal`; the `build*` functions make the tuples we send.
 *
 * The same `Signal` type also carries signals between the bridge's own processes, so that local
 * and remote delivery follow one path.
 */
import { CodedError } from "../etf/errors.js";
import { Atom, Pid, Ref, Tuple, atom, isInteger, type Term } from "../etf/terms.js";

/** Operation codes, with the OTP release that introduced the newer ones. */
export const DOP = {
  LINK: 1,
  SEND: 2,
  EXIT: 3,
  UNLINK: 4, // gone in OTP 26; replaced by UNLINK_ID
  NODE_LINK: 5,
  REG_SEND: 6,
  GROUP_LEADER: 7,
  EXIT2: 8,
  SEND_TT: 12,
  EXIT_TT: 13,
  REG_SEND_TT: 16,
  EXIT2_TT: 18,
  MONITOR_P: 19,
  DEMONITOR_P: 20,
  MONITOR_P_EXIT: 21,
  SEND_SENDER: 22, // OTP 21
  SEND_SENDER_TT: 23, // OTP 21
  PAYLOAD_EXIT: 24, // OTP 22
  PAYLOAD_EXIT_TT: 25, // OTP 22
  PAYLOAD_EXIT2: 26, // OTP 22
  PAYLOAD_EXIT2_TT: 27, // OTP 22
  PAYLOAD_MONITOR_P_EXIT: 28, // OTP 22
  SPAWN_REQUEST: 29, // OTP 23
  SPAWN_REQUEST_TT: 30, // OTP 23
  SPAWN_REPLY: 31, // OTP 23
  SPAWN_REPLY_TT: 32, // OTP 23
  ALIAS_SEND: 33, // OTP 24
  ALIAS_SEND_TT: 34, // OTP 24
  UNLINK_ID: 35, // OTP 23.3
  UNLINK_ID_ACK: 36, // OTP 23.3
} as const;

const dopNames = new Map<number, string>(Object.entries(DOP).map(([k, v]) => [v, k]));

function dopName(op: number): string {
  return dopNames.get(op) ?? `unknown operation ${op}`;
}

/** Operations followed by a payload term (the message, the exit reason, the spawn arguments). */
const WITH_PAYLOAD = new Set<number>([
  DOP.SEND,
  DOP.REG_SEND,
  DOP.SEND_TT,
  DOP.REG_SEND_TT,
  DOP.SEND_SENDER,
  DOP.SEND_SENDER_TT,
  DOP.PAYLOAD_EXIT,
  DOP.PAYLOAD_EXIT_TT,
  DOP.PAYLOAD_EXIT2,
  DOP.PAYLOAD_EXIT2_TT,
  DOP.PAYLOAD_MONITOR_P_EXIT,
  DOP.SPAWN_REQUEST,
  DOP.SPAWN_REQUEST_TT,
  DOP.ALIAS_SEND,
  DOP.ALIAS_SEND_TT,
]);

/**
 * The size of each operation's control tuple (erl_dist_protocol.md), the `_TT` forms one
 * element larger for the trace token. UNLINK and NODE_LINK are left out: we refuse them.
 */
const ARITY: Readonly<Partial<Record<number, number>>> = {
  [DOP.LINK]: 3,
  [DOP.SEND]: 3,
  [DOP.EXIT]: 4,
  [DOP.REG_SEND]: 4,
  [DOP.GROUP_LEADER]: 3,
  [DOP.EXIT2]: 4,
  [DOP.SEND_TT]: 4,
  [DOP.EXIT_TT]: 5,
  [DOP.REG_SEND_TT]: 5,
  [DOP.EXIT2_TT]: 5,
  [DOP.MONITOR_P]: 4,
  [DOP.DEMONITOR_P]: 4,
  [DOP.MONITOR_P_EXIT]: 5,
  [DOP.SEND_SENDER]: 3,
  [DOP.SEND_SENDER_TT]: 4,
  [DOP.PAYLOAD_EXIT]: 3,
  [DOP.PAYLOAD_EXIT_TT]: 4,
  [DOP.PAYLOAD_EXIT2]: 3,
  [DOP.PAYLOAD_EXIT2_TT]: 4,
  [DOP.PAYLOAD_MONITOR_P_EXIT]: 4,
  [DOP.SPAWN_REQUEST]: 6,
  [DOP.SPAWN_REQUEST_TT]: 7,
  [DOP.SPAWN_REPLY]: 5,
  [DOP.SPAWN_REPLY_TT]: 6,
  [DOP.ALIAS_SEND]: 3,
  [DOP.ALIAS_SEND_TT]: 4,
  [DOP.UNLINK_ID]: 4,
  [DOP.UNLINK_ID_ACK]: 4,
};

/** The operation of a control term, if it is a tuple opening with a small integer. */
export function controlOp(control: Term): number | undefined {
  if (!(control instanceof Tuple)) return undefined;
  const op = control.elements[0];
  return typeof op === "number" ? op : undefined;
}

export function hasPayload(op: number): boolean {
  return WITH_PAYLOAD.has(op);
}

/** A signal between processes, local or remote. Trace tokens are accepted and dropped. */
export type Signal =
  | { op: "send"; from: Pid | undefined; to: Pid; message: Term }
  | { op: "reg_send"; from: Pid; to: Atom; message: Term }
  | { op: "alias_send"; from: Pid; to: Ref; message: Term }
  | { op: "link"; from: Pid; to: Pid }
  | { op: "unlink_id"; id: number | bigint; from: Pid; to: Pid }
  | { op: "unlink_id_ack"; id: number | bigint; from: Pid; to: Pid }
  /** A linked process ended. */
  | { op: "exit"; from: Pid; to: Pid; reason: Term }
  /** `exit/2`. */
  | { op: "exit2"; from: Pid; to: Pid; reason: Term }
  | { op: "monitor"; from: Pid; to: Pid | Atom; ref: Ref }
  | { op: "demonitor"; from: Pid; to: Pid | Atom; ref: Ref }
  /** The monitored process (`from`, a pid or the name it was monitored by) ended. */
  | { op: "monitor_exit"; from: Pid | Atom; to: Pid; ref: Ref; reason: Term }
  | { op: "group_leader"; from: Pid; to: Pid }
  | { op: "spawn_request"; ref: Ref; from: Pid; groupLeader: Pid; mfa: Term; options: Term; args: Term }
  | { op: "spawn_reply"; ref: Ref; to: Pid; flags: number; result: Term };

export class ControlError extends CodedError<"malformed" | "unsupported"> {
  constructor(
    code: "malformed" | "unsupported",
    readonly op: number | undefined,
    detail: string,
  ) {
    super(code, `${op === undefined ? "control message" : dopName(op)}: ${detail}`);
  }
}

const noCookie = atom("");

/**
 * The signal a control tuple (and its payload, for the operations that have one) stands for.
 * Throws `ControlError` for a shape the protocol does not define, and for the obsolete or
 * meaningless operations (UNLINK, NODE_LINK) a peer should not send us.
 */
export function parseSignal(control: Term, payload: Term | undefined): Signal {
  const op = controlOp(control);
  if (op === undefined) throw new ControlError("malformed", undefined, "not a tuple opening with an operation code");
  const e = (control as Tuple).elements;
  const size = ARITY[op];
  if (size !== undefined && e.length !== size) throw malformed(op, `a tuple of ${e.length} elements`);
  switch (op) {
    case DOP.SEND:
    case DOP.SEND_TT:
      return { op: "send", from: undefined, to: pid(op, e, 2), message: withPayload(op, payload) };
    case DOP.SEND_SENDER:
    case DOP.SEND_SENDER_TT:
      return { op: "send", from: pid(op, e, 1), to: pid(op, e, 2), message: withPayload(op, payload) };
    case DOP.REG_SEND:
    case DOP.REG_SEND_TT: {
      const to = e[3];
      if (!(to instanceof Atom)) throw malformed(op, "element 4 is not a name");
      return { op: "reg_send", from: pid(op, e, 1), to, message: withPayload(op, payload) };
    }
    case DOP.ALIAS_SEND:
    case DOP.ALIAS_SEND_TT:
      return { op: "alias_send", from: pid(op, e, 1), to: ref(op, e, 2), message: withPayload(op, payload) };
    case DOP.LINK:
      return { op: "link", from: pid(op, e, 1), to: pid(op, e, 2) };
    case DOP.UNLINK_ID:
      return { op: "unlink_id", id: unlinkId(op, e[1]), from: pid(op, e, 2), to: pid(op, e, 3) };
    case DOP.UNLINK_ID_ACK:
      return { op: "unlink_id_ack", id: unlinkId(op, e[1]), from: pid(op, e, 2), to: pid(op, e, 3) };
    case DOP.EXIT:
    case DOP.EXIT_TT:
    case DOP.PAYLOAD_EXIT:
    case DOP.PAYLOAD_EXIT_TT:
      return { op: "exit", from: pid(op, e, 1), to: pid(op, e, 2), reason: exitReason(op, e, payload) };
    case DOP.EXIT2:
    case DOP.EXIT2_TT:
    case DOP.PAYLOAD_EXIT2:
    case DOP.PAYLOAD_EXIT2_TT:
      return { op: "exit2", from: pid(op, e, 1), to: pid(op, e, 2), reason: exitReason(op, e, payload) };
    case DOP.MONITOR_P:
      return { op: "monitor", from: pid(op, e, 1), to: proc(op, e, 2), ref: ref(op, e, 3) };
    case DOP.DEMONITOR_P:
      return { op: "demonitor", from: pid(op, e, 1), to: proc(op, e, 2), ref: ref(op, e, 3) };
    case DOP.MONITOR_P_EXIT:
    case DOP.PAYLOAD_MONITOR_P_EXIT:
      return { op: "monitor_exit", from: proc(op, e, 1), to: pid(op, e, 2), ref: ref(op, e, 3), reason: exitReason(op, e, payload) };
    case DOP.GROUP_LEADER:
      return { op: "group_leader", from: pid(op, e, 1), to: pid(op, e, 2) };
    case DOP.SPAWN_REQUEST:
    case DOP.SPAWN_REQUEST_TT:
      return {
        op: "spawn_request",
        ref: ref(op, e, 1),
        from: pid(op, e, 2),
        groupLeader: pid(op, e, 3),
        mfa: e[4]!,
        options: e[5]!,
        args: withPayload(op, payload),
      };
    case DOP.SPAWN_REPLY:
    case DOP.SPAWN_REPLY_TT: {
      const flags = e[3];
      if (typeof flags !== "number") throw malformed(op, "element 4 is not a small integer");
      return { op: "spawn_reply", ref: ref(op, e, 1), to: pid(op, e, 2), flags, result: e[4]! };
    }
    case DOP.UNLINK:
      throw new ControlError("unsupported", op, "the old unlink protocol (OTP 26 dropped it; UNLINK_ID replaces it)");
    default:
      throw new ControlError("unsupported", op, "not an operation we handle");
  }
}

// Field readers for parseSignal: plain functions, as this runs for every message received.

function malformed(op: number, what: string): ControlError {
  return new ControlError("malformed", op, what);
}

function pid(op: number, e: Term[], i: number): Pid {
  const v = e[i];
  if (v instanceof Pid) return v;
  throw malformed(op, `element ${i + 1} is not a pid`);
}

function ref(op: number, e: Term[], i: number): Ref {
  const v = e[i];
  if (v instanceof Ref) return v;
  throw malformed(op, `element ${i + 1} is not a reference`);
}

function proc(op: number, e: Term[], i: number): Pid | Atom {
  const v = e[i];
  if (v instanceof Pid || v instanceof Atom) return v;
  throw malformed(op, `element ${i + 1} is not a pid or a name`);
}

function unlinkId(op: number, v: Term | undefined): number | bigint {
  if (isInteger(v) && v > 0) return v;
  throw malformed(op, "the unlink id is not a positive integer");
}

/**
 * The reason of an exit signal (EXIT, EXIT2, MONITOR_P_EXIT): the tuple's last element, or the
 * payload in the PAYLOAD_ forms of OTP 22.
 */
function exitReason(op: number, e: Term[], payload: Term | undefined): Term {
  return hasPayload(op) ? withPayload(op, payload) : e[e.length - 1]!;
}

function withPayload(op: number, payload: Term | undefined): Term {
  if (payload === undefined) throw malformed(op, "no payload");
  return payload;
}

/** The parts of a distribution message: the control tuple and, for some operations, a payload. */
export interface ControlMessage {
  control: Tuple;
  payload?: Term;
}

/** What the peer's flags let us use when writing control messages. */
export interface WriteFlags {
  sendSender: boolean;
  exitPayload: boolean;
}

/** The control message for a signal to a process on the peer. */
export function buildControl(sig: Signal, f: WriteFlags): ControlMessage {
  switch (sig.op) {
    case "send":
      return f.sendSender && sig.from !== undefined
        ? { control: t(DOP.SEND_SENDER, sig.from, sig.to), payload: sig.message }
        : { control: t(DOP.SEND, noCookie, sig.to), payload: sig.message };
    case "reg_send":
      return { control: t(DOP.REG_SEND, sig.from, noCookie, sig.to), payload: sig.message };
    case "alias_send":
      return { control: t(DOP.ALIAS_SEND, sig.from, sig.to), payload: sig.message };
    case "link":
      return { control: t(DOP.LINK, sig.from, sig.to) };
    case "unlink_id":
      return { control: t(DOP.UNLINK_ID, sig.id, sig.from, sig.to) };
    case "unlink_id_ack":
      return { control: t(DOP.UNLINK_ID_ACK, sig.id, sig.from, sig.to) };
    case "exit":
      return f.exitPayload
        ? { control: t(DOP.PAYLOAD_EXIT, sig.from, sig.to), payload: sig.reason }
        : { control: t(DOP.EXIT, sig.from, sig.to, sig.reason) };
    case "exit2":
      return f.exitPayload
        ? { control: t(DOP.PAYLOAD_EXIT2, sig.from, sig.to), payload: sig.reason }
        : { control: t(DOP.EXIT2, sig.from, sig.to, sig.reason) };
    case "monitor":
      return { control: t(DOP.MONITOR_P, sig.from, sig.to, sig.ref) };
    case "demonitor":
      return { control: t(DOP.DEMONITOR_P, sig.from, sig.to, sig.ref) };
    case "monitor_exit":
      return f.exitPayload
        ? { control: t(DOP.PAYLOAD_MONITOR_P_EXIT, sig.from, sig.to, sig.ref), payload: sig.reason }
        : { control: t(DOP.MONITOR_P_EXIT, sig.from, sig.to, sig.ref, sig.reason) };
    case "group_leader":
      return { control: t(DOP.GROUP_LEADER, sig.from, sig.to) };
    case "spawn_request":
      return {
        control: t(DOP.SPAWN_REQUEST, sig.ref, sig.from, sig.groupLeader, sig.mfa, sig.options),
        payload: sig.args,
      };
    case "spawn_reply":
      return { control: t(DOP.SPAWN_REPLY, sig.ref, sig.to, sig.flags, sig.result) };
  }
}

/** A control tuple: the rest parameter's array becomes its elements. */
function t(...elements: Term[]): Tuple {
  return new Tuple(elements);
}
