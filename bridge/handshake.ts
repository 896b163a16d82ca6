/**
 * The distribution handshake (`erl_dist_protocol.md`, "Distribution Handshake"; OTP's
 * `dist_util.erl`), both sides, as straight-line scripts of the protocol's named steps over an
 * injected transport that carries whole handshake messages (the 2-byte framing is the
 * transport's). No sockets and no timers here: the transport's `recv` rejects on close or timeout.
 *
 * We always send the version 6 name (`N`); we accept `N`, and the older `n` followed by the
 * complement `c` from OTP 23/24 peers that did not ask EPMD for our version.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { ByteBuilder } from "../etf/bytes.js";
import { CodedError } from "../etf/errors.js";
import { DFLAG, expandDigest, missingFlags } from "./flags.js";
import { splitNodeName } from "./names.js";

/** Message tags (first byte of each handshake message). */
const HS_TAG = {
  NAME: 0x4e, // 'N': send_name (version 6) and send_challenge
  OLD_NAME: 0x6e, // 'n': send_name, version 5 format with HANDSHAKE_23 (OTP 23/24)
  STATUS: 0x73, // 's'
  COMPLEMENT: 0x63, // 'c'
  CHALLENGE_REPLY: 0x72, // 'r'
  CHALLENGE_ACK: 0x61, // 'a'
} as const;

/** The step names of dist_util, used in errors and logs. */
export type Step =
  | "send_name"
  | "recv_name"
  | "check_dflags"
  | "send_status"
  | "recv_status"
  | "send_challenge"
  | "recv_challenge"
  | "recv_complement"
  | "send_challenge_reply"
  | "recv_challenge_reply"
  | "send_challenge_ack"
  | "recv_challenge_ack";

export type HandshakeErrorCode =
  | "malformed" // a message that does not parse
  | "unexpected" // a message of the wrong kind for the step
  | "bad_name" // not a node name (or not the node we called)
  | "missing_flags" // the peer lacks flags we require
  | "bad_cookie" // the digest does not match
  | "not_allowed" // the peer refused us
  | "nok" // simultaneous connect, the other attempt wins
  | "alive_false" // the peer confirmed that its old connection is the one to keep
  | "closed" // the transport closed
  | "timeout"; // the transport gave up waiting

export class HandshakeError extends CodedError<HandshakeErrorCode> {
  constructor(
    readonly step: Step,
    code: HandshakeErrorCode,
    message: string,
    /** The peer's node name, once known. */
    readonly peer?: string,
    /** Names of the flags the peer lacked (code `missing_flags`). */
    readonly missing: string[] = [],
  ) {
    super(code, `${step}: ${message}`);
  }
}

/** Carries whole handshake messages (without their length prefix). */
export interface HandshakeTransport {
  send(message: Uint8Array): void;
  /** The next message; rejects with a HandshakeError of code `closed` or `timeout`. */
  recv(step: Step): Promise<Uint8Array>;
}

/** What a completed handshake established. */
export interface HandshakeResult {
  /** The peer's full node name. */
  peer: string;
  peerCreation: number;
  /** The flags both sides have: ours AND theirs (digest bit expanded). */
  flags: bigint;
  /** The accepting side admitted this connection over one it thought alive (status `alive`). */
  replacesAlive: boolean;
}

interface Local {
  /** Our full node name. */
  name: string;
  creation: number;
  flags: bigint;
  /** Flags we require of a peer. */
  required: bigint;
}

export interface ConnectOptions extends Local {
  /** The node we called; the challenge must come from it. */
  peer: string;
  cookie: string;
}

/** The status the accepting side sends after recv_name (dist_util's `mark_pending` outcomes). */
export type Admission = "ok" | "ok_simultaneous" | "nok" | "not_allowed" | "alive";

export interface AcceptOptions extends Local {
  cookie(peer: string): string;
  /** Decides about the peer that named itself. */
  admit(peer: string, creation: number): Admission;
  /** Names a peer that asked for a dynamic name (NAME_ME): a full name and its creation. */
  nameMe(host: string): { name: string; creation: number };
}

// ---- the accepting side (B in the protocol document) ----

export async function acceptHandshake(t: HandshakeTransport, o: AcceptOptions): Promise<HandshakeResult> {
  const hello = parseName(await t.recv("recv_name"));
  let peer = hello.name;
  let peerCreation = hello.creation;
  let peerFlags = expandDigest(hello.flags);
  const dynamic = (peerFlags & DFLAG.NAME_ME) !== 0n;
  if (!(dynamic ? isHostName(peer) : isNodeName(peer))) {
    throw new HandshakeError("recv_name", "bad_name", `${JSON.stringify(peer)} is not a node name`);
  }
  checkFlags("check_dflags", o.required, peerFlags, peer, () => t.send(buildStatus("not_allowed")));

  let replacesAlive = false;
  if (dynamic) {
    const named = o.nameMe(peer);
    peer = named.name;
    peerCreation = named.creation;
    t.send(buildNamedStatus(peer, peerCreation));
  } else {
    const admission = o.admit(peer, peerCreation);
    t.send(buildStatus(admission));
    if (admission === "nok" || admission === "not_allowed") {
      throw new HandshakeError("send_status", admission, `told ${peer} ${admission}`, peer);
    }
    if (admission === "alive") {
      const answer = parseStatus(await t.recv("recv_status"), "recv_status");
      if (answer !== "true") {
        throw new HandshakeError("recv_status", "alive_false", `${peer} keeps its old connection`, peer);
      }
      replacesAlive = true;
    }
  }

  // A peer that asked for a name sees NAME_ME in our flags too: it checks that the flags both
  // sides keep still say its name is dynamic (dist_util's do_setnode).
  const ourFlags = dynamic ? o.flags | DFLAG.NAME_ME : o.flags;
  const challengeB = newChallenge();
  t.send(buildChallenge(ourFlags, challengeB, o.creation, o.name));

  if (hello.old) {
    const c = parseComplement(await t.recv("recv_complement"));
    peerFlags = expandDigest(peerFlags | c.flagsHigh);
    peerCreation = c.creation;
  }

  const reply = parseChallengeReply(await t.recv("recv_challenge_reply"));
  const cookie = o.cookie(peer);
  if (!digestEquals(reply.digest, digest(challengeB, cookie))) {
    throw new HandshakeError("recv_challenge_reply", "bad_cookie", `invalid challenge reply from ${peer}`, peer);
  }
  t.send(buildChallengeAck(digest(reply.challenge, cookie)));
  return { peer, peerCreation, flags: ourFlags & peerFlags, replacesAlive };
}

// ---- the connecting side (A) ----

export async function connectHandshake(t: HandshakeTransport, o: ConnectOptions): Promise<HandshakeResult> {
  t.send(buildName(o.flags, o.creation, o.name));

  const status = parseStatus(await t.recv("recv_status"), "recv_status");
  switch (status) {
    case "ok":
    case "ok_simultaneous":
      break;
    case "alive":
      // Whatever the peer holds is an older connection: this attempt is the one we want.
      t.send(buildStatus("true"));
      break;
    case "nok":
    case "not_allowed":
      throw new HandshakeError("recv_status", status, `${o.peer} answered ${status}`, o.peer);
    default:
      throw new HandshakeError("recv_status", "unexpected", `${o.peer} answered ${JSON.stringify(status)}`, o.peer);
  }

  const ch = parseChallenge(await t.recv("recv_challenge"));
  if (ch.name !== o.peer) {
    throw new HandshakeError("recv_challenge", "bad_name", `the challenge came from ${ch.name}, not ${o.peer}`, o.peer);
  }
  const peerFlags = expandDigest(ch.flags);
  checkFlags("check_dflags", o.required, peerFlags, o.peer, () => {});

  const challengeA = newChallenge();
  t.send(buildChallengeReply(challengeA, digest(ch.challenge, o.cookie)));

  const ack = parseChallengeAck(await t.recv("recv_challenge_ack"));
  if (!digestEquals(ack.digest, digest(challengeA, o.cookie))) {
    throw new HandshakeError("recv_challenge_ack", "bad_cookie", `invalid challenge ack from ${o.peer}`, o.peer);
  }
  return { peer: o.peer, peerCreation: ch.creation, flags: o.flags & peerFlags, replacesAlive: false };
}

function checkFlags(step: Step, required: bigint, offered: bigint, peer: string, refuse: () => void): void {
  const missing = missingFlags(required, offered);
  if (missing.length === 0) return;
  refuse();
  throw new HandshakeError(step, "missing_flags", `${peer} cannot handle ${missing.join(", ")}`, peer, missing);
}

// ---- digests ----

/** MD5 of the cookie followed by the challenge in decimal (`dist_util:gen_digest/2`). */
export function digest(challenge: number, cookie: string): Buffer {
  return createHash("md5").update(Buffer.from(cookie, "latin1")).update(String(challenge >>> 0)).digest();
}

function digestEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function newChallenge(): number {
  return randomBytes(4).readUInt32BE(0);
}

// ---- names ----

/** `Name@Host`, both parts non-empty (dist_util's `is_node_name/1`). */
function isNodeName(s: string): boolean {
  return splitNodeName(s) !== undefined && s.length <= 255;
}

function isHostName(s: string): boolean {
  return s.length > 0 && !s.includes("@") && s.length <= 255;
}

// ---- messages ----

function view(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function malformed(step: Step, what: string): HandshakeError {
  return new HandshakeError(step, "malformed", what);
}

// Node names travel as latin1 bytes in the handshake (dist_util's `atom_to_binary(Node, latin1)`);
// only the `named:` status carries UTF-8. The name and challenge messages end with the name
// behind its 2-byte length.

/** Where handshake messages are built: each is a view of the builder's slab, handed over whole. */
const out = new ByteBuilder({ initialSize: 4096 });

/** The node name behind its 2-byte length, ending a name or challenge message. */
function nodeName(b: ByteBuilder, name: string): ByteBuilder {
  const n = Buffer.from(name, "latin1");
  return b.u16(n.length).bytes(n);
}

/**
 * The node name after `fields` bytes of fixed fields, checking first that those are all there.
 * Bytes after the name are allowed and ignored (erl_dist_protocol.md).
 */
function readNodeName(b: Buffer, fields: number, step: Step, message: string): string {
  if (b.length < fields + 2) throw malformed(step, `${message} shorter than its fixed fields`);
  const end = fields + 2 + b.readUInt16BE(fields);
  if (b.length < end) throw malformed(step, "node name runs past the message");
  return b.toString("latin1", fields + 2, end);
}

export interface NameMessage {
  flags: bigint;
  creation: number;
  name: string;
  /** It came as the version 5 `n`: a complement follows the challenge. */
  old: boolean;
}

export function buildName(flags: bigint, creation: number, name: string): Buffer {
  return nodeName(out.u8(HS_TAG.NAME).u64(flags).u32(creation >>> 0), name).finish();
}

/** The version 5 name message, as OTP 23/24 send it to a node of unknown version. */
export function buildOldName(flags: bigint, name: string): Buffer {
  return out
    .u8(HS_TAG.OLD_NAME)
    .u16(5)
    .u32(Number(flags & 0xffffffffn))
    .bytes(Buffer.from(name, "latin1"))
    .finish();
}

export function parseName(m: Uint8Array): NameMessage {
  const b = view(m);
  if (b[0] === HS_TAG.NAME) {
    const name = readNodeName(b, 13, "recv_name", "name message");
    return { flags: b.readBigUInt64BE(1), creation: b.readUInt32BE(9), name, old: false };
  }
  if (b[0] === HS_TAG.OLD_NAME) {
    if (b.length < 7) throw malformed("recv_name", "old name message shorter than its fixed fields");
    const version = b.readUInt16BE(1);
    const flags = BigInt(b.readUInt32BE(3));
    if (version !== 5) throw malformed("recv_name", `old name message with version ${version}`);
    if ((flags & DFLAG.HANDSHAKE_23) === 0n) {
      throw new HandshakeError("recv_name", "missing_flags", "a version 5 peer without HANDSHAKE_23", undefined, [
        "HANDSHAKE_23",
      ]);
    }
    return { flags, creation: 0, name: b.toString("latin1", 7), old: true };
  }
  throw new HandshakeError("recv_name", "unexpected", `expected a name message, got tag ${b[0]}`);
}

export function buildStatus(status: string): Buffer {
  return out.u8(HS_TAG.STATUS).bytes(Buffer.from(status, "latin1")).finish();
}

/** `snamed:` with the name and creation given to a peer that asked for a dynamic name. */
function buildNamedStatus(name: string, creation: number): Buffer {
  const n = Buffer.from(name, "utf8");
  return out
    .bytes(Buffer.from("snamed:", "latin1"))
    .u16(n.length)
    .bytes(n)
    .u32(creation >>> 0)
    .finish();
}

export function parseStatus(m: Uint8Array, step: Step): string {
  if (m[0] !== HS_TAG.STATUS) throw new HandshakeError(step, "unexpected", `expected a status, got tag ${m[0]}`);
  return view(m).toString("latin1", 1);
}

export interface ChallengeMessage {
  flags: bigint;
  challenge: number;
  creation: number;
  name: string;
}

export function buildChallenge(flags: bigint, challenge: number, creation: number, name: string): Buffer {
  return nodeName(out.u8(HS_TAG.NAME).u64(flags).u32(challenge >>> 0).u32(creation >>> 0), name).finish();
}

export function parseChallenge(m: Uint8Array): ChallengeMessage {
  const b = view(m);
  if (b[0] !== HS_TAG.NAME) {
    throw new HandshakeError("recv_challenge", "unexpected", `expected a challenge, got tag ${b[0]}`);
  }
  const name = readNodeName(b, 17, "recv_challenge", "challenge");
  return { flags: b.readBigUInt64BE(1), challenge: b.readUInt32BE(9), creation: b.readUInt32BE(13), name };
}

export function buildComplement(flags: bigint, creation: number): Buffer {
  return out
    .u8(HS_TAG.COMPLEMENT)
    .u32(Number(flags >> 32n) >>> 0)
    .u32(creation >>> 0)
    .finish();
}

function parseComplement(m: Uint8Array): { flagsHigh: bigint; creation: number } {
  const b = view(m);
  if (b[0] !== HS_TAG.COMPLEMENT) {
    throw new HandshakeError("recv_complement", "unexpected", `expected a complement, got tag ${b[0]}`);
  }
  if (b.length < 9) throw malformed("recv_complement", "complement shorter than 9 bytes");
  return { flagsHigh: BigInt(b.readUInt32BE(1)) << 32n, creation: b.readUInt32BE(5) };
}

export function buildChallengeReply(challenge: number, d: Uint8Array): Buffer {
  return out.u8(HS_TAG.CHALLENGE_REPLY).u32(challenge >>> 0).bytes(d).finish();
}

function parseChallengeReply(m: Uint8Array): { challenge: number; digest: Uint8Array } {
  const b = view(m);
  if (b[0] !== HS_TAG.CHALLENGE_REPLY) {
    throw new HandshakeError("recv_challenge_reply", "unexpected", `expected a challenge reply, got tag ${b[0]}`);
  }
  if (b.length !== 21) throw malformed("recv_challenge_reply", `challenge reply of ${b.length} bytes, not 21`);
  return { challenge: b.readUInt32BE(1), digest: b.subarray(5, 21) };
}

export function buildChallengeAck(d: Uint8Array): Buffer {
  return out.u8(HS_TAG.CHALLENGE_ACK).bytes(d).finish();
}

export function parseChallengeAck(m: Uint8Array): { digest: Uint8Array } {
  const b = view(m);
  if (b[0] !== HS_TAG.CHALLENGE_ACK) {
    throw new HandshakeError("recv_challenge_ack", "unexpected", `expected a challenge ack, got tag ${b[0]}`);
  }
  if (b.length !== 17) throw malformed("recv_challenge_ack", `challenge ack of ${b.length} bytes, not 17`);
  return { digest: b.subarray(1, 17) };
}
