/**
 * Helpers for the bridge's tests. Commands run asynchronously: the bridge under test lives in
 * this process (and may be the EPMD they talk to), so a blocking spawn would deadlock.
 */
import { spawn } from "node:child_process";
import { ByteBuilder } from "../../etf/bytes.js";
import { Atom, atom, isTagged, type Term } from "../../etf/terms.js";
import { MemoryLogger } from "../../bridge/log.js";
import { DistNode, type DistNodeOptions } from "../../bridge/node.js";
import { randomName } from "../support/erlang.js";

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 10_000): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** `body` behind its `size`-byte length prefix, as the handshake (2) and connected peers (4) frame it. */
export function framed(body: Uint8Array, size: 2 | 4): Buffer {
  const out = new ByteBuilder({ initialSize: body.length + size });
  return (size === 2 ? out.u16(body.length) : out.u32(body.length)).bytes(body).finish();
}

/** What `epmd -names` prints against the EPMD on `port`. */
export async function epmdNames(port: number): Promise<string> {
  return (await run("epmd", ["-names"], { ...process.env, ERL_EPMD_PORT: String(port) })).stdout;
}

/** A bridge on the given EPMD port, logging to memory; `stop()` it in afterAll. */
export async function startBridge(
  epmdPort: number,
  cookie: string,
  options: Partial<DistNodeOptions> = {},
): Promise<{ bridge: DistNode; log: MemoryLogger }> {
  const log = new MemoryLogger();
  const bridge = await DistNode.start({ name: randomName("bridge"), cookie, epmdPort, logger: log, ...options });
  return { bridge, log };
}

export { Mailbox } from "../support/mailbox.js";

/** A tuple whose first element is the atom `tag`. */
export function tagged(tag: string, size?: number): (t: Term) => boolean {
  const a = atom(tag);
  return (t) => isTagged(t, a, size);
}

/** `a` as a quoted Erlang atom literal, for expressions evaluated on an erl node. */
export function erlAtom(a: Atom | string): string {
  const s = typeof a === "string" ? a : a.name;
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}
