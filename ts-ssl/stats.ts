/**
 * `TS_SSL_STATS=SECONDS`: every SECONDS the bridge prints one line of its vital signs, for soak
 * runs and for operators watching a long-lived bridge:
 *
 *   ts-ssl bridge stats: sockets=12 rss_mib=88.1 heap_mib=31.5 fds=40 loop_delay_p99_ms=1.2 loop_delay_max_ms=3.4
 *
 * The event-loop delay is over the interval since the previous line; fds come from /proc (0
 * where there is none).
 */
import { readdirSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { SslService } from "./service.js";

const MiB = 1 << 20;

function openFds(): number {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return 0;
  }
}

/** Prints a line with `say` every `seconds`; the returned function stops it. */
export function reportStats(service: SslService, seconds: number, say: (line: string) => void): () => void {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    const ms = (ns: number) => (ns / 1e6).toFixed(1);
    say(
      `ts-ssl bridge stats: sockets=${service.sockets.size} rss_mib=${(m.rss / MiB).toFixed(1)} heap_mib=${(m.heapUsed / MiB).toFixed(1)}` +
        ` fds=${openFds()} loop_delay_p99_ms=${ms(delay.percentile(99))} loop_delay_max_ms=${ms(delay.max)}`,
    );
    delay.reset();
  }, seconds * 1000);
  timer.unref();
  return () => {
    clearInterval(timer);
    delay.disable();
  };
}
