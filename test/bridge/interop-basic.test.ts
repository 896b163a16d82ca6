/**
 * The bridge against a real erl node: ping both ways, hidden, EPMD listing, gen_server calls
 * (alias tags, old tags, late replies), monitors on bridge names, spawn requests.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Tuple, atom, isTagged, type Term } from "../../etf/terms.js";
import type { From, Process } from "../../bridge/api.js";
import { reply, serveCalls } from "../../bridge/gen-server.js";
import type { MemoryLogger } from "../../bridge/log.js";
import type { DistNode } from "../../bridge/node.js";
import { Epmd, ErlNode, randomCookie, stopAll } from "../support/erlang.js";
import { Mailbox, epmdNames, erlAtom, startBridge } from "./helpers.js";

describe("the bridge beside a real erl node", () => {
  let epmd: Epmd;
  let erl: ErlNode;
  let bridge: DistNode;
  let log: MemoryLogger;
  let B: string;
  let calc: Process;
  const late: Array<{ from: From; value: Term }> = [];

  beforeAll(async () => {
    epmd = await Epmd.start();
    const cookie = randomCookie();
    ({ bridge, log } = await startBridge(epmd.port, cookie));
    B = erlAtom(bridge.name);
    erl = await ErlNode.start({ epmdPort: epmd.port, cookie });
    calc = serveCalls(bridge, atom("calc"), (req, from) => {
      if (isTagged(req, atom("add"), 3)) reply(calc, from, (req.elements[1] as number) + (req.elements[2] as number));
      else if (isTagged(req, atom("slow"), 2)) {
        const ms = req.elements[1] as number;
        setTimeout(() => {
          late.push({ from, value: atom("late") });
          reply(calc, from, atom("late"));
        }, ms);
      } else reply(calc, from, new Tuple([atom("error"), atom("unknown")]));
    });
  });
  afterAll(async () => {
    await bridge?.stop();
    await stopAll();
  });

  it("answers net_adm:ping from erl, as a hidden node", async () => {
    expect((await erl.eval(`net_adm:ping(${B})`)).text).toBe("pong");
    expect((await erl.eval(`lists:member(${B}, nodes(hidden))`)).text).toBe("true");
    expect((await erl.eval("nodes()")).text).toBe("[]");
  });

  it("pings erl", async () => {
    expect(await bridge.ping(atom(erl.nodeName))).toBe("pong");
    expect(bridge.connectedNodes()).toContain(atom(erl.nodeName));
  });

  it("is listed by epmd -names", async () => {
    expect(await epmdNames(epmd.port)).toContain(`name ${bridge.name.name.split("@")[0]} at port ${bridge.port}`);
  });

  it("answers gen_server:call with OTP 24+ alias tags", async () => {
    expect((await erl.eval(`gen_server:call({calc, ${B}}, {add, 20, 22})`)).text).toBe("42");
    expect((await erl.eval(`gen_server:call({calc, ${B}}, what)`)).text).toBe("{error,unknown}");
  });

  it("answers calls independently: a slow one does not hold up a fast one", async () => {
    const r = await erl.eval(`
      Self = self(),
      spawn(fun() -> Self ! {slow, gen_server:call({calc, ${B}}, {slow, 300})} end),
      timer:sleep(20),
      Fast = gen_server:call({calc, ${B}}, {add, 1, 1}),
      First = receive M -> M after 0 -> none end,
      Slow = receive {slow, S} -> S after 5000 -> timeout end,
      {Fast, First, Slow}`);
    expect(r.text).toBe("{2,none,late}");
  });

  it("leaves no late reply in the caller's mailbox after a timeout", async () => {
    late.length = 0;
    const r = await erl.eval(`
      R = (catch gen_server:call({calc, ${B}}, {slow, 1000}, 50)),
      timer:sleep(1500),
      {messages, Ms} = process_info(self(), messages),
      {element(1, element(2, R)), Ms}`);
    expect(r.text).toBe("{timeout,[]}");
    // The reply was sent, to an alias that no longer existed.
    expect(late).toHaveLength(1);
  });

  it("replies to an old-style plain reference tag at the caller's pid", async () => {
    const r = await erl.eval(`
      Ref = make_ref(),
      {calc, ${B}} ! {'$gen_call', {self(), Ref}, {add, 2, 3}},
      receive {Ref, V} -> V after 5000 -> timeout end`);
    expect(r.text).toBe("5");
  });

  it("logs and drops a malformed $gen_call and other messages, and goes on serving", async () => {
    await erl.eval(`{calc, ${B}} ! {'$gen_call', not_a_from, x}, {calc, ${B}} ! hello, ok`);
    expect((await erl.eval(`gen_server:call({calc, ${B}}, {add, 1, 2})`)).text).toBe("3");
    expect(log.matching(/calc: dropping a \$gen_call with a malformed From not_a_from/)).toHaveLength(1);
    expect(log.matching(/calc: dropping an unexpected message hello/)).toHaveLength(1);
  });

  // Each eval runs in a process of its own: what must happen in one Erlang process (monitor,
  // then wait for DOWN) happens in one eval, while the test acts on the bridge side meanwhile.

  it("fires an erlang:monitor/2 on a bridge name when the process ends, with the name", async () => {
    const target = new Mailbox(bridge, { register: "mon_target" });
    const down = erl.eval(`
      MonRef = erlang:monitor(process, {mon_target, ${B}}),
      {mon_target, ${B}} ! ready,
      receive {'DOWN', MonRef, process, Obj, Reason} -> {Obj, Reason} after 5000 -> timeout end`);
    // The message sent after the monitor shows it is in place before the process ends.
    await target.take();
    target.process.terminate(atom("bye"));
    expect((await down).text).toBe(`{{mon_target,${bridge.name.name}},bye}`);
  });

  it("fires a monitor on a name nobody has at once with noproc", async () => {
    const r = await erl.eval(`
      NoRef = erlang:monitor(process, {nobody_here, ${B}}),
      receive {'DOWN', NoRef, process, _, NoReason} -> NoReason after 5000 -> timeout end`);
    expect(r.text).toBe("noproc");
  });

  it("answers a monitor of a pid by DOWN with the reason, and demonitor stops it", async () => {
    const a = new Mailbox(bridge);
    const b = new Mailbox(bridge);
    const downs = erl.eval(`
      RA = erlang:monitor(process, ${pidLiteral(a.pid)}),
      RB = erlang:monitor(process, ${pidLiteral(b.pid)}),
      true = erlang:demonitor(RB),
      ${pidLiteral(a.pid)} ! ready, ${pidLiteral(b.pid)} ! ready,
      WhyA = receive {'DOWN', RA, process, _, Why} -> Why after 5000 -> timeout end,
      WhyB = receive {'DOWN', RB, _, _, _} -> got after 300 -> nothing end,
      {WhyA, WhyB}`);
    await a.take();
    await b.take();
    a.process.terminate(atom("boom"));
    b.process.terminate(atom("boom"));
    expect((await downs).text).toBe("{boom,nothing}");
  });

  it("answers spawn on the bridge with an error, not silence", async () => {
    const r = await erl.eval(`
      Req = erlang:spawn_request(${B}, erlang, self, [], []),
      receive {spawn_reply, Req, Status, Result} -> {Status, Result} after 5000 -> timeout end`);
    expect(r.text).toBe("{error,notsup}");
  });
});

/** A bridge pid as an Erlang expression the erl node can evaluate. */
function pidLiteral(pid: { node: { name: string }; id: number; serial: number; creation: number }): string {
  // erlang:list_to_pid/1 only builds pids of nodes the runtime knows with the creation it knows;
  // the binary form carries node, id, serial and creation exactly (NEW_PID_EXT).
  const node = Buffer.from(pid.node.name, "utf8");
  const bytes = [131, 88, 118, node.length >> 8, node.length & 255, ...node, ...u32(pid.id), ...u32(pid.serial), ...u32(pid.creation)];
  return `binary_to_term(<<${bytes.join(",")}>>)`;
}

function u32(n: number): number[] {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
}
