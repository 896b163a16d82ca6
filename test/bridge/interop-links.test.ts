/**
 * Links and monitors across the connection with a real erl node: normal and abnormal exits both
 * ways, exit/2 and kill, unlink, `noconnection` when the erl node is killed and when the bridge
 * drops the connection, and a node that dies and comes back under the same name.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatTerm } from "../../etf/format.js";
import { Pid, Tuple, atom, type Term } from "../../etf/terms.js";
import type { DistNode } from "../../bridge/node.js";
import { Epmd, ErlNode, randomCookie, randomName, stopAll } from "../support/erlang.js";
import { Mailbox, erlAtom, startBridge, tagged } from "./helpers.js";

const isExit = (from: Pid | undefined, reason: string) => (t: Term) =>
  tagged("EXIT", 3)(t) && (from === undefined || String((t as Tuple).elements[1]) === String(from)) && String((t as Tuple).elements[2]) === reason;

describe("links and monitors between the bridge and erl", () => {
  let epmd: Epmd;
  let cookie: string;
  let erl: ErlNode;
  let bridge: DistNode;
  let B: string;
  let n = 0;
  /** A fresh Erlang variable name suffix: bindings outlive each eval on the agent. */
  const v = () => `V${++n}`;

  beforeAll(async () => {
    epmd = await Epmd.start();
    cookie = randomCookie();
    ({ bridge } = await startBridge(epmd.port, cookie));
    B = erlAtom(bridge.name);
    erl = await ErlNode.start({ epmdPort: epmd.port, cookie });
  });
  afterAll(async () => {
    await bridge?.stop();
    await stopAll();
  });

  /**
   * Starts an erl process that runs `body` (Erlang expressions, with `Bridge` bound to the pid
   * of `box`), after telling the bridge its own pid. Resolves that pid.
   */
  async function erlProcess(box: Mailbox, body: string): Promise<Pid> {
    const reg = randomName("hello");
    const hello = new Mailbox(bridge, { register: reg });
    await erl.eval(`spawn(fun() -> Bridge = ${lit(box.pid)}, {${reg}, ${B}} ! {pid, self()}, ${body} end), ok`);
    const msg = (await hello.take(tagged("pid", 2))) as Tuple;
    hello.process.terminate(atom("normal"));
    return msg.elements[1] as Pid;
  }

  it("an erl process linked to a trapping bridge process: its normal and abnormal exits arrive as EXIT", async () => {
    const box = new Mailbox(bridge, { trapExit: true, register: "linker1" });
    const normal = await erlProcess(box, `link(Bridge), receive stop -> ok end`);
    const abnormal = await erlProcess(box, `link(Bridge), receive stop -> exit(boom) end`);
    // The link is in place once the erl process has sent something after it.
    await erl.eval(`${send(normal, "stop")}, ${send(abnormal, "stop")}`);
    await box.take(isExit(normal, "normal"));
    await box.take(isExit(abnormal, "boom"));
    expect(box.process.alive).toBe(true);
  });

  it("a bridge process that does not trap exits dies of an abnormal exit of a linked erl process", async () => {
    const box = new Mailbox(bridge, { register: "linker2" });
    const p = await erlProcess(box, `link(Bridge), receive stop -> exit(crash) end`);
    await erl.eval(send(p, "stop"));
    expect(String(await box.ended())).toBe("crash");
  });

  it("a bridge process linked to erl processes: they get its exit reason, normal or not", async () => {
    const ready = new Mailbox(bridge, { register: "watch_ready" });
    // Two trapping erl processes, watched from their start by a third that reports how they end.
    await erl.eval(`
      LinkSpawn = fun() -> spawn(fun() -> process_flag(trap_exit, true), receive {'EXIT', _, R} -> exit({got, R}) end end) end,
      LinkA = LinkSpawn(), LinkB = LinkSpawn(),
      spawn(fun() ->
          MA = erlang:monitor(process, LinkA), MB = erlang:monitor(process, LinkB),
          {watch_ready, ${B}} ! {pids, LinkA, LinkB},
          RA = receive {'DOWN', MA, _, _, XA} -> XA end,
          RB = receive {'DOWN', MB, _, _, XB} -> XB end,
          {watch_ready, ${B}} ! {ended, RA, RB}
        end), ok`);
    const pids = (await ready.take(tagged("pids", 3))) as Tuple;
    const [a, b] = [pids.elements[1] as Pid, pids.elements[2] as Pid];
    const p1 = new Mailbox(bridge);
    const p2 = new Mailbox(bridge);
    p1.process.link(a);
    p2.process.link(b);
    // The exit signals follow the LINKs on the same connection, so erl has the links first.
    p1.process.terminate(atom("normal"));
    p2.process.terminate(new Tuple([atom("shutdown"), atom("bye")]));
    const ended = (await ready.take(tagged("ended", 3))) as Tuple;
    const show = (t: Term | undefined) => (t === undefined ? "-" : formatTerm(t));
    const state = `a=${a}, b=${b}; p1=${p1.pid} ended ${show(p1.exitReason)}, p2=${p2.pid} ended ${show(p2.exitReason)}, p2 got ${p2.messages.map(show).join(" ")}`;
    expect(formatTerm(ended), state).toBe("{ended,{got,normal},{got,{shutdown,bye}}}");
  });

  it("unlink stops an erl process's exit from reaching the bridge process", async () => {
    const box = new Mailbox(bridge, { register: "unlinker" });
    const p = await erlProcess(box, `receive stop -> exit(boom) end`);
    box.process.link(p);
    box.process.unlink(p);
    // The erl process's exit signal, had the link stayed, would leave before `after_exit` does.
    await erl.eval(`
      UnlinkM = erlang:monitor(process, ${lit(p)}),
      ${send(p, "stop")},
      receive {'DOWN', UnlinkM, _, _, _} -> ok end,
      {unlinker, ${B}} ! after_exit`);
    await box.take((t) => t === atom("after_exit"));
    expect(box.process.alive).toBe(true);
  });

  it("without unlink, the same exit kills the bridge process", async () => {
    const box = new Mailbox(bridge, { register: "still_linked" });
    const p = await erlProcess(box, `receive stop -> exit(boom) end`);
    box.process.link(p);
    box.process.send(p, atom("stop"));
    expect(String(await box.ended())).toBe("boom");
  });

  it("exit/2 from erl: a reason is trapped, kill is not", async () => {
    const box = new Mailbox(bridge, { trapExit: true, register: "exit_target" });
    await erl.eval(`exit(${lit(box.pid)}, please), ok`);
    await box.take(isExit(undefined, "please"));
    await erl.eval(`exit(${lit(box.pid)}, kill), ok`);
    expect(String(await box.ended())).toBe("killed");
  });

  it("a bridge monitor on an erl process fires DOWN with its reason", async () => {
    const box = new Mailbox(bridge, { register: "mon_holder" });
    const p = await erlProcess(box, `receive stop -> exit(gone) end`);
    const ref = box.process.monitor(p);
    // Sent after the monitor by the same process, so it arrives after it.
    box.process.send(p, atom("stop"));
    const down = (await box.take(tagged("DOWN", 5))) as Tuple;
    expect(down.elements[1]).toEqual(ref);
    expect(String(down.elements[3])).toBe(String(p));
    expect(String(down.elements[4])).toBe("gone");
  });

  it("a bridge monitor on an erl name that does not exist fires noproc with {Name, Node}", async () => {
    const box = new Mailbox(bridge);
    box.process.monitor(new Tuple([atom("no_such_name"), atom(erl.nodeName)]));
    const down = (await box.take(tagged("DOWN", 5))) as Tuple;
    expect(String(down.elements[4])).toBe("noproc");
    expect(down.elements[3]).toEqual(new Tuple([atom("no_such_name"), atom(erl.nodeName)]));
  });

  it("noconnection for links and monitors both ways when the bridge drops the connection", async () => {
    const box = new Mailbox(bridge, { trapExit: true, register: "dropper" });
    const p = await erlProcess(box, `receive never -> ok end`);
    box.process.link(p);
    const ref = box.process.monitor(p);
    const seen = erl.eval(`
      process_flag(trap_exit, true),
      link(${lit(box.pid)}),
      ${v()} = erlang:monitor(process, ${lit(box.pid)}),
      {dropper, ${B}} ! linked,
      DropE = receive {'EXIT', _, DropR1} -> DropR1 after 10000 -> timeout end,
      DropD = receive {'DOWN', _, _, _, DropR2} -> DropR2 after 10000 -> timeout end,
      {DropE, DropD}`);
    await box.take((t) => t === atom("linked"));
    bridge.disconnect(atom(erl.nodeName));
    expect((await seen).text).toBe("{noconnection,noconnection}");
    await box.take(isExit(p, "noconnection"));
    const down = (await box.take(tagged("DOWN", 5))) as Tuple;
    expect(down.elements[1]).toEqual(ref);
    expect(String(down.elements[4])).toBe("noconnection");
    // And the next message connects again.
    expect(await bridge.ping(atom(erl.nodeName))).toBe("pong");
  });

  it("noconnection when the erl node is killed, and a node back under the same name works, without the old links", async () => {
    const name = randomName("victim");
    const victim = await ErlNode.start({ epmdPort: epmd.port, cookie, name });
    const box = new Mailbox(bridge, { trapExit: true, register: "victim_watch" });
    await victim.eval(`spawn(fun() -> {victim_watch, ${B}} ! {pid, self()}, receive never -> ok end end), ok`);
    const p = ((await box.take(tagged("pid", 2))) as Tuple).elements[1] as Pid;
    box.process.link(p);
    box.process.monitor(p);
    await victim.eval(`{victim_watch, ${B}} ! synced`);
    await box.take((t) => t === atom("synced"));
    await victim.kill();
    await box.take(isExit(p, "noconnection"));
    const down = (await box.take(tagged("DOWN", 5))) as Tuple;
    expect(String(down.elements[4])).toBe("noconnection");

    const again = await ErlNode.start({ epmdPort: epmd.port, cookie, name });
    expect((await again.eval(`net_adm:ping(${B})`)).text).toBe("pong");
    expect(await bridge.ping(atom(again.nodeName))).toBe("pong");
    // A message to the old incarnation's pid is not delivered to the new node.
    const r = again.eval(`register(newcomer, self()), receive M -> {got, M} after 500 -> nothing end`);
    await new Promise((res) => setTimeout(res, 100));
    box.process.send(p, atom("to_the_old_one"));
    box.process.send(new Tuple([atom("newcomer"), atom(again.nodeName)]), atom("to_the_new_one"));
    expect((await r).text).toBe("{got,to_the_new_one}");
    expect(box.process.alive).toBe(true);
    await again.stop();
  });
});

function send(to: Pid, what: string): string {
  return `${lit(to)} ! ${what}`;
}

/** A pid as an Erlang expression (NEW_PID_EXT through binary_to_term, exact creation). */
function lit(pid: Pid): string {
  const node = Buffer.from(pid.node.name, "utf8");
  const u32 = (x: number) => [(x >>> 24) & 255, (x >>> 16) & 255, (x >>> 8) & 255, x & 255];
  const bytes = [131, 88, 118, node.length >> 8, node.length & 255, ...node, ...u32(pid.id), ...u32(pid.serial), ...u32(pid.creation)];
  return `binary_to_term(<<${bytes.join(",")}>>)`;
}
