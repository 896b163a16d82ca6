/**
 * Real Erlang for tests and benchmarks: an EPMD daemon on a port of its own, and `erl` nodes
 * driven through `erl_agent` (see erl_agent.erl). Everything started here is stopped by
 * `stop()`, by `stopAll()`, and, should the test process die, by the closing of the pipes that
 * tie each program to it.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";

export const repoRoot = findRoot(dirname(fileURLToPath(import.meta.url)));
const agentSource = join(repoRoot, "test", "support", "erl_agent.erl");
const agentEbin = join(repoRoot, "_build", "test_support", "ebin");
/** Where `rebar3 compile` puts the ts_ssl application. */
export const tsSslEbin = join(repoRoot, "_build", "default", "lib", "ts_ssl", "ebin");

function findRoot(dir: string): string {
  // This file runs from test/support (vitest) and from dist/test/support (compiled benches).
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    if (existsSync(join(d, "package.json")) && existsSync(join(d, "rebar.config"))) return d;
  }
  throw new Error(`no project root above ${dir}`);
}

/** The host part `erl -sname` uses: the host name up to the first dot. */
export const shortHost = hostname().split(".")[0]!;

const running = new Set<{ stop(): Promise<void> }>();

/** Stops every EPMD and node this process started and has not stopped yet. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

export function randomName(prefix = "t"): string {
  return `${prefix}${randomBytes(4).toString("hex")}`;
}

/** 20 random capital letters, as `erl` makes a cookie (never a leading `-` that its command line would take for a flag). */
export function randomCookie(): string {
  return Array.from(randomBytes(20), (b) => String.fromCharCode(65 + (b % 26))).join("");
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

async function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: "127.0.0.1", port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (up) return;
    if (Date.now() > until) throw new Error(`nothing listens on port ${port} after ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Runs `command` so that it dies with us: a shell reads its stdin, which is our pipe, and kills
 * the program when that pipe closes (when we stop it, or when this process is gone).
 */
function spawnTied(command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const quoted = [command, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const script = `${quoted} </dev/null & child=$!; read _ignored; kill -9 $child 2>/dev/null; wait $child 2>/dev/null`;
  return spawn("sh", ["-c", script], { env, stdio: ["pipe", "pipe", "pipe"] });
}

export class Epmd {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
  ) {}

  /** A real `epmd` on a free port of its own (`-relaxed_command_check` so tests may unregister). */
  static async start(port?: number): Promise<Epmd> {
    const p = port ?? (await freePort());
    const child = spawnTied("epmd", ["-port", String(p), "-relaxed_command_check"], process.env);
    const epmd = new Epmd(p, child);
    running.add(epmd);
    await waitForPort(p, 10_000);
    return epmd;
  }

  /** What `epmd -names` prints against this daemon. */
  names(): string {
    const r = spawnSync("epmd", ["-names"], { env: { ...process.env, ERL_EPMD_PORT: String(this.port) } });
    return r.stdout.toString();
  }

  async stop(): Promise<void> {
    running.delete(this);
    await endChild(this.child);
  }
}

async function endChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.stdin?.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

/** Compiles Erlang `sources` into `outDir` (`flags` before them); a failure throws with erlc's words. */
export function erlc(sources: string[], outDir: string, flags: string[] = []): void {
  // From `/`: OTP 25's erlc cuts its working directory off the front of a source path as a
  // string, so with the clone at /tmp/x, /tmp/x-tmp/a.erl became the relative -tmp/a.erl.
  const r = spawnSync("erlc", [...flags, "-o", outDir, ...sources], { encoding: "utf8", cwd: "/" });
  if (r.status !== 0) throw new Error(`erlc ${sources.map((f) => basename(f)).join(" ")} failed:\n${r.stdout}${r.stderr}`);
}

/**
 * Compiles one module into a folder that test files running in parallel workers share: into a
 * folder of its own first, then the beam is renamed into place, so that a node never loads a
 * beam another worker is still writing.
 */
export function erlcShared(source: string, outDir: string): void {
  mkdirSync(outDir, { recursive: true });
  const own = mkdtempSync(join(outDir, ".compiling-"));
  try {
    erlc([source], own);
    const beam = `${basename(source, ".erl")}.beam`;
    renameSync(join(own, beam), join(outDir, beam));
  } finally {
    rmSync(own, { recursive: true, force: true });
  }
}

/** Compiles erl_agent.erl once (again when the source is newer than the beam). */
function ensureAgent(): string {
  const beam = join(agentEbin, "erl_agent.beam");
  if (!existsSync(beam) || statSync(beam).mtimeMs < statSync(agentSource).mtimeMs) erlcShared(agentSource, agentEbin);
  return agentEbin;
}

export class ErlangError extends Error {
  constructor(
    readonly expression: string,
    readonly details: string,
    readonly etf: Buffer,
  ) {
    super(`${expression}\n  raised ${details}`);
  }
}

export interface EvalResult {
  /** The value printed with `~tp`. */
  text: string;
  /** `term_to_binary(Value, [{minor_version, 2}])`. */
  etf: Buffer;
}

export interface ErlOptions {
  epmdPort: number;
  cookie: string;
  /** Short name (`-sname`); a random one by default. */
  name?: string;
  /** Use `-name NAME@HOST` instead of `-sname`. */
  longNames?: boolean;
  /** The host of a long name (default 127.0.0.1). */
  host?: string;
  hidden?: boolean;
  /** Extra code paths (`-pa`). The agent and the ts_ssl ebin are always there. */
  codePaths?: string[];
  args?: string[];
}

/** A real `erl` node. `eval` runs Erlang expressions on it, like a shell with bindings. */
export class ErlNode {
  #nextId = 1;
  #pending = new Map<number, (status: number, text: string, etf: Buffer) => void>();
  #input: Buffer = Buffer.alloc(0);
  #log = "";
  readonly exited: Promise<number | null>;

  private constructor(
    readonly name: string,
    readonly nodeName: string,
    private readonly child: ChildProcess,
  ) {
    const out = child.stdio[4] as Readable;
    out.on("data", (chunk: Buffer) => this.#onData(chunk));
    out.on("error", () => {});
    (child.stdio[3] as Writable).on("error", () => {});
    child.stdout!.on("data", (d: Buffer) => (this.#log += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (this.#log += d.toString()));
    this.exited = new Promise((resolve) => {
      child.once("exit", (code) => {
        running.delete(this);
        for (const fail of this.#pending.values()) fail(2, `node ${nodeName} exited (${code})\n${this.#log}`, Buffer.alloc(0));
        this.#pending.clear();
        resolve(code);
      });
    });
  }

  static async start(options: ErlOptions): Promise<ErlNode> {
    const name = options.name ?? randomName();
    const nodeName = options.longNames ? `${name}@${options.host ?? "127.0.0.1"}` : `${name}@${shortHost}`;
    const args = [
      options.longNames ? "-name" : "-sname",
      options.longNames ? nodeName : name,
      "-setcookie",
      options.cookie,
      "-noshell",
      "-noinput",
      "-pa",
      ensureAgent(),
      "-pa",
      tsSslEbin,
      ...(options.codePaths ?? []).flatMap((p) => ["-pa", p]),
      ...(options.hidden ? ["-hidden"] : []),
      ...(options.args ?? []),
      "-run",
      "erl_agent",
      "main",
    ];
    const child = spawn("erl", args, {
      env: { ...process.env, ERL_EPMD_PORT: String(options.epmdPort) },
      stdio: ["ignore", "pipe", "pipe", "pipe", "pipe"],
    });
    const node = new ErlNode(name, nodeName, child);
    running.add(node);
    // The first evaluation answers once the node is up and distribution is started.
    await node.eval("ok.");
    return node;
  }

  get log(): string {
    return this.#log;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  #onData(chunk: Buffer): void {
    this.#input = this.#input.length === 0 ? chunk : Buffer.concat([this.#input, chunk]);
    while (this.#input.length >= 4) {
      const len = this.#input.readUInt32BE(0);
      if (this.#input.length < 4 + len) break;
      const frame = this.#input.subarray(4, 4 + len);
      this.#input = this.#input.subarray(4 + len);
      const id = frame.readUInt32BE(0);
      const status = frame[4]!;
      const textLen = frame.readUInt32BE(5);
      const text = frame.subarray(9, 9 + textLen).toString("utf8");
      const etf = Buffer.from(frame.subarray(9 + textLen));
      const resolve = this.#pending.get(id);
      this.#pending.delete(id);
      resolve?.(status, text, etf);
    }
  }

  #request(kind: number, body: Uint8Array, what: string): Promise<EvalResult> {
    const id = this.#nextId++;
    const header = Buffer.alloc(9);
    header.writeUInt32BE(5 + body.length, 0);
    header.writeUInt32BE(id, 4);
    header[8] = kind;
    return new Promise<EvalResult>((resolve, reject) => {
      if (this.child.exitCode !== null) {
        reject(new Error(`node ${this.nodeName} has exited\n${this.#log}`));
        return;
      }
      this.#pending.set(id, (status, text, etf) => {
        if (status === 0) resolve({ text, etf });
        else reject(new ErlangError(what, text, etf));
      });
      const input = this.child.stdio[3] as Writable;
      input.write(header);
      input.write(body);
    });
  }

  /** Evaluates Erlang expressions (`"X = 1, X + 1."`; the final dot may be left out). */
  eval(source: string): Promise<EvalResult> {
    const s = source.trimEnd().endsWith(".") ? source : `${source.trimEnd()}.`;
    return this.#request(0, Buffer.from(s, "utf8"), s);
  }

  /** `term_to_binary(binary_to_term(Etf))`: the node's own encoding of what we encoded. */
  async reencode(etf: Uint8Array): Promise<Buffer> {
    return (await this.#request(1, etf, "term_to_binary(binary_to_term(...))")).etf;
  }

  /** `term_to_binary(T, Opts)` where `etf` encodes `{Opts, T}`. */
  async encodeWith(etfOfOptsAndTerm: Uint8Array): Promise<Buffer> {
    return (await this.#request(2, etfOfOptsAndTerm, "term_to_binary(T, Opts)")).etf;
  }

  /** `binary_to_term(Bytes)` re-encoded with minor_version 2; rejects with ErlangError on badarg. */
  async decode(bytes: Uint8Array): Promise<Buffer> {
    return (await this.#request(3, bytes, "binary_to_term(...)")).etf;
  }

  /** Ends the node at once, as `kill -9` would. */
  async kill(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.exited;
  }

  /** Stops the node (init:stop/0), killing it if it does not end within 5 s. */
  async stop(): Promise<void> {
    running.delete(this);
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    (this.child.stdio[3] as Writable).end();
    await this.exited;
    clearTimeout(timer);
  }
}
