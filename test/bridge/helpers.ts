/**
 * Helpers for the bridge's tests. Commands run asynchronously: the bridge under test lives in
 * this process (and may be the EPMD they talk to), so a blocking spawn would deadlock.
 */
import { spawn } from "node:child_process";
import { Atom, Pid, atom, isTagged, type Term } from "../../etf/terms.js";
import type { Process } from "../../bridge/api.js";
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

/** A bridge process that keeps what it receives, for tests to wait on. */
export class Mailbox {
  readonly process: Process;
  readonly messages: Term[] = [];
  #waiters: Array<() => void> = [];
  exitReason: Term | undefined;

  constructor(node: DistNode, options: { register?: string; trapExit?: boolean } = {}) {
    this.process = node.spawn(
      {
        message: (msg) => {
          this.messages.push(msg);
          for (const w of this.#waiters.splice(0)) w();
        },
        terminated: (reason) => {
          this.exitReason = reason;
          for (const w of this.#waiters.splice(0)) w();
        },
      },
      {
        ...(options.register !== undefined ? { register: atom(options.register) } : {}),
        trapExit: options.trapExit ?? false,
      },
    );
  }

  get pid(): Pid {
    return this.process.pid;
  }

  /** Takes the first message matching `match` (waiting for it), or rejects after `timeoutMs`. */
  async take(match: (t: Term) => boolean = () => true, timeoutMs = 10_000): Promise<Term> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex(match);
      if (i >= 0) return this.messages.splice(i, 1)[0]!;
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms; have ${this.messages.length}`);
      await this.#change(left);
    }
  }

  /** Waits until the process has ended; its reason. */
  async ended(timeoutMs = 10_000): Promise<Term> {
    const until = Date.now() + timeoutMs;
    while (this.exitReason === undefined) {
      const left = until - Date.now();
      if (left <= 0) throw new Error("the process did not end");
      await this.#change(left);
    }
    return this.exitReason;
  }

  /** Resolves at the next message or end of the process, or after `ms`. */
  #change(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

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
