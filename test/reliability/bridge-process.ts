/**
 * The bridge as users start it (`npm start` runs `node dist/ts-ssl/main.js`), in a process of its
 * own so that a test can SIGKILL, SIGTERM or SIGSTOP it, and read what the kernel says of it:
 * open fds (`/proc/<pid>/fd`) and resident memory (`/proc/<pid>/status`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { randomName, repoRoot, shortHost } from "../support/erlang.js";

const main = join(repoRoot, "dist", "ts-ssl", "main.js");
const running = new Set<BridgeProcess>();

export interface BridgeProcessOptions {
  epmdPort: number;
  cookie: string;
  /** The short name; a random one by default. The same name again is a restart. */
  name?: string;
  /** `--kernel net_ticktime N`. */
  netTickTime?: number;
  /** Extra environment (TS_SSL_LOG and the like). */
  env?: NodeJS.ProcessEnv;
}

export class BridgeProcess {
  #output = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly name: string,
    readonly nodeName: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout!.on("data", (d: Buffer) => (this.#output += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (this.#output += d.toString()));
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        running.delete(this);
        resolve({ code, signal });
      }),
    );
  }

  /** Starts the bridge and waits until it says it serves. */
  static async start(o: BridgeProcessOptions): Promise<BridgeProcess> {
    const name = o.name ?? randomName("rbridge");
    const args = [main, "--sname", name, "--setcookie", o.cookie];
    if (o.netTickTime !== undefined) args.push("--kernel", "net_ticktime", String(o.netTickTime));
    const child = spawn(process.execPath, args, {
      env: { ...process.env, TS_SSL_LOG: "error", ...o.env, ERL_EPMD_PORT: String(o.epmdPort) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const b = new BridgeProcess(name, `${name}@${shortHost}`, child);
    running.add(b);
    const until = Date.now() + 20_000;
    while (!b.#output.includes("serving ts_ssl_bridge")) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the bridge exited:\n${b.#output}`);
      if (Date.now() > until) {
        await b.kill();
        throw new Error(`the bridge did not start in 20 s:\n${b.#output}`);
      }
      await sleep(20);
    }
    return b;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** What it printed on stdout and stderr. */
  get output(): string {
    return this.#output;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Open file descriptors, from /proc. */
  fds(): number {
    return readdirSync(`/proc/${this.pid}/fd`).length;
  }

  /** Resident memory in bytes, from /proc. */
  rss(): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, "latin1"));
    return Number(m?.[1] ?? 0) * 1024;
  }

  signal(s: NodeJS.Signals): void {
    this.child.kill(s);
  }

  async kill(): Promise<void> {
    if (this.alive) this.child.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM, as a user stops it; SIGKILL after 15 s. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.alive) return this.exited;
    this.child.kill("SIGCONT");
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }
}

/** Kills every bridge process this test process started and has not seen exit. */
export async function killBridges(): Promise<void> {
  await Promise.all([...running].map((b) => b.kill()));
}

// A test process that dies must not leave bridges behind.
process.once("exit", () => {
  for (const b of running) b.signal("SIGKILL");
});

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` every 50 ms until it is true; false if `ms` pass first. */
export async function until(probe: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (probe()) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}
