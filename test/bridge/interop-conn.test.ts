/**
 * The connection's life: ticks both ways (erl keeps a silent bridge, the bridge drops a silent
 * peer), back-pressure while a peer does not read, two nodes connecting to each other at once,
 * and a peer that asks for a dynamic name.
 */
import { connect, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { Encoder } from "../../etf/encode.js";
import { Pid, Tuple, atom, type Term } from "../../etf/terms.js";
import { DOP } from "../../bridge/control.js";
import { DistReader, encodeMessage } from "../../bridge/dist-message.js";
import { DFLAG, OUR_FLAGS, REQUIRED_FLAGS } from "../../bridge/flags.js";
import { FrameReader, frameLength, joinFrame } from "../../bridge/framing.js";
import { connectHandshake } from "../../bridge/handshake.js";
import type { DistNode } from "../../bridge/node.js";
import { SocketTransport } from "../../bridge/transport.js";
import { Epmd, ErlNode, freePort, randomCookie, shortHost, stopAll } from "../support/erlang.js";
import { Mailbox, erlAtom, run, startBridge } from "./helpers.js";

const bridges: DistNode[] = [];
afterAll(async () => {
  await Promise.all(bridges.map((b) => b.stop()));
  await stopAll();
});

async function bridgeOn(epmdPort: number, cookie: string, options: Parameters<typeof startBridge>[2] = {}) {
  const r = await startBridge(epmdPort, cookie, options);
  bridges.push(r.bridge);
  return r;
}

describe("the connection over time", () => {
  it("stays up with an erl node at a much shorter net_ticktime than its own, answering its ticks", async () => {
    const epmd = await Epmd.start();
    const cookie = randomCookie();
    const { bridge } = await bridgeOn(epmd.port, cookie, { netTickTime: 60 });
    const erl = await ErlNode.start({ epmdPort: epmd.port, cookie, args: ["-kernel", "net_ticktime", "2"] });
    const watch = erl.eval(`
      net_kernel:monitor_nodes(true, [{node_type, all}]),
      pong = net_adm:ping(${erlAtom(bridge.name)}),
      receive {nodedown, N, _} -> {down, N} after 6000 -> still_up end`);
    expect((await watch).text).toBe("still_up");
    expect(bridge.connectedNodes()).toContain(atom(erl.nodeName));
  }, 30_000);

  it("ticks a silent peer, and drops it once it has been silent for net_ticktime", async () => {
    const { bridge, log } = await bridgeOn(await freePort(), "C", { netTickTime: 1 });
    const s = await open(bridge.port);
    const t = new SocketTransport(s, 2_000);
    await connectHandshake(t, { name: `silent@${shortHost}`, creation: 3, flags: OUR_FLAGS, required: REQUIRED_FLAGS, peer: bridge.name.name, cookie: "C" });
    const early = t.detach();
    let ticks = 0;
    const frames = new FrameReader(4, 1 << 20);
    const count = (c: Uint8Array) => frames.push(c, (f) => (frameLength(f) === 0 ? ticks++ : 0));
    count(early);
    s.on("data", count);
    await new Promise<void>((resolve) => s.once("close", () => resolve()));
    expect(ticks).toBeGreaterThan(0);
    expect(log.matching(/silent@\S+ not responding/)).toHaveLength(1);
  });

  it("reports back-pressure while the peer does not read, and drains when it does", async () => {
    const epmd = await Epmd.start();
    const cookie = randomCookie();
    const { bridge } = await bridgeOn(epmd.port, cookie, { highWaterMark: 1 << 20 });
    const erl = await ErlNode.start({ epmdPort: epmd.port, cookie });
    await erl.eval(`register(slow_sink, spawn(fun Loop() -> receive _ -> Loop() end end)), ok`);
    const node = atom(erl.nodeName);
    expect(await bridge.ping(node)).toBe("pong");
    const sender = new Mailbox(bridge);
    process.kill(erl.pid!, "SIGSTOP");
    try {
      // 96 MiB: far more than the socket buffers of both ends hold (Linux's largest are 4 MiB to
      // send and 32 MiB to receive), so the queue stays over its mark until erl reads again.
      const chunk = Buffer.alloc(256 * 1024, 1);
      for (let i = 0; i < 384; i++) {
        sender.process.send(new Tuple([atom("slow_sink"), node]), chunk);
        if (i % 16 === 0) await new Promise((r) => setImmediate(r));
      }
      expect(bridge.isBackedUp(node)).toBe(true);
      let drained = false;
      const d = bridge.whenDrained(node).then(() => (drained = true));
      await new Promise((r) => setTimeout(r, 100));
      expect(drained).toBe(false);
      process.kill(erl.pid!, "SIGCONT");
      await d;
      expect(bridge.isBackedUp(node)).toBe(false);
    } finally {
      process.kill(erl.pid!, "SIGCONT");
    }
    expect((await erl.eval(`net_adm:ping(${erlAtom(bridge.name)})`)).text).toBe("pong");
  });

  it("settles two nodes that connect to each other at the same moment", async () => {
    const port = await freePort();
    const cookie = "SAME";
    const { bridge: a } = await bridgeOn(port, cookie);
    const { bridge: b } = await bridgeOn(port, cookie);
    for (let round = 0; round < 5; round++) {
      const [x, y] = await Promise.all([a.ping(b.name), b.ping(a.name)]);
      expect([x, y]).toEqual(["pong", "pong"]);
      expect(a.connectedNodes()).toEqual([b.name]);
      expect(b.connectedNodes()).toEqual([a.name]);
      a.disconnect(b.name);
      await expect.poll(() => b.connectedNodes()).toEqual([]);
    }
  });

  it("speaks pass-through (no headers) with a peer that takes neither the atom cache nor fragments", async () => {
    const { bridge } = await bridgeOn(await freePort(), "C");
    bridge.spawn(
      {
        message(msg, self) {
          if (msg instanceof Tuple && msg.elements[0] instanceof Pid) self.send(msg.elements[0], new Tuple([atom("back"), msg.elements[1]!]));
        },
      },
      { register: atom("plain_echo") },
    );
    const s = await open(bridge.port);
    const t = new SocketTransport(s, 2_000);
    const me = `plain@${shortHost}`;
    const flags = OUR_FLAGS & ~(DFLAG.DIST_HDR_ATOM_CACHE | DFLAG.FRAGMENTS);
    await connectHandshake(t, { name: me, creation: 4, flags, required: REQUIRED_FLAGS, peer: bridge.name.name, cookie: "C" });
    const early = t.detach();
    const reader = new DistReader(false, 1 << 20);
    const got: Term[] = [];
    const frames = new FrameReader(4, 1 << 20);
    const onChunk = (c: Uint8Array) =>
      frames.push(c, (f) => {
        if (frameLength(f) === 0) return;
        expect(joinFrame(f)[0]).toBe(112);
        const m = reader.read(f);
        if (m?.payload !== undefined) got.push(m.payload);
      });
    onChunk(early);
    s.on("data", onChunk);
    const self = new Pid(atom(me), 1, 0, 4);
    const out = encodeMessage(
      new Encoder(),
      { control: new Tuple([DOP.REG_SEND, self, atom(""), atom("plain_echo")]), payload: new Tuple([self, Buffer.alloc(100_000, 5)]) },
      { headers: false, fragments: false },
      () => 1n,
    );
    expect(out).toHaveLength(1);
    s.write(Buffer.concat(out[0]!));
    await expect.poll(() => got.length).toBe(1);
    const back = got[0] as Tuple;
    expect(back.elements[0]).toBe(atom("back"));
    expect((back.elements[1] as Uint8Array).length).toBe(100_000);
    s.destroy();
  });

  it("names a peer that asks for a dynamic name (an erl node started without one)", async () => {
    const epmd = await Epmd.start();
    const cookie = randomCookie();
    const { bridge } = await bridgeOn(epmd.port, cookie);
    const r = await run(
      "erl",
      [
        "-noshell",
        "-setcookie",
        cookie,
        "-eval",
        // Until it has a name, gen:call refuses to call out (so net_adm:ping says pang):
        // connect first, which names the node.
        `{ok, _} = net_kernel:start([undefined, shortnames]), ` +
          `true = net_kernel:connect_node(${erlAtom(bridge.name)}), ` +
          `io:format("~p ~p~n", [net_adm:ping(${erlAtom(bridge.name)}), node()]), halt().`,
      ],
      { ...process.env, ERL_EPMD_PORT: String(epmd.port) },
      20_000,
    );
    expect(r.stdout).toMatch(new RegExp(`^pong dyn_[0-9a-f]+@${shortHost}\\s`));
  });
});

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port }, () => resolve(s));
    s.once("error", reject);
  });
}

