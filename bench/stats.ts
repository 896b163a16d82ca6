import { readFileSync } from "node:fs";

/** The median of samples (the upper one of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** BENCH_ROUNDS (run.ts has checked it), or `fallback`: the rounds a part measures. */
export function benchRounds(fallback: number): number {
  return Number(process.env.BENCH_ROUNDS ?? fallback);
}

/**
 * Extra `erl` arguments for the benchmarks' Erlang nodes, from BENCH_ERL_ARGS (say, `+sbwt none`:
 * BEAM's idle schedulers spin a while before they sleep, which counts as CPU time and takes a
 * core from the bridge on a small machine).
 */
export const ERL_ARGS = (process.env.BENCH_ERL_ARGS ?? "").split(/\s+/).filter(Boolean);

/** Another process's CPU time (user and system, all its threads) in microseconds; NaN if unknown. */
export function processCpuUs(pid: number | undefined): number {
  try {
    // Fields 14 and 15 of /proc/PID/stat, in clock ticks (USER_HZ, 100 on Linux); the command
    // name in parentheses may hold spaces, so count from after it.
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * (1e6 / 100);
  } catch {
    return NaN;
  }
}
