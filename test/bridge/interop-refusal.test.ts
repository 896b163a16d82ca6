/**
 * What a peer can throw at the bridge: wrong cookies both ways, missing flags, garbage
 * handshakes, garbage in connected state, a huge length. The bridge refuses or drops, logs
 * which step failed, and goes on serving.
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Encoder } from "../../etf/encode.js";
import { Pid, Tuple, atom, type Term } from "../../etf/terms.js";
import { DOP } from "../../bridge/control.js";
import { encodeMessage } from "../../bridge/dist-message.js";
import { DFLAG, OUR_FLAGS, REQUIRED_FLAGS } from "../../bridge/flags.js";
import { HandshakeError, buildName, connectHandshake } from "../../bridge/handshake.js";
import type { MemoryLogger } from "../../bridge/log.js";
import type { DistNode } from "../../bridge/node.js";
import { SocketTransport } from "../../bridge/transport.js";
import { Epmd, ErlNode, randomCookie, shortHost, stopAll } from "../support/erlang.js";
import { Mailbox, erlAtom, framed, startBridge } from "./helpers.js";

describe("refusals and garbage", () => {
  let epmd: Epmd;
  let cookie: string;
  let bridge: DistNode;
  let log: MemoryLogger;
  let erl: ErlNode;

  beforeAll(async () => {
    epmd = await Epmd.start();
    cookie = randomCookie();
    ({ bridge, log } = await startBridge(epmd.port, cookie, { setupTimeMs: 1_000 }));
    erl = await ErlNode.start({ epmdPort: epmd.port, cookie });
  });
  afterAll(async () => {
    await bridge?.stop();
    await stopAll();
  });

  /** The bridge still serves: erl pings it. */
  async function stillServing(): Promise<void> {
    expect((await erl.eval(`net_adm:ping(${erlAtom(bridge.name)})`)).text).toBe("pong");
  }

  function open(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port: bridge.port }, () => resolve(s));
      s.once("error", reject);
    });
  }

  function closed(s: Socket): Promise<void> {
    return new Promise((resolve) => (s.destroyed ? resolve() : s.once("close", () => resolve())));
  }

  it("refuses an erl node with the wrong cookie, and says why", async () => {
    const intruder = await ErlNode.start({ epmdPort: epmd.port, cookie: "WRONG" + randomCookie() });
    expect((await intruder.eval(`net_adm:ping(${erlAtom(bridge.name)})`)).text).toBe("pang");
    expect(log.matching(new RegExp(`from node ${intruder.nodeName} rejected at recv_challenge_reply: invalid digest`))).toHaveLength(1);
    await stillServing();
  });

  it("is refused by an erl node with another cookie, and says at which step", async () => {
    const other = await ErlNode.start({ epmdPort: epmd.port, cookie: "OTHER" + randomCookie() });
    expect(await bridge.ping(atom(other.nodeName))).toBe("pang");
    expect(log.matching(new RegExp(`handshake to ${other.nodeName} failed at recv_challenge_ack`))).toHaveLength(1);
    await expect.poll(() => other.log).toMatch(/Invalid challenge reply/);
  });

  it("tells a peer lacking mandatory flags not_allowed and names them", async () => {
    const s = await open();
    const t = new SocketTransport(s, 2_000);
    const poor = REQUIRED_FLAGS & ~(DFLAG.UNLINK_ID | DFLAG.MAP_TAG);
    const r = await connectHandshake(t, {
      name: `poor@${shortHost}`,
      creation: 1,
      flags: poor,
      required: 0n,
      peer: bridge.name.name,
      cookie,
    }).catch((e: unknown) => e);
    expect(r).toBeInstanceOf(HandshakeError);
    expect(r).toMatchObject({ step: "recv_status", code: "not_allowed" });
    expect(log.matching(/node poor@\S+ rejected at check_dflags since it cannot handle MAP_TAG, UNLINK_ID/)).toHaveLength(1);
    s.destroy();
  });

  const garbageHandshakes: Array<[string, Buffer]> = [
    ["random bytes", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
    ["a name message that is not a node name", framed(buildName(OUR_FLAGS, 1, "noatsign").subarray(0, 20), 2)],
    ["a truncated name message", Buffer.from([0, 3, 0x4e, 0, 0])],
    ["a length and nothing after it", Buffer.from([0xff, 0xff, 1, 2, 3])],
  ];
  for (const [what, bytes] of garbageHandshakes) {
    it(`drops a connection that opens with ${what}`, async () => {
      const s = await open();
      s.on("error", () => {});
      s.write(bytes);
      await closed(s);
      await stillServing();
    });
  }

  it("drops a connection that says nothing, after the setup time", async () => {
    const s = await open();
    await closed(s);
    expect(log.matching(/failed at recv_name \(timeout\)/).length).toBeGreaterThan(0);
  });

  describe("in connected state", () => {
    let s: Socket;
    let enc: Encoder;
    let collector: Mailbox;
    const me = `raw@${shortHost}`;
    const fake = () => new Pid(atom(me), 1, 0, 7);

    beforeAll(async () => {
      collector = new Mailbox(bridge, { register: "raw_collector" });
      s = await open();
      const t = new SocketTransport(s, 2_000);
      await connectHandshake(t, { name: me, creation: 7, flags: OUR_FLAGS, required: REQUIRED_FLAGS, peer: bridge.name.name, cookie });
      t.detach();
      s.on("error", () => {});
      enc = new Encoder();
    });

    function frame(body: Uint8Array): Buffer {
      return framed(body, 4);
    }

    function message(control: Term, payload?: Term): Buffer {
      const frames = encodeMessage(enc, { control: control as Tuple, ...(payload === undefined ? {} : { payload }) }, { headers: true, fragments: true }, () => 1n);
      return Buffer.concat(frames.flat());
    }

    const t = (...e: Term[]) => new Tuple(e);

    it("logs and drops malformed messages, and the connection lives on", async () => {
      const before = log.entries.length;
      const bad: Buffer[] = [
        frame(Buffer.from("random garbage")),
        frame(Buffer.from([131, 68, 0, 255, 1, 2])),
        frame(Buffer.from([131, 68, 1, 0x00, 5])), // a cached atom never set
        frame(Buffer.from([131, 99])),
        frame(Buffer.from([131, 70, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2])), // unknown sequence
        message(atom("not_a_tuple")),
        message(t(99, 1)),
        message(t(DOP.REG_SEND, atom("not_a_pid"), atom(""), atom("raw_collector")), atom("x")),
        message(t(DOP.SEND_SENDER, fake())), // no payload, wrong arity
        message(t(4, fake(), new Pid(bridge.name, 1, 0, bridge.creation))), // the old UNLINK
        message(t(DOP.LINK, new Pid(atom("spoofed@elsewhere"), 1, 0, 1), collector.pid)),
        Buffer.alloc(4), // a tick
      ];
      for (const b of bad) s.write(b);
      s.write(message(t(DOP.REG_SEND, fake(), atom(""), atom("raw_collector")), atom("still_here")));
      expect(await collector.take()).toBe(atom("still_here"));
      expect(s.destroyed).toBe(false);
      const dropped = log.entries.slice(before).filter((e) => /dropping a/.test(e.message));
      expect(dropped.length).toBeGreaterThanOrEqual(bad.length - 1);
      await stillServing();
    });

    it("takes fragments interleaved from two senders", async () => {
      const big = (n: number) => Buffer.alloc(200_000, n);
      const a = encodeMessage(enc, { control: t(DOP.REG_SEND, fake(), atom(""), atom("raw_collector")), payload: t(atom("a"), big(1)) }, { headers: true, fragments: true }, () => 100n);
      const b = encodeMessage(enc, { control: t(DOP.REG_SEND, fake(), atom(""), atom("raw_collector")), payload: t(atom("b"), big(2)) }, { headers: true, fragments: true }, () => 200n);
      expect(a.length).toBeGreaterThan(2);
      for (let i = 0; i < Math.max(a.length, b.length); i++) {
        if (a[i]) s.write(Buffer.concat(a[i]!));
        if (b[i]) s.write(Buffer.concat(b[i]!));
      }
      const got = [await collector.take(), await collector.take()] as Tuple[];
      expect(got.map((g) => String(g.elements[0])).sort()).toEqual(["a", "b"]);
      for (const g of got) expect((g.elements[1] as Uint8Array).length).toBe(200_000);
    });

    it("drops the connection on a length over the limit, and goes on serving others", async () => {
      s.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
      await closed(s);
      expect(log.matching(/over the limit/).length).toBeGreaterThan(0);
      await stillServing();
    });
  });
});
