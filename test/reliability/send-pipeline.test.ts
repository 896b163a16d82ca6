/**
 * The send pipeline (erlang_stub/src/ts_ssl_sender.erl): `send/2` answers `ok` while few sends
 * are unacknowledged, and none of what gen_tcp and OTP's ssl promise is lost by it. Each case
 * runs the same steps with OTP's ssl beside ts_ssl (or ts_ssl_otp) and compares: bytes answered
 * `ok` arrive before a close, a send waiting on a peer that does not read meets that peer's
 * close, a packet type set after pipelined sends applies to later sends only. The caller's
 * mailbox stays empty throughout; a sender ends with its caller (and the bridge forgets it), and
 * with its bridge (what waits is answered, nothing hangs).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Node } from "../../bridge/api.js";
import { silentLogger } from "../../bridge/log.js";
import { DistNode } from "../../bridge/node.js";
import { startSslServer } from "../../ts-ssl/server.js";
import type { SslService } from "../../ts-ssl/service.js";
import { SslSocket } from "../../ts-ssl/socket.js";
import type { ErlNode } from "../support/erlang.js";
import { randomName } from "../support/erlang.js";
import { BridgeProcess, until } from "./bridge-process.js";
import { holds, int, useBridge, worldOfFile } from "./fixture.js";

const w = worldOfFile();

/** A bridge in this process, so that the tests can see its sockets' senders. */
let bridge: Node;
let service: SslService;
let n: ErlNode;

beforeAll(async () => {
  bridge = await DistNode.start({ name: randomName("pbridge"), cookie: w.cookie, epmdPort: w.epmd.port, logger: silentLogger });
  service = startSslServer(bridge).service;
  n = await w.erl();
  await n.eval(`application:load(ts_ssl), ok = application:set_env(ts_ssl, bridge, '${bridge.name.name}'),
    {ok, _} = application:ensure_all_started(ssl), Col = rel:collector(),
    {SinkPort, _} = rel:server(${w.creds}, rel:sink(Col)),
    {StallPort, _} = rel:server(${w.creds}, rel:stall_until_told(Col))`);
});

afterAll(async () => {
  await bridge?.stop();
});

/** The senders the bridge's connected sockets know of, in all. */
function senderCount(): number {
  return service.sockets.all().reduce((sum, e) => sum + (e instanceof SslSocket ? e.senderCount : 0), 0);
}

it("sends in flight when the owner closes: every byte answered ok arrives (SHA-256), then the close, as with native ssl; the mailbox stays empty", async () => {
  const sizes = "[rand:uniform(131072) || _ <- lists:seq(1, 300)]";
  await n.eval(`Chunks = [crypto:strong_rand_bytes(Size) || Size <- ${sizes}], ok`);
  const native = await n.eval("rel:burst_then_close(ssl, SinkPort, Col, Chunks)");
  const ts = await n.eval("rel:burst_then_close(ts_ssl, SinkPort, Col, Chunks)");
  const modern = await n.eval("rel:burst_then_close(ts_ssl_otp, SinkPort, Col, Chunks)");
  console.log(`300 sends, then close/1 {sends, close, mailbox, peer's end, intact, sender entries}: native ${native.text}, ts_ssl ${ts.text}, ts_ssl_otp ${modern.text}`);
  expect(native.text).toBe("{[ok],ok,[],closed,true,[]}");
  expect(ts.text).toBe(native.text);
  expect(modern.text).toBe(native.text);
  // Each sender ended with its socket.
  expect(await holds(n, "ok =:= rel:wait_until(fun() -> rel:senders() =:= [] end, 5000)")).toBe(true);
});

it("small sends and sends of a TLS record or more, interleaved in one burst (the small ones gathered per turn, the others written alone): every byte arrives in order (SHA-256), as with native ssl", async () => {
  // Each side of 16 KiB, the largest record's plaintext, and well past it.
  const sizes = "lists:append(lists:duplicate(20, [1, 16383, 16384, 16385, 7, 65536, 300, 131072, 16384, 2]))";
  await n.eval(`Mixed = [crypto:strong_rand_bytes(Size) || Size <- ${sizes}], ok`);
  const native = await n.eval("rel:burst_then_close(ssl, SinkPort, Col, Mixed)");
  const ts = await n.eval("rel:burst_then_close(ts_ssl, SinkPort, Col, Mixed)");
  expect(native.text).toBe("{[ok],ok,[],closed,true,[]}");
  expect(ts.text).toBe(native.text);
});

it("a send waiting above the high-water mark meets the peer's close: the same answers as native ssl's, the sender stopped meanwhile", async () => {
  const native = await n.eval("rel:blocked_then_closed(ssl, StallPort, Col)");
  const ts = await n.eval("rel:blocked_then_closed(ts_ssl, StallPort, Col)");
  console.log(`{waiting send, next send, acked bytes stayed put and bounded, mailbox}: native ${native.text}, ts_ssl ${ts.text}`);
  expect(ts.text).toMatch(/^\{\{error,\w+\},\{error,\w+\},true,\[\]\}$/);
  expect(ts.text).toBe(native.text);
});

it("setopts {packet, 1} after pipelined raw sends: the raw bytes go out unframed, then a send too big for the length field is refused as native's is", async () => {
  const native = await n.eval("rel:packet_after_raw(ssl, SinkPort, Col)");
  const modern = await n.eval("rel:packet_after_raw(ts_ssl_otp, SinkPort, Col)");
  const ts = await n.eval("rel:packet_after_raw(ts_ssl, SinkPort, Col)");
  console.log(`{raw sends, setopts, 256 bytes, 255 bytes, close, peer got what was sent}: native ${native.text}, ts_ssl_otp ${modern.text}, ts_ssl ${ts.text}`);
  expect(native.text).toBe("{[ok],ok,{error,{badarg,{packet_to_large,256,255}}},ok,ok,true}");
  expect(modern.text).toBe(native.text);
  expect(ts.text).toBe(native.text);
});

it("a caller that dies mid-burst: its sender ends and the bridge forgets it; the socket and its owner go on", async () => {
  await n.eval(`{Keeper, Kept} = rel:keeper(SinkPort), Chunk = crypto:strong_rand_bytes(65536),
    Bursters = [rel:burster(Kept, Chunk) || _ <- lists:seq(1, 4)]`);
  expect(await until(() => senderCount() === 4, 10_000)).toBe(true);
  await n.eval("timer:sleep(200), [exit(B, kill) || B <- Bursters]");
  expect(await until(() => senderCount() === 0, 10_000)).toBe(true);
  expect(await holds(n, "ok =:= rel:wait_until(fun() -> rel:senders() =:= [] end, 5000)")).toBe(true);
  expect((await n.eval(`rel:do(Keeper, fun(S) -> ts_ssl:send(S, <<"after">>) end)`)).text).toBe("ok");
  expect(senderCount()).toBe(1);
  // The owner traps exits and is linked to the socket's process: its exit is all it may get.
  const closed = await n.eval("rel:do(Keeper, fun(S) -> Close = ts_ssl:close(S), {messages, Ms} = process_info(self(), messages), {Close, Ms -- [{'EXIT', ts_ssl:pid(S), normal}]} end)");
  expect(closed.text).toBe("{ok,[]}");
  expect(await holds(n, "ok =:= rel:wait_until(fun() -> rel:senders() =:= [] end, 5000)")).toBe(true);
});

it("the bridge killed mid-burst: the waiting sends and later calls answer {error, closed}, nothing hangs; the owners get only their sockets' exits", async () => {
  const b = await BridgeProcess.start({ epmdPort: w.epmd.port, cookie: w.cookie });
  const m = await w.erl();
  await useBridge(m, b);
  const stall = await int(n, "StallPort");
  const sink = await int(n, "SinkPort");
  await m.eval(`Col = rel:collector(), Chunk = crypto:strong_rand_bytes(65536),
    {Blocked, _} = rel:keeper(${stall}), {Busy, _} = rel:keeper(${sink}),
    [rel:do(K, fun(S) -> rel:sending(S, fun ts_ssl:send/2, Chunk, counters:new(1, [])) end, Col, Tag)
     || {K, Tag} <- [{Blocked, blocked}, {Busy, busy}]],
    timer:sleep(1000), ok`);
  await b.kill();
  const t0 = Date.now();
  const answers = await m.eval("rel:wait_until(fun() -> length(rel:take(Col)) =:= 2 end, 10000), lists:sort(rel:take(Col))");
  const ms = Date.now() - t0;
  const later = await m.eval(`lists:usort([rel:do(K, fun(S) -> {ts_ssl:send(S, Chunk), ts_ssl:setopts(S, [{packet, 2}]), ts_ssl:close(S)} end) || K <- [Blocked, Busy]])`);
  console.log(`bridge killed: ${answers.text} within ${ms} ms; later calls ${later.text}`);
  expect(answers.text).toBe("[{blocked,{error,closed}},{busy,{error,closed}}]");
  expect(later.text).toBe("[{{error,closed},{error,closed},{error,closed}}]");
  expect(await holds(m, "ok =:= rel:wait_until(fun() -> rel:senders() =:= [] end, 5000)")).toBe(true);
  // Each owner is linked to its socket's process (README, "Failure behaviour"): that exit, nothing else.
  const mailboxes = await m.eval("lists:usort([rel:do(K, fun(_) -> {messages, Ms} = process_info(self(), messages), [R || {'EXIT', _, R} <- Ms] ++ [length(Ms)] end) || K <- [Blocked, Busy]])");
  expect(mailboxes.text).toBe("[[noconnection,1]]");
});
