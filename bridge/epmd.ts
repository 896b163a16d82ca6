/**
 * The EPMD protocol's messages, parsed and built (`erl_dist_protocol.md`, "EPMD Protocol").
 * Requests carry a 2-byte length, which the reader takes off (`ByteQueue.takeFrame`); replies
 * do not. Reply parsers are pure: bytes in, a message and the offset after it out, or `"more"`
 * when the bytes stop short.
 */
import { ByteBuilder } from "../etf/bytes.js";
import { CodedError } from "../etf/errors.js";

/** Request and reply tags, by the names the protocol document gives them. */
const EPMD_TAG = {
  ALIVE2_REQ: 120,
  ALIVE2_X_RESP: 118, // 32-bit creation, distribution version 6 (OTP 23+)
  ALIVE2_RESP: 121, // 16-bit creation, older EPMDs
  PORT_PLEASE2_REQ: 122,
  PORT2_RESP: 119,
  NAMES_REQ: 110,
  DUMP_REQ: 100,
  KILL_REQ: 107,
  STOP_REQ: 115,
} as const;

/** The port EPMD listens on when `ERL_EPMD_PORT` names none. */
export const EPMD_PORT = 4369;

/** `NodeType` in ALIVE2_REQ and PORT2_RESP. */
export const NODE_TYPE = { NORMAL: 77, HIDDEN: 72 } as const;

/** The distribution protocol version OTP 23+ speaks; OTP 25 dropped version 5. */
export const DIST_VERSION = 6;

/** What a node tells EPMD about itself, and what EPMD tells others (ALIVE2_REQ, PORT2_RESP). */
export interface NodeInfo {
  port: number;
  nodeType: number;
  /** 0 = TCP/IPv4. */
  protocol: number;
  highestVersion: number;
  lowestVersion: number;
  /** The alive part of the node name (before `@`). */
  name: string;
  extra: Uint8Array;
}

export type EpmdRequest =
  | { kind: "ALIVE2_REQ"; node: NodeInfo }
  | { kind: "PORT_PLEASE2_REQ"; name: string }
  | { kind: "NAMES_REQ" }
  | { kind: "DUMP_REQ" }
  | { kind: "KILL_REQ" }
  | { kind: "STOP_REQ"; name: string };

export class EpmdError extends CodedError<"malformed" | "unknown_request" | "refused"> {}

export type Parsed<T> = { value: T; next: number } | "more";

const utf8 = new TextDecoder("utf-8", { fatal: false });

/** Where EPMD messages are built: each is a view of the builder's slab, handed over whole. */
const out = new ByteBuilder({ initialSize: 4096 });

/** PortNo .. Extra, the part ALIVE2_REQ and PORT2_RESP share. */
function nodeInfo(b: ByteBuilder, info: NodeInfo): ByteBuilder {
  const name = Buffer.from(info.name, "utf8");
  return b
    .u16(info.port)
    .u8(info.nodeType)
    .u8(info.protocol)
    .u16(info.highestVersion)
    .u16(info.lowestVersion)
    .u16(name.length)
    .bytes(name)
    .u16(info.extra.length)
    .bytes(info.extra);
}

/** Reads the shared node-info fields from `b[at..end)`; throws when they do not fit. */
function readNodeInfo(b: Buffer, at: number, end: number): { value: NodeInfo; next: number } {
  if (end - at < 10) throw new EpmdError("malformed", "node info shorter than its fixed fields");
  const nlen = b.readUInt16BE(at + 8);
  if (end - at < 10 + nlen + 2) throw new EpmdError("malformed", "node name runs past the message");
  const elen = b.readUInt16BE(at + 10 + nlen);
  const next = at + 12 + nlen + elen;
  if (next > end) throw new EpmdError("malformed", "extra field runs past the message");
  return {
    value: {
      port: b.readUInt16BE(at),
      nodeType: b[at + 2]!,
      protocol: b[at + 3]!,
      highestVersion: b.readUInt16BE(at + 4),
      lowestVersion: b.readUInt16BE(at + 6),
      name: utf8.decode(b.subarray(at + 10, at + 10 + nlen)),
      extra: b.subarray(at + 12 + nlen, next),
    },
    next,
  };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// ---- requests (2-byte length prefix) ----

export function buildRequest(req: EpmdRequest): Buffer {
  out.u8(EPMD_TAG[req.kind]);
  if (req.kind === "ALIVE2_REQ") nodeInfo(out, req.node);
  else if (req.kind === "PORT_PLEASE2_REQ" || req.kind === "STOP_REQ") out.bytes(Buffer.from(req.name, "utf8"));
  const body = out.finish();
  return out.u16(body.length).bytes(body).finish();
}

/**
 * One request, from its body (the bytes behind its 2-byte length, which `ByteQueue.takeFrame`
 * takes off); throws `EpmdError` on a request EPMD would refuse.
 */
export function parseRequest(body: Uint8Array): EpmdRequest {
  const b = asBuffer(body);
  if (b.length === 0) throw new EpmdError("malformed", "empty request");
  const tag = b[0]!;
  const name = () => utf8.decode(b.subarray(1));
  switch (tag) {
    case EPMD_TAG.ALIVE2_REQ: {
      const info = readNodeInfo(b, 1, b.length);
      if (info.next !== b.length) throw new EpmdError("malformed", "ALIVE2_REQ has trailing bytes");
      return { kind: "ALIVE2_REQ", node: info.value };
    }
    case EPMD_TAG.PORT_PLEASE2_REQ:
      return { kind: "PORT_PLEASE2_REQ", name: name() };
    case EPMD_TAG.STOP_REQ:
      return { kind: "STOP_REQ", name: name() };
    case EPMD_TAG.NAMES_REQ:
      return { kind: "NAMES_REQ" };
    case EPMD_TAG.DUMP_REQ:
      return { kind: "DUMP_REQ" };
    case EPMD_TAG.KILL_REQ:
      return { kind: "KILL_REQ" };
    default:
      throw new EpmdError("unknown_request", `unknown EPMD request tag ${tag}`);
  }
}

// ---- replies (no length prefix) ----

export interface Alive2Resp {
  result: number;
  creation: number;
}

export function buildAlive2XResp(result: number, creation: number): Buffer {
  return out.u8(EPMD_TAG.ALIVE2_X_RESP).u8(result).u32(creation >>> 0).finish();
}

/** ALIVE2_X_RESP, or the older ALIVE2_RESP with its 16-bit creation. */
export function parseAlive2Resp(bytes: Uint8Array): Parsed<Alive2Resp> {
  const b = asBuffer(bytes);
  if (b.length < 1) return "more";
  if (b[0] === EPMD_TAG.ALIVE2_X_RESP) {
    if (b.length < 6) return "more";
    return { value: { result: b[1]!, creation: b.readUInt32BE(2) }, next: 6 };
  }
  if (b[0] === EPMD_TAG.ALIVE2_RESP) {
    if (b.length < 4) return "more";
    return { value: { result: b[1]!, creation: b.readUInt16BE(2) }, next: 4 };
  }
  throw new EpmdError("malformed", `expected ALIVE2_X_RESP, got tag ${b[0]}`);
}

/** PORT2_RESP: the node's info, or just a non-zero result when EPMD does not know the name. */
export function buildPort2Resp(info: NodeInfo | undefined): Buffer {
  if (info === undefined) return out.u8(EPMD_TAG.PORT2_RESP).u8(1).finish();
  return nodeInfo(out.u8(EPMD_TAG.PORT2_RESP).u8(0), info).finish();
}

export function parsePort2Resp(bytes: Uint8Array): Parsed<NodeInfo | undefined> {
  const b = asBuffer(bytes);
  if (b.length < 2) return "more";
  if (b[0] !== EPMD_TAG.PORT2_RESP) throw new EpmdError("malformed", `expected PORT2_RESP, got tag ${b[0]}`);
  if (b[1] !== 0) return { value: undefined, next: 2 };
  // The reply is as long as EPMD makes it; wait until the fixed fields and both lengths are in.
  if (b.length < 12) return "more";
  const nlen = b.readUInt16BE(10);
  if (b.length < 14 + nlen) return "more";
  const elen = b.readUInt16BE(12 + nlen);
  if (b.length < 14 + nlen + elen) return "more";
  return readNodeInfo(b, 2, b.length);
}

/** NAMES_RESP (and DUMP_RESP): EPMD's port, then `name N at port P\n` lines until EPMD closes. */
export function buildNamesResp(epmdPort: number, nodes: ReadonlyArray<{ name: string; port: number }>): Buffer {
  const lines = nodes.map((n) => `name ${n.name} at port ${n.port}\n`).join("");
  return out.u32(epmdPort).bytes(Buffer.from(lines, "utf8")).finish();
}

export interface NamesResp {
  epmdPort: number;
  nodes: Array<{ name: string; port: number }>;
}

/** A whole NAMES_RESP, as read until EPMD closed the connection. */
export function parseNamesResp(bytes: Uint8Array): NamesResp {
  const b = asBuffer(bytes);
  if (b.length < 4) throw new EpmdError("malformed", "NAMES_RESP shorter than its port field");
  const nodes: Array<{ name: string; port: number }> = [];
  for (const line of utf8.decode(b.subarray(4)).split("\n")) {
    const m = /^name (.+) at port (\d+)$/.exec(line);
    if (m) nodes.push({ name: m[1]!, port: Number(m[2]) });
  }
  return { epmdPort: b.readUInt32BE(0), nodes };
}
