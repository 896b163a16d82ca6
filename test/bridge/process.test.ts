/**
 * The process model on one node: messages, links, exits, monitors, aliases, registered names
 * and gen_server calls between the bridge's own processes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pid, Ref, Tuple, atom, termEquals, type Term } from "../../etf/terms.js";
import { CallError, call, reply, serveCalls } from "../../bridge/gen-server.js";
import { MemoryLogger } from "../../bridge/log.js";
import type { DistNode } from "../../bridge/node.js";
import { ProcessRuntime, RUN_BUDGET } from "../../bridge/runtime.js";
import { freePort, randomCookie } from "../support/erlang.js";
import { Mailbox, startBridge, tagged } from "./helpers.js";

describe("bridge processes among themselves", () => {
  let node: DistNode;
  let log: MemoryLogger;

  beforeAll(async () => {
    ({ bridge: node, log } = await startBridge(await freePort(), randomCookie()));
  });
  afterAll(() => node?.stop());

  it("delivers messages in the order sent, by pid, by name and by {Name, Node}", async () => {
    const rx = new Mailbox(node, { register: "rx_order" });
    const tx = new Mailbox(node);
    for (let i = 0; i < 100; i++) {
      tx.process.send(i % 3 === 0 ? rx.pid : i % 3 === 1 ? atom("rx_order") : new Tuple([atom("rx_order"), node.name]), i);
    }
    for (let i = 0; i < 100; i++) expect(await rx.take()).toBe(i);
  });

  it("never throws for a destination that is not there", () => {
    const tx = new Mailbox(node);
    expect(() => tx.process.send(atom("nobody"), 1)).not.toThrow();
    expect(() => tx.process.send(new Pid(node.name, 30000, 5, node.creation), 1)).not.toThrow();
  });

  it("refuses to register a name twice, and frees it when the process ends", async () => {
    const a = new Mailbox(node, { register: "unique_name" });
    expect(() => new Mailbox(node, { register: "unique_name" })).toThrow(/taken/);
    expect(node.whereis(atom("unique_name"))).toBe(a.pid);
    a.process.terminate(atom("normal"));
    expect(node.whereis(atom("unique_name"))).toBeUndefined();
  });

  it("propagates exits over links: normal is ignored, others kill, trapped ones become messages", async () => {
    const a = new Mailbox(node);
    const b = new Mailbox(node);
    const c = new Mailbox(node, { trapExit: true });
    a.process.link(b.pid);
    a.process.link(c.pid);
    a.process.terminate(atom("normal"));
    expect(tagged("EXIT", 3)(await c.take())).toBe(true);
    expect(b.process.alive).toBe(true);

    const d = new Mailbox(node);
    const e = new Mailbox(node);
    d.process.link(e.pid);
    d.process.terminate(atom("boom"));
    expect(await e.ended()).toBe(atom("boom"));
  });

  it("links to a process that is gone fire at once with noproc", async () => {
    const gone = new Mailbox(node);
    gone.process.terminate(atom("normal"));
    const t = new Mailbox(node, { trapExit: true });
    t.process.link(gone.pid);
    const m = (await t.take()) as Tuple;
    expect(m.elements[2]).toBe(atom("noproc"));
  });

  it("unlinks: the exit of a former link does not arrive", async () => {
    const a = new Mailbox(node);
    const b = new Mailbox(node);
    a.process.link(b.pid);
    a.process.unlink(b.pid);
    a.process.terminate(atom("boom"));
    b.process.send(b.pid, atom("after"));
    expect(await b.take()).toBe(atom("after"));
    expect(b.process.alive).toBe(true);
  });

  it("exit/2: kill cannot be trapped and becomes killed for links", async () => {
    const t = new Mailbox(node, { trapExit: true });
    const linked = new Mailbox(node, { trapExit: true });
    t.process.link(linked.pid);
    const killer = new Mailbox(node);
    killer.process.exit(t.pid, atom("soft"));
    expect(((await t.take()) as Tuple).elements[2]).toBe(atom("soft"));
    killer.process.exit(t.pid, atom("kill"));
    expect(await t.ended()).toBe(atom("killed"));
    expect(((await linked.take(tagged("EXIT", 3))) as Tuple).elements[2]).toBe(atom("killed"));
  });

  it("monitors: DOWN with the reason, noproc for a missing target, nothing after demonitor", async () => {
    const w = new Mailbox(node);
    const target = new Mailbox(node, { register: "mon_local" });
    const byPid = w.process.monitor(target.pid);
    const byName = w.process.monitor(atom("mon_local"));
    const dropped = w.process.monitor(target.pid);
    w.process.demonitor(dropped);
    // terminate() acts at once; the monitors are signals, in place once a later one arrives.
    w.process.send(target.pid, atom("sync"));
    await target.take();
    target.process.terminate(atom("bye"));
    const d1 = (await w.take(tagged("DOWN", 5))) as Tuple;
    const d2 = (await w.take(tagged("DOWN", 5))) as Tuple;
    const byRef = new Map([d1, d2].map((d) => [String(d.elements[1]), d]));
    expect(byRef.get(String(byPid))!.elements[3]).toBe(target.pid);
    expect(termEquals(byRef.get(String(byName))!.elements[3]!, new Tuple([atom("mon_local"), node.name]))).toBe(true);
    expect(byRef.get(String(byName))!.elements[4]).toBe(atom("bye"));
    const none = w.process.monitor(atom("mon_local"));
    const d3 = (await w.take(tagged("DOWN", 5))) as Tuple;
    expect(d3.elements[1]).toBe(none);
    expect(d3.elements[4]).toBe(atom("noproc"));
    w.process.send(w.pid, atom("last"));
    expect(await w.take()).toBe(atom("last"));
  });

  it("aliases: messages to an alias arrive until unalias", async () => {
    const a = new Mailbox(node);
    const alias = a.process.alias();
    const tx = new Mailbox(node);
    tx.process.send(alias, 1);
    expect(await a.take()).toBe(1);
    a.process.unalias(alias);
    tx.process.send(alias, 2);
    tx.process.send(a.pid, 3);
    expect(await a.take()).toBe(3);
    expect(a.messages).toEqual([]);
  });

  it("ends a process whose handler throws, and logs it", async () => {
    const p = node.spawn({
      message() {
        throw new Error("handler bug");
      },
    });
    const w = new Mailbox(node);
    w.process.monitor(p.pid);
    w.process.send(p.pid, 1);
    const down = (await w.take(tagged("DOWN", 5))) as Tuple;
    expect(tagged("exception")(down.elements[4]!)).toBe(true);
    expect(log.matching(/handler bug/).length).toBeGreaterThan(0);
  });

  it("answers gen_server calls between bridge processes, late replies included", async () => {
    const pending: Array<() => void> = [];
    const server = serveCalls(node, atom("local_server"), (req, from) => {
      if (req === atom("later")) pending.push(() => reply(server, from, atom("done")));
      else reply(server, from, new Tuple([atom("echo"), req]));
    });
    expect(termEquals(await call(node, atom("local_server"), 42), new Tuple([atom("echo"), 42]))).toBe(true);
    const later = call(node, atom("local_server"), atom("later"));
    const other = call(node, new Tuple([atom("local_server"), node.name]), atom("now"));
    expect(termEquals(await other, new Tuple([atom("echo"), atom("now")]))).toBe(true);
    pending.shift()!();
    expect(await later).toBe(atom("done"));
  });

  it("rejects calls with timeout, and with noproc for a missing server", async () => {
    serveCalls(node, atom("silent_server"), () => {});
    await expect(call(node, atom("silent_server"), 1, 50)).rejects.toMatchObject({ reason: atom("timeout") });
    const e = await call(node, atom("no_server"), 1).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CallError);
    expect((e as CallError).reason).toBe(atom("noproc"));
  });

  it("fires links and monitors toward a node that cannot be reached with noconnection", async () => {
    const nowhere = atom(`nobody@${node.name.name.split("@")[1]}`);
    const w = new Mailbox(node, { trapExit: true });
    const ghost = new Pid(nowhere, 1, 0, 1);
    w.process.link(ghost);
    const ref = w.process.monitor(new Tuple([atom("some_name"), nowhere]));
    w.process.send(ghost, atom("lost"));
    const exit = (await w.take(tagged("EXIT", 3))) as Tuple;
    expect(exit.elements[1]).toBe(ghost);
    expect(exit.elements[2]).toBe(atom("noconnection"));
    const down = (await w.take(tagged("DOWN", 5))) as Tuple;
    expect(down.elements[1]).toBe(ref);
    expect(down.elements[4]).toBe(atom("noconnection"));
    expect(log.matching(/nobody@/).length).toBeGreaterThan(0);
  });

  it("makes distinct references and pids with this node's creation", () => {
    const refs = new Set<string>();
    for (let i = 0; i < 1000; i++) refs.add(String(node.makeRef()));
    expect(refs.size).toBe(1000);
    const r: Ref = node.makeRef();
    expect(r.creation).toBe(node.creation);
    const p = new Mailbox(node).pid;
    expect(p.creation).toBe(node.creation);
    expect(p.node).toBe(node.name);
  });
});


describe("a process runtime alone, with no connections to other nodes", () => {
  const runtime = new ProcessRuntime(atom("alone@localhost"), new MemoryLogger());
  afterAll(() => runtime.stop());

  it("fires a link and a monitor to a process of another node with noconnection, as a connection that cannot be made", async () => {
    const elsewhere = new Pid(atom("other@localhost"), 40, 0, 1);
    const watcher = new Mailbox(runtime, { trapExit: true });
    const ref = watcher.process.monitor(elsewhere);
    watcher.process.link(elsewhere);
    watcher.process.send(elsewhere, atom("lost"));
    const noconnection = atom("noconnection");
    expect(termEquals(await watcher.take(tagged("DOWN")), new Tuple([atom("DOWN"), ref, atom("process"), elsewhere, noconnection]))).toBe(true);
    expect(termEquals(await watcher.take(tagged("EXIT")), new Tuple([atom("EXIT"), elsewhere, noconnection]))).toBe(true);
  });

  /** A process that keeps what it gets, and one to send from. */
  function pair(): { got: Term[]; send: (n: number) => void } {
    const got: Term[] = [];
    const rx = runtime.spawn({ message: (m) => void got.push(m) });
    const tx = runtime.spawn({ message: () => undefined });
    return { got, send: (n) => tx.send(rx.pid, n) };
  }

  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

  it("run() delivers what is queued at once, in order; the microtask it was queued for then delivers nothing twice", async () => {
    const { got, send } = pair();
    for (let i = 0; i < 5; i++) send(i);
    expect(got).toEqual([]);
    runtime.run();
    expect(got).toEqual([0, 1, 2, 3, 4]);
    send(5);
    await turn();
    expect(got).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("run() past its budget leaves the rest to the next turn, and does not run it sooner when asked again", async () => {
    const { got, send } = pair();
    const n = RUN_BUDGET + 5;
    for (let i = 0; i < n; i++) send(i);
    runtime.run();
    expect(got.length).toBe(RUN_BUDGET);
    runtime.run();
    await Promise.resolve();
    expect(got.length).toBe(RUN_BUDGET);
    await turn();
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i));
  });
});

export type { Term };
