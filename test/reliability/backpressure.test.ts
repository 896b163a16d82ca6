/**
 * Back-pressure, with native OTP ssl beside ts_ssl in the same run: a TLS peer that stops
 * reading makes send/2 block (as native ssl's and gen_tcp's do) with the bridge's memory
 * bounded; an {active, true} owner that takes no messages gets a growing mailbox (as with
 * native ssl), and while its node is stopped the bridge stops reading for it, its memory stays
 * bounded, and an owner on another node keeps its pace.
 */
import { expect, it } from "vitest";
import { BridgeProcess, sleep } from "./bridge-process.js";
import { holds, int, useBridge, worldOfFile } from "./fixture.js";

const w = worldOfFile();

const MiB = 1 << 20;

it("a peer that stops reading: send/2 blocks as native ssl's does, bridge memory bounded, other sockets unaffected", async () => {
  const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie });
  const peers = await w.erl();
  const n = await w.erl();
  await useBridge(n, b);
  await peers.eval(`{StallPort, _} = rel:server(${w.creds}, fun rel:stall/1), {EchoPort, _} = rel:server(${w.creds}, fun rel:echo/1)`);
  const stall = await int(peers, "StallPort");
  const echo = await int(peers, "EchoPort");
  const rss0 = b.rss();
  await n.eval(`{ok, _} = application:ensure_all_started(ssl),
    CT = rel:sender(fun() -> rel:connect(${stall}, []) end, fun ts_ssl:send/2),
    CN = rel:sender(fun() -> ssl:connect({127,0,0,1}, ${stall}, [binary, {active, false}, {verify, verify_none}]) end, fun ssl:send/2),
    ok`);
  const sent = async () => (await n.eval("{counters:get(CT, 1), counters:get(CN, 1)}")).text;
  await sleep(3000);
  const at3 = await sent();
  await sleep(2000);
  const at5 = await sent();
  console.log(`bytes acknowledged {ts_ssl, native ssl} to a peer that does not read: at 3 s ${at3}, at 5 s ${at5}; bridge RSS +${((b.rss() - rss0) / MiB).toFixed(1)} MiB`);
  expect(at5).toBe(at3);
  expect(await holds(n, `element(1, ${at5}) > 0 andalso element(1, ${at5}) < ${64 * MiB}`)).toBe(true);
  expect(b.rss() - rss0).toBeLessThan(64 * MiB);
  const t0 = Date.now();
  expect(await holds(n, `{ok, E} = rel:connect(${echo}, []), ok = ts_ssl:send(E, <<"meanwhile">>), {ok, <<"meanwhile">>} =:= ts_ssl:recv(E, 9, 5000)`)).toBe(true);
  console.log(`another socket meanwhile: connect + echo in ${Date.now() - t0} ms`);
  await b.stop();
});

it("an {active, true} owner that takes nothing: mailbox grows as with native ssl; its node stopped, the bridge's memory stays bounded and an owner elsewhere keeps its pace", async () => {
  const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie });
  const peers = await w.erl();
  const source = await int(peers, `{SourcePort, _} = rel:server(${w.creds}, fun rel:source/1), SourcePort`);
  const slow = await w.erl();
  const other = await w.erl();
  await useBridge(slow, b);
  await useBridge(other, b);
  await slow.eval(`HT = rel:hoarder(ts_ssl, ${source}), HN = rel:hoarder(ssl, ${source})`);
  await other.eval(`C = rel:counter(${source})`);
  await sleep(1000);
  const q1 = await slow.eval("{rel:queue_len(HT), rel:queue_len(HN)}");
  await sleep(1000);
  const q2 = await slow.eval("{rel:queue_len(HT), rel:queue_len(HN)}");
  console.log(`mailbox of an {active, true} owner that takes nothing {ts_ssl, native ssl}: at 1 s ${q1.text}, at 2 s ${q2.text}`);
  expect(await holds(slow, `{A1, B1} = ${q1.text}, {A2, B2} = ${q2.text}, A2 > A1 andalso B2 > B1 andalso A1 > 0 andalso B1 > 0`)).toBe(true);

  const counted = async () => int(other, "rel:counted(C)");
  const c0 = await counted();
  await sleep(2000);
  const c1 = await counted();
  const before = (c1 - c0) / 2;
  const rssBefore = b.rss();
  process.kill(slow.pid!, "SIGSTOP");
  let rssMax = rssBefore;
  let c2: number;
  try {
    for (let i = 0; i < 10; i++) {
      await sleep(500);
      rssMax = Math.max(rssMax, b.rss());
    }
    c2 = await counted();
  } finally {
    process.kill(slow.pid!, "SIGCONT");
  }
  const during = (c2 - c1) / 5;
  console.log(
    `the other node's owner: ${(before / MiB).toFixed(1)} MiB/s before, ${(during / MiB).toFixed(1)} MiB/s while the slow node was stopped; ` +
      `bridge RSS ${(rssBefore / MiB).toFixed(0)} MiB before, at most ${(rssMax / MiB).toFixed(0)} MiB during`,
  );
  expect(rssMax - rssBefore).toBeLessThan(64 * MiB);
  expect(during).toBeGreaterThan(before / 2);
  expect(b.alive).toBe(true);
  await slow.kill();
  await b.stop();
});
