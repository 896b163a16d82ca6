/** The median of samples (the upper one of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/**
 * Extra `erl` arguments for the benchmarks' Erlang nodes, from BENCH_ERL_ARGS (say, `+sbwt none`:
 * BEAM's idle schedulers spin a while before they sleep, which counts as CPU time and takes a
 * core from the bridge on a small machine).
 */
export const ERL_ARGS = (process.env.BENCH_ERL_ARGS ?? "").split(/\s+/).filter(Boolean);
