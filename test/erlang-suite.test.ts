/**
 * Runs the Common Test suites of the Erlang application ts_ssl (erlang_stub/test) as part of
 * `npm test`: an EPMD of its own, the bridge in this process, then `ct_run` on a distributed
 * node with the same cookie that finds the bridge through TS_SSL_BRIDGE. A failure shows CT's
 * summary and the log of every case that failed.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Node } from "../bridge/api.js";
import { startSslBridge } from "./support/bridge.js";
import { Epmd, randomCookie, randomName, repoRoot, stopAll, tsSslEbin } from "./support/erlang.js";

/** Everything CT needs stays out of the source tree: suites are copied, logs go here too. */
const work = mkdtempSync(join(tmpdir(), "ts-ssl-ct-"));
const cookie = randomCookie();
let epmd: Epmd;
let bridge: Node | undefined;
let ctRun: ChildProcess | undefined;

beforeAll(async () => {
  const build = spawnSync("rebar3", ["compile"], { cwd: repoRoot, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`rebar3 compile failed:\n${build.stdout}${build.stderr}`);
  epmd = await Epmd.start();
  bridge = await startSslBridge(cookie, epmd.port);
}, 60_000);

afterAll(async () => {
  if (ctRun !== undefined && ctRun.exitCode === null && ctRun.signalCode === null) ctRun.kill("SIGKILL");
  await bridge?.stop();
  await stopAll();
  rmSync(work, { recursive: true, force: true });
});

interface CtResult {
  status: number | null;
  output: string;
}

/** `ct_run` over every suite of erlang_stub/test, with TS_SSL_BRIDGE naming the bridge. */
function runCommonTest(bridgeName: string): Promise<CtResult> {
  const testDir = join(work, "test");
  const logDir = join(work, "logs");
  mkdirSync(logDir, { recursive: true });
  cpSync(join(repoRoot, "erlang_stub", "test"), testDir, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, ERL_EPMD_PORT: String(epmd.port), TS_SSL_BRIDGE: bridgeName };
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

describe("the Erlang application ts_ssl, under Common Test", () => {
  it("passes every suite of erlang_stub/test, through the bridge", async () => {
    const { status, output } = await runCommonTest(bridge!.name.name);
    const summaries = output.split("\n").filter((l) => l.includes("TEST COMPLETE"));
    const failed = suiteLogs(join(work, "logs")).flatMap(failures);
    const passed =
      failed.length === 0 &&
      status === 0 &&
      summaries.length > 0 &&
      summaries.every((s) => /TEST COMPLETE, [1-9]\d* ok, 0 failed of/.test(s));
    console.log(summaries.join("\n"));
    if (!passed) {
      const report = [`ct_run exited with ${status}`, ...summaries, ...failed];
      if (summaries.length === 0) report.push(output.slice(-8000));
      expect.fail(report.join("\n\n"));
    }
  }, 240_000);
});
