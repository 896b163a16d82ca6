/**
 * Churn: connect/close cycles through one bridge, 16 at a time, from a real node to a native
 * OTP server. The bridge's fds and memory, and the peer node's process count, are read at the
 * start (after a warm-up), the middle and the end. In `npm test` 3,200 cycles;
 * RELIABILITY_FULL=1 runs 100,000.
 */
import { expect, it } from "vitest";
import { BridgeProcess, sleep, until } from "./bridge-process.js";
import { full, int, useBridge, worldOfFile } from "./fixture.js";

const w = worldOfFile();

const MiB = 1 << 20;
const total = full ? 100_000 : 3_200;

it(`${total} connect/close cycles, 16 at a time: no fd, memory or process leak`, async () => {
  const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie });
  const peers = await w.erl();
  const n = await w.erl();
  const port = await int(peers, `{Port, _} = rel:server(${w.creds}, fun rel:echo/1), Port`);
  await useBridge(n, b);
  // The owner's node connects to the bridge with its first call: one fd more from then on.
  const idleFds = b.fds() + 1;
  const rows: Array<{ at: string; cycles: number; fds: number; rssMiB: number; peerProcesses: number; seconds: number }> = [];
  let done = 0;
  const t0 = Date.now();
  const run = async (at: string, cycles: number) => {
    expect((await n.eval(`rel:churn(${port}, ${cycles}, 16)`)).text).toBe("[]");
    done += cycles;
    // Closes finish after close/1 answers: give them a moment to settle.
    await until(() => b.fds() === idleFds, 5_000);
    await sleep(500);
    const peerProcesses = await int(peers, "erlang:system_info(process_count)");
    rows.push({ at, cycles: done, fds: b.fds(), rssMiB: Math.round(b.rss() / MiB), peerProcesses, seconds: (Date.now() - t0) / 1000 });
  };
  await run("start (after a warm-up)", 160);
  await run("middle", total / 2);
  await run("end", total / 2);
  console.table(rows);
  console.log(`${total} cycles at ${(total / ((Date.now() - t0) / 1000)).toFixed(0)} per second`);
  for (const r of rows) expect(r.fds).toBe(idleFds);
  // Memory: the second half leaves the bridge within 16 MiB of where the first left it (100,000
  // cycles: +1 MiB). 3,200 cycles end while it still grows to its working size (about 150 MiB,
  // some 40 MiB in the first half, 20 in the second): 32 MiB there.
  expect(rows[2]!.rssMiB - rows[1]!.rssMiB).toBeLessThan(full ? 16 : 32);
  expect(Math.abs(rows[2]!.peerProcesses - rows[0]!.peerProcesses)).toBeLessThanOrEqual(2);
  await b.stop();
}, full ? 1_800_000 : 180_000);
