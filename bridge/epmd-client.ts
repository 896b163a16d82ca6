/**
 * Talking to an EPMD: register this node (and keep the registration socket for the node's life),
 * look up another node's port, list the names. Each request is its own TCP connection, as
 * OTP's `erl_epmd` does it.
 */
import type { Socket } from "node:net";
import { CodedError } from "../etf/errors.js";
import { ByteQueue } from "./framing.js";
import {
  DIST_VERSION,
  EpmdError,
  NODE_TYPE,
  buildRequest,
  parseAlive2Resp,
  parseNamesResp,
  parsePort2Resp,
  type EpmdRequest,
  type NamesResp,
  type NodeInfo,
  type Parsed,
} from "./epmd.js";
import { connect } from "./transport.js";

export interface EpmdAddress {
  host: string;
  port: number;
}

/** No EPMD answers at that address (refused, unreachable, or silent past the timeout). */
export class EpmdUnavailable extends CodedError<"epmd_unavailable"> {
  constructor(
    readonly address: EpmdAddress,
    readonly reason: string,
    cause?: unknown,
  ) {
    super("epmd_unavailable", `no EPMD at ${address.host}:${address.port} (${reason})`, { cause });
  }
}

/** A live registration: EPMD lists the node while `socket` stays open. */
export interface Registration {
  readonly creation: number;
  /** Resolves when EPMD closed the registration (EPMD stopped, or `close()` was called). */
  readonly closed: Promise<void>;
  close(): void;
}

const defaultTimeoutMs = 5_000;

async function open(address: EpmdAddress, timeoutMs: number): Promise<Socket> {
  try {
    return await connect(address.host, address.port, timeoutMs);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new EpmdUnavailable(address, err.code === "ETIMEDOUT" ? "timeout" : (err.code ?? err.message), err);
  }
}

/**
 * Sends `request` and reads until `parse` gives a reply (or, when `untilClose`, until EPMD
 * closes). The socket stays open for the caller when `keep` is set.
 */
async function exchange<T>(
  address: EpmdAddress,
  request: EpmdRequest,
  parse: (bytes: Uint8Array, closed: boolean) => Parsed<T>,
  timeoutMs: number,
  keep = false,
): Promise<{ value: T; socket: Socket }> {
  const socket = await open(address, timeoutMs);
  return new Promise((resolve, reject) => {
    const input = new ByteQueue();
    let done = false;
    const finish = (error: Error | undefined, value?: T) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      if (error !== undefined || !keep) socket.destroy();
      if (error !== undefined) reject(error);
      else resolve({ value: value as T, socket });
    };
    const attempt = (closed: boolean) => {
      try {
        const r = parse(input.peek(input.length), closed);
        if (r !== "more") finish(undefined, r.value);
        else if (closed) finish(new EpmdError("malformed", `EPMD closed before a whole reply to ${request.kind}`));
      } catch (e) {
        finish(e as Error);
      }
    };
    const onData = (chunk: Buffer) => {
      input.push(chunk);
      attempt(false);
    };
    const onEnd = () => attempt(true);
    const timer = setTimeout(() => finish(new EpmdUnavailable(address, `no reply to ${request.kind}`)), timeoutMs);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", (err) => finish(new EpmdUnavailable(address, err.message, err)));
    socket.write(buildRequest(request));
  });
}

/**
 * ALIVE2_REQ: registers `info` and keeps the connection, whose end unregisters the node.
 * Rejects with `EpmdError("refused")` when EPMD says no (the name is taken).
 */
export async function register(
  address: EpmdAddress,
  info: NodeInfo,
  timeoutMs = defaultTimeoutMs,
): Promise<Registration> {
  const { value, socket } = await exchange(
    address,
    { kind: "ALIVE2_REQ", node: info },
    (b) => parseAlive2Resp(b),
    timeoutMs,
    true,
  );
  if (value.result !== 0) {
    socket.destroy();
    throw new EpmdError("refused", `EPMD refused to register ${info.name} (result ${value.result})`);
  }
  // EPMD never writes again on this socket; its end is the end of the registration.
  socket.on("error", () => {});
  socket.on("data", () => {});
  socket.setKeepAlive(true);
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return { creation: value.creation, closed, close: () => socket.destroy() };
}

/** PORT_PLEASE2_REQ: the node's port and versions, or undefined when EPMD does not know it. */
export async function lookup(
  address: EpmdAddress,
  name: string,
  timeoutMs = defaultTimeoutMs,
): Promise<NodeInfo | undefined> {
  const { value } = await exchange(address, { kind: "PORT_PLEASE2_REQ", name }, (b) => parsePort2Resp(b), timeoutMs);
  return value;
}

/** NAMES_REQ: what `epmd -names` prints, parsed. */
export async function names(address: EpmdAddress, timeoutMs = defaultTimeoutMs): Promise<NamesResp> {
  const { value } = await exchange(
    address,
    { kind: "NAMES_REQ" },
    (b, closed) => (closed ? { value: parseNamesResp(b), next: b.length } : "more"),
    timeoutMs,
  );
  return value;
}

/** The node info a hidden TCP node registers. */
export function hiddenNodeInfo(name: string, port: number): NodeInfo {
  return {
    port,
    nodeType: NODE_TYPE.HIDDEN,
    protocol: 0,
    highestVersion: DIST_VERSION,
    lowestVersion: DIST_VERSION,
    name,
    extra: new Uint8Array(0),
  };
}
