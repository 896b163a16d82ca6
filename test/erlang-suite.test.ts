/**
 * Runs the Common Test suites of the Erlang application ts_ssl (erlang_stub/test) as part of
 * `npm test`: an EPMD of its own, the bridge in this process, then `ct_run` on a distributed
 * node with the same cookie that finds the bridge through TS_SSL_BRIDGE. A failure shows CT's
 * summary and the log of every case that failed.
 *
 * Until the bridge's node (bridge/node.ts) and its ssl server (ts-ssl/server.ts) exist, only
 * what needs no bridge runs: ts_ssl_stub_SUITE, and ts_ssl_SUITE's scenarios on native ssl.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Node } from "../bridge/api.js";
import { Epmd, randomCookie, randomName, repoRoot, stopAll, tsSslEbin } from "./support/erlang.js";

/** The parts of the bridge this runner starts, as bridge/node.ts and ts-ssl/server.ts give them. */
interface Bridge {
  start(options: { name: string; cookie: string; epmdPort: number }): Promise<Node>;
  serve(node: Node): unknown;
}

const nodeModule = join(repoRoot, "bridge", "node.ts");
const serverModule = join(repoRoot, "ts-ssl", "server.ts");

async function loadBridge(): Promise<Bridge | undefined> {
  if (!existsSync(nodeModule) || !existsSync(serverModule)) return undefined;
  const nodeExports = (await import(pathToFileURL(nodeModule).href)) as {
    DistNode: { start(options: { name: string; cookie: string; epmdPort: number }): Promise<Node> };
  };
  const serverExports = (await import(pathToFileURL(serverModule).href)) as { serveSsl(node: Node): unknown };
  return { start: (o) => nodeExports.DistNode.start(o), serve: (n) => serverExports.serveSsl(n) };
}

const bridge = await loadBridge();

/** Everything CT needs stays out of the source tree: suites are copied, logs go here too. */
const work = mkdtempSync(join(tmpdir(), "ts-ssl-ct-"));
const cookie = randomCookie();
let epmd: Epmd;
let bridgeNode: Node | undefined;
let ctRun: ChildProcess | undefined;

beforeAll(async () => {
  const build = spawnSync("rebar3", ["compile"], { cwd: repoRoot, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`rebar3 compile failed:\n${build.stdout}${build.stderr}`);
  epmd = await Epmd.start();
  if (bridge !== undefined) {
    bridgeNode = await bridge.start({ name: randomName("tsbridge"), cookie, epmdPort: epmd.port });
    bridge.serve(bridgeNode);
  }
}, 60_000);

afterAll(async () => {
  if (ctRun !== undefined && ctRun.exitCode === null && ctRun.signalCode === null) ctRun.kill("SIGKILL");
  await bridgeNode?.stop();
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

interface CtResult {
  status: number | null;
  output: string;
}

/** `ct_run` over every suite of erlang_stub/test; TS_SSL_BRIDGE only when there is a bridge. */
function runCommonTest(bridgeName: string | undefined): Promise<CtResult> {
  const testDir = join(work, "test");
  const logDir = join(work, "logs");
  mkdirSync(logDir, { recursive: true });
  cpSync(join(repoRoot, "erlang_stub", "test"), testDir, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, ERL_EPMD_PORT: String(epmd.port) };
  delete env.TS_SSL_BRIDGE;
  if (bridgeName !== undefined) env.TS_SSL_BRIDGE = bridgeName;
  const args = ["-noshell", "-sname", randomName("ct"), "-setcookie", cookie, "-pa", tsSslEbin];
  args.push("-dir", testDir, "-logdir", logDir);
  return new Promise((resolve, reject) => {
    const child = spawn("ct_run", args, { cwd: work, env, stdio: ["ignore", "pipe", "pipe"] });
    ctRun = child;
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.once("error", reject);
    child.once("exit", (status) => resolve({ status, output }));
  });
}

/** Every `suite.log` of the run, newest run of each suite. */
function suiteLogs(logDir: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (entry === "suite.log") found.push(path);
    }
  };
  walk(logDir);
  return found;
}

/** The failed cases of a suite.log: name, CT's result line, and the case's own log as text. */
function failures(suiteLog: string): string[] {
  const text = readFileSync(suiteLog, "utf8");
  const out: string[] = [];
  for (const block of text.split(/\n(?==case)/)) {
    const result = /=result\s+((?:failed|auto_skipped|skipped)[\s\S]*?)(?:\n=|$)/.exec(block);
    if (result === null) continue;
    const name = /=case\s+(\S+)/.exec(block)?.[1] ?? "?";
    const logFile = /=logfile\s+(\S+)/.exec(block)?.[1];
    const caseLog = logFile === undefined ? "" : caseLogText(join(suiteLog, "..", logFile));
    out.push(`${name}: ${result[1]!.trim()}\n${caseLog}`);
  }
  return out;
}

function caseLogText(path: string): string {
  if (!existsSync(path)) return "";
  const text = readFileSync(path, "utf8")
    .replace(/<[^>]*>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&")
    .replace(/\n{3,}/g, "\n\n");
  return text.length > 6000 ? `...${text.slice(-6000)}` : text;
}

async function expectSuitesPass(bridgeName: string | undefined): Promise<void> {
  const { status, output } = await runCommonTest(bridgeName);
  const summaries = output.split("\n").filter((l) => l.includes("TEST COMPLETE"));
  const failed = suiteLogs(join(work, "logs")).flatMap(failures);
  const report = [
    `ct_run exited with ${status}`,
    ...summaries,
    ...failed,
    summaries.length === 0 ? output.slice(-8000) : "",
  ].join("\n\n");
  expect(failed, report).toEqual([]);
  expect(summaries.length, report).toBeGreaterThan(0);
  for (const s of summaries) expect(s, report).toMatch(/TEST COMPLETE, [1-9]\d* ok, 0 failed of/);
  expect(status, report).toBe(0);
}

describe("the Erlang application ts_ssl, under Common Test", () => {
  it.runIf(bridge === undefined)(
    "without a bridge: what ts_ssl does itself, and the scenarios on native ssl",
    () => expectSuitesPass(undefined),
    240_000,
  );

  it.skipIf(bridge === undefined)(
    "through the bridge: every function, option and reason of the manual",
    () => expectSuitesPass(bridgeNode!.name.name),
    240_000,
  );
});
