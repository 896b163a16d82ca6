/**
 * The soak: `loops` echo loops, spread over `nodes` erl nodes, each loop with a ts_ssl socket of
 * its own to a native OTP echo server, against a bridge started as `npm start` starts it, for
 * `minutes`. Every 10 s one line: operations per second, p50/p99/max latency of a round trip
 * (send + recv), the bridge's RSS and fds, its event-loop delay. At the end a summary and the
 * verdict:
 *
 * - zero errors;
 * - flat after the warm-up (the first quarter of the run, at least 20 s): the bridge's RSS never
 *   exceeds the warm-up's highest reading by more than 64 MiB (its garbage collector alone moves
 *   it by tens of MiB under this load), and its fds never differ from the last reading of the
 *   warm-up.
 *
 * `npm run soak -- --minutes N` (scripts/soak.ts) and test/reliability/soak.test.ts run it.
 */
import { BridgeProcess, sleep } from "./bridge-process.js";
import { useBridge, world } from "./fixture.js";

const MiB = 1 << 20;
const WINDOW_S = 10;

export interface SoakOptions {
  minutes: number;
  loops?: number;
  nodes?: number;
  say?: (line: string) => void;
}

interface SoakWindow {
  seconds: number;
  ops: number;
  errors: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  rssMiB: number;
  fds: number;
  loopDelayP99Ms: number;
  errorSample: string;
}

export interface SoakResult {
  windows: SoakWindow[];
  ops: number;
  errors: number;
  warmUpWindows: number;
  rssFlat: boolean;
  fdsFlat: boolean;
  ok: boolean;
  summary: string;
}

export async function soak(o: SoakOptions): Promise<SoakResult> {
  const loops = o.loops ?? 1000;
  const nodeCount = o.nodes ?? 4;
  const say = o.say ?? ((line: string) => console.log(line));
  const w = await world();
  try {
    const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie, env: { TS_SSL_STATS: String(WINDOW_S) } });
    const peers = await w.erl();
    const port = (await peers.eval(`{Port, _} = rel:server(${w.creds}, fun rel:echo/1), Port`)).text;
    const nodes = await Promise.all(Array.from({ length: nodeCount }, () => w.erl()));
    for (const n of nodes) await useBridge(n, b);
    const names = `[${nodes.map((n) => `'${n.nodeName}'`).join(", ")}]`;
    const t0 = Date.now();
    await Promise.all(nodes.map((n, i) => n.eval(`rel:soak_start(${port}, ${Math.floor(loops / nodeCount) + (i < loops % nodeCount ? 1 : 0)})`)));
    say(`soak: ${loops} echo loops on ${nodeCount} erl nodes through bridge ${b.nodeName} (pid ${b.pid}), ${o.minutes} min, a line every ${WINDOW_S} s`);
    await nodes[0]!.eval(`rel:soak_window(${names})`);
    const windows: SoakWindow[] = [];
    const end = t0 + o.minutes * 60_000;
    let last = Date.now();
    while (Date.now() < end) {
      await sleep(Math.min(WINDOW_S * 1000, end - Date.now()));
      const text = (await nodes[0]!.eval(`rel:soak_window(${names})`)).text;
      const m = /^\{(\d+),(\d+),(\d+),(\d+),(\d+),([\s\S]*)\}$/.exec(text.replace(/\n\s*/g, ""));
      if (m === null) throw new Error(`soak_window gave ${text}`);
      const now = Date.now();
      const stats = /loop_delay_p99_ms=([\d.]+)/.exec(b.output.split("\n").filter((l) => l.startsWith("ts-ssl bridge stats:")).at(-1) ?? "");
      const win: SoakWindow = {
        seconds: Math.round((now - t0) / 1000),
        ops: Number(m[1]) / ((now - last) / 1000),
        errors: Number(m[2]),
        p50Us: Number(m[3]),
        p99Us: Number(m[4]),
        maxUs: Number(m[5]),
        rssMiB: b.rss() / MiB,
        fds: b.fds(),
        loopDelayP99Ms: Number(stats?.[1] ?? NaN),
        errorSample: m[6]!,
      };
      last = now;
      windows.push(win);
      say(
        `${String(win.seconds).padStart(5)} s  ${win.ops.toFixed(0).padStart(6)} ops/s  p50 ${(win.p50Us / 1000).toFixed(1)} ms  p99 ${(win.p99Us / 1000).toFixed(1)} ms` +
          `  max ${(win.maxUs / 1000).toFixed(0)} ms  RSS ${win.rssMiB.toFixed(0)} MiB  fds ${win.fds}  loop delay p99 ${win.loopDelayP99Ms.toFixed(1)} ms` +
          `  errors ${win.errors}${win.errors > 0 ? ` ${win.errorSample}` : ""}`,
      );
    }
    await Promise.all(nodes.map((n) => n.eval("rel:soak_stop()")));
    const alive = b.alive;
    await b.stop();

    const warmUpWindows = Math.max(2, Math.ceil(windows.length / 4));
    const warm = windows.slice(0, warmUpWindows);
    const after = windows.slice(warmUpWindows);
    const warmRss = Math.max(...warm.map((x) => x.rssMiB));
    const warmFds = warm.at(-1)?.fds ?? 0;
    const rssFlat = after.every((x) => x.rssMiB <= warmRss + 64);
    const fdsFlat = after.every((x) => x.fds === warmFds);
    const ops = windows.reduce((s, x) => s + x.ops * WINDOW_S, 0);
    const errors = windows.reduce((s, x) => s + x.errors, 0);
    const p99s = after.map((x) => x.p99Us / 1000);
    const summary = [
      `soak summary: ${o.minutes} min, ${loops} loops, ${Math.round(ops)} round trips (${(ops / (o.minutes * 60)).toFixed(0)}/s), errors ${errors}`,
      `  after the warm-up (${warmUpWindows} windows): p99 ${Math.min(...p99s).toFixed(1)}..${Math.max(...p99s).toFixed(1)} ms;` +
        ` RSS ${Math.min(...after.map((x) => x.rssMiB)).toFixed(0)}..${Math.max(...after.map((x) => x.rssMiB)).toFixed(0)} MiB (warm-up highest ${warmRss.toFixed(0)}): ${rssFlat ? "flat" : "GROWING"};` +
        ` fds ${Math.min(...after.map((x) => x.fds))}..${Math.max(...after.map((x) => x.fds))} (warm-up ${warmFds}): ${fdsFlat ? "flat" : "CHANGING"}`,
      `  bridge ${alive ? "alive to the end" : "DIED"}`,
    ].join("\n");
    say(summary);
    return { windows, ops, errors, warmUpWindows, rssFlat, fdsFlat, ok: alive && errors === 0 && rssFlat && fdsFlat && after.length > 0, summary };
  } finally {
    await w.close();
  }
}
