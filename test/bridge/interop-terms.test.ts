/**
 * Terms through the distribution against a real erl node: every type of the external format
 * there and back, 50 MiB binaries both ways (fragments), many senders in order.
 */
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pid, Tuple, atom, type Term } from "../../etf/terms.js";
import type { DistNode } from "../../bridge/node.js";
import { Epmd, ErlNode, randomCookie, stopAll } from "../support/erlang.js";
import { Mailbox, erlAtom, startBridge, tagged } from "./helpers.js";

describe("terms between the bridge and erl", () => {
  let erl: ErlNode;
  let bridge: DistNode;
  let B: string;

  beforeAll(async () => {
    const epmd = await Epmd.start();
    const cookie = randomCookie();
    ({ bridge } = await startBridge(epmd.port, cookie));
    B = erlAtom(bridge.name);
    erl = await ErlNode.start({ epmdPort: epmd.port, cookie });
    // echo: {From, T} -> From ! {echo, T}
    bridge.spawn(
      {
        message(msg, self) {
          if (msg instanceof Tuple && msg.size === 2 && msg.elements[0] instanceof Pid) {
            self.send(msg.elements[0], new Tuple([atom("echo"), msg.elements[1]!]));
          }
        },
      },
      { register: atom("echo") },
    );
  });
  afterAll(async () => {
    await bridge?.stop();
    await stopAll();
  });

  const samples: Array<[string, string]> = [
    ["small integers", "[0, 255, 256, -1]"],
    ["integers", "[-2147483648, 2147483647, 2147483648, -2147483649]"],
    ["bigs", "[1 bsl 64, -(1 bsl 64), 1 bsl 2040, -(1 bsl 2048) + 7]"],
    ["floats", "[0.0, -0.0, 1.5, -1.0e300, 5.0e-324, 1.7976931348623157e308]"],
    ["atoms", "[a, '', 'with space', 'ünïcödé', '日本', list_to_atom(lists:duplicate(255, $x))]"],
    ["tuples", "{{}, {a}, list_to_tuple(lists:seq(1, 300))}"],
    ["lists", "[[], \"string\", [1, [2, [3]]], [a | b], [1, 2 | 3], lists:seq(1, 70000)]"],
    ["binaries", "[<<>>, <<1,2,3>>, binary:copy(<<7>>, 100000), <<1:1>>, <<255, 3:3>>, <<0:7>>]"],
    ["maps", "[#{}, #{a => 1, <<\"b\">> => [2], {c} => #{d => e}}, maps:from_list([{K, K * K} || K <- lists:seq(1, 100)])]"],
    ["pids, refs, ports", "[self(), make_ref(), hd(erlang:ports()), alias()]"],
    ["funs", "[fun erlang:abs/1, fun lists:map/2, fun(X) -> {X, self()} end]"],
    ["a deep term", "lists:foldl(fun(_, A) -> [A] end, [], lists:seq(1, 10000))"],
    ["a mix", "{ok, [{k, <<\"v\">>}], #{1 => 2.5}, \"charlist\", 'atom', {1 bsl 70}}"],
  ];

  // Bindings outlive an eval on the agent, so each case has variables of its own.
  samples.forEach(([what, expr], i) => {
    it(`carries ${what} there and back unchanged`, async () => {
      const r = await erl.eval(`
        T${i} = ${expr},
        {echo, ${B}} ! {self(), T${i}},
        receive {echo, R${i}} -> R${i} =:= T${i} after 10000 -> timeout end`);
      expect(r.text).toBe("true");
    });
  });

  it("carries a 50 MiB binary from erl to the bridge and back, in fragments", async () => {
    const r = await erl.eval(`
      Big = crypto:strong_rand_bytes(50 bsl 20),
      {echo, ${B}} ! {self(), Big},
      receive {echo, Back} -> {byte_size(Back), Back =:= Big} after 60000 -> timeout end`);
    expect(r.text).toBe("{52428800,true}");
  }, 120_000);

  it("sends a 50 MiB binary to erl without holding up a small message sent after it", async () => {
    const big = Buffer.alloc(50 << 20);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32BE(i, i);
    const md5 = createHash("md5").update(big).digest("hex");
    const ready = new Mailbox(bridge, { register: "big_ready" });
    const result = erl.eval(`
      Parent = self(),
      BigRx = spawn(fun() -> receive {big, Bin} -> Parent ! {big, erlang:monotonic_time(), byte_size(Bin), binary:encode_hex(erlang:md5(Bin))} end end),
      SmallRx = spawn(fun() -> receive small -> Parent ! {small, erlang:monotonic_time()} end end),
      {big_ready, ${B}} ! {BigRx, SmallRx},
      {TBig, Size, Md5} = receive {big, Tb, Sz, Hex} -> {Tb, Sz, Hex} after 60000 -> timeout end,
      TSmall = receive {small, Ts} -> Ts after 60000 -> timeout end,
      {Size, string:lowercase(Md5), TSmall < TBig}`);
    const rx = (await ready.take()) as Tuple;
    const [bigRx, smallRx] = rx.elements as [Pid, Pid];
    const sender = new Mailbox(bridge);
    const other = new Mailbox(bridge);
    sender.process.send(bigRx, new Tuple([atom("big"), big]));
    other.process.send(smallRx, atom("small"));
    expect((await result).text).toBe(`{52428800,<<"${md5}">>,true}`);
  }, 120_000);

  it("delivers 1,000 messages from each of 100 erl processes, complete and in order per sender", async () => {
    const collector = new Mailbox(bridge, { register: "collector" });
    await erl.eval(`
      [spawn(fun() -> [{collector, ${B}} ! {n, self(), I} || I <- lists:seq(1, 1000)] end) || _ <- lists:seq(1, 100)],
      ok`);
    const seen = new Map<string, number>();
    for (let k = 0; k < 100_000; k++) {
      const m = (await collector.take(tagged("n", 3), 30_000)) as Tuple;
      const sender = String(m.elements[1]);
      const i = m.elements[2] as number;
      expect(i).toBe((seen.get(sender) ?? 0) + 1);
      seen.set(sender, i);
    }
    expect(seen.size).toBe(100);
    expect([...seen.values()].every((n) => n === 1000)).toBe(true);
  }, 120_000);

  it("drops a message it cannot encode alone: those sent before and after it in the same turn arrive", async () => {
    const result = erl.eval(`
      register(batch, self()),
      Take = fun Loop(Acc) -> receive {n, I} -> Loop([I | Acc]) after 2000 -> lists:reverse(Acc) end end,
      Take([])`);
    await new Promise((r) => setTimeout(r, 200));
    const to = new Tuple([atom("batch"), atom(erl.nodeName)]);
    const sender = new Mailbox(bridge);
    for (let i = 1; i <= 5; i++) {
      // A JS string is not a term: the encoder refuses it, after the tuple's first element.
      sender.process.send(to, new Tuple([atom("n"), i === 3 ? ("three" as unknown as Term) : i]));
    }
    expect((await result).text).toBe("[1,2,4,5]");
  });

  it("sends many messages from many bridge processes to erl, in order per sender", async () => {
    const result = erl.eval(`
      register(counter, self()),
      Count = fun Loop(Seen, 0) -> Seen;
                  Loop(Seen, Left) ->
                    receive {n, From, I} ->
                      Prev = maps:get(From, Seen, 0),
                      case I =:= Prev + 1 of
                        true -> Loop(Seen#{From => I}, Left - 1);
                        false -> {out_of_order, From, Prev, I}
                      end
                    after 30000 -> {timeout, map_size(Seen)}
                    end
              end,
      Seen = Count(#{}, 100000),
      {map_size(Seen), lists:usort(maps:values(Seen))}`);
    await new Promise((r) => setTimeout(r, 200));
    const to = new Tuple([atom("counter"), atom(erl.nodeName)]);
    const senders = Array.from({ length: 100 }, () => new Mailbox(bridge));
    for (let i = 1; i <= 1000; i++) for (const s of senders) s.process.send(to, new Tuple([atom("n"), s.pid, i]));
    expect((await result).text).toBe("{100,[1000]}");
  }, 120_000);
});

export type { Term };
