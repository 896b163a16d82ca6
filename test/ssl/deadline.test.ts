/**
 * The API's timeouts as signals (ts-ssl/deadline.ts), on Node's real timers: a short one fires
 * no sooner than asked, one past Node's longest timer (2^31 - 1 ms) does not fire at once, and a
 * call that is over stops the clock. That the calls wait as gen_tcp's do is shown from erl nodes
 * by the conformance scenarios `sc_timeouts:longest_*`.
 */
import { describe, expect, it } from "vitest";
import { formatTerm } from "../../etf/index.js";
import { deadline, within } from "../../ts-ssl/deadline.js";
import { SslError } from "../../ts-ssl/errors.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function aborted(signal: AbortSignal): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(performance.now() - started), { once: true }));
}

describe("deadline", () => {
  it("aborts with SslError timeout once the time has passed, not before", async () => {
    const d = deadline(40);
    const waited = await aborted(d.signal!);
    expect(waited).toBeGreaterThanOrEqual(39);
    const why = d.signal!.reason as unknown;
    expect(why).toBeInstanceOf(SslError);
    expect(formatTerm((why as SslError).reason)).toBe("timeout");
  });

  it("waits past Node's longest timer: 2^31 ms and 2^32 - 1 ms have not passed after 200 ms", async () => {
    const ds = [2 ** 31, 2 ** 32 - 1].map((t) => deadline(t));
    await sleep(200);
    expect(ds.map((d) => d.signal!.aborted)).toEqual([false, false]);
    for (const d of ds) d.cancel();
  });

  it("stops when cancelled, and when the call under `within` ends", async () => {
    const d = deadline(30);
    d.cancel();
    let signal: AbortSignal | undefined;
    expect(await within(30, async (s) => ((signal = s), "done"))).toBe("done");
    await sleep(80);
    expect([d.signal!.aborted, signal!.aborted]).toEqual([false, false]);
  });

  it("has no signal for infinity, and is aborted at once for 0", () => {
    expect(deadline("infinity").signal).toBeUndefined();
    expect(deadline(0).signal!.aborted).toBe(true);
  });
});
