/**
 * Helpers for the bridge's tests. Commands run asynchronously: the bridge under test lives in
 * this process (and may be the EPMD they talk to), so a blocking spawn would deadlock.
 */
import { spawn } from "node:child_process";

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
