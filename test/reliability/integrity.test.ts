/**
 * Integrity: bytes through the bridge both ways at once, in random chunk sizes, raw and with
 * each length packet type, compared by SHA-256 (and packet counts) with what the native OTP
 * peer saw. In `npm test` the sizes are small; RELIABILITY_FULL=1 runs the full ones (1 GiB
 * each way through one socket; 200 sockets at once, 20 MiB each way each, a quarter of them
 * {packet, 1} with an eighth of that).
 */
import { expect, it } from "vitest";
import { BridgeProcess } from "./bridge-process.js";
import { full, holds, useBridge, worldOfFile } from "./fixture.js";

const w = worldOfFile();

const MiB = 1 << 20;

it(`${full ? "1 GiB" : "64 MiB"} each way through one socket, and ${full ? "200 sockets at once, 20 MiB" : "32 sockets at once, 1 MiB"} each way each: SHA-256 equal at both ends`, async () => {
  const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie });
  const peers = await w.erl();
  const n = await w.erl();
  await useBridge(n, b);
  const port = (await peers.eval(`Col = rel:collector(), register(rel_col, Col), {Port, _} = rel:server(${w.creds}, rel:integrity_peer(Col)), Port`)).text;
  await n.eval(`Col = {rel_col, '${peers.nodeName}'}`);

  const big = full ? 1024 * MiB : 64 * MiB;
  // {packet, 1} carries 255 bytes a packet: too slow for the big one (it is among the many).
  const bigPacket = [0, 2, 4][Math.floor(Math.random() * 3)]!;
  let t0 = Date.now();
  await n.eval(`Big = rel:integrity_all(${port}, [{${bigPacket}, ${big}}])`);
  let s = (Date.now() - t0) / 1000;
  console.log(`one socket, {packet, ${bigPacket}}: ${big / MiB} MiB each way in ${s.toFixed(1)} s (${((2 * big) / MiB / s).toFixed(0)} MiB/s both ways); bridge RSS ${(b.rss() / MiB).toFixed(0)} MiB`);
  expect((await n.eval("Big")).text).not.toContain("failed");
  expect(await holds(n, "rel:mirrored(Big, Col)")).toBe(true);

  const count = full ? 200 : 32;
  const each = full ? 20 * MiB : MiB;
  // A quarter of them raw, a quarter each {packet, 1 | 2 | 4}; {packet, 1} sockets carry an
  // eighth of the size, its 255-byte packets being one call each.
  t0 = Date.now();
  await n.eval(`Many = rel:integrity_all(${port}, [case I rem 4 of 1 -> {1, ${each / 8}}; R -> {lists:nth(R + 1, [0, 0, 2, 4]), ${each}} end || I <- lists:seq(1, ${count})])`);
  s = (Date.now() - t0) / 1000;
  console.log(`${count} sockets at once, raw and {packet, 1 | 2 | 4}: ${each / MiB} MiB each way each (${each / 8 / MiB} MiB for {packet, 1}) in ${s.toFixed(1)} s; bridge RSS ${(b.rss() / MiB).toFixed(0)} MiB`);
  const failed = await n.eval("[F || {failed, _} = F <- Many]");
  expect(failed.text).toBe("[]");
  expect(await holds(n, `length(Many) =:= ${count} andalso rel:mirrored(Many, Col)`)).toBe(true);
  await b.stop();
}, full ? 900_000 : 180_000);
