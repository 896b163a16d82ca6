import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EpmdError,
  NODE_TYPE,
  buildAlive2XResp,
  buildNamesResp,
  buildPort2Resp,
  buildRequest,
  parseAlive2Resp,
  parseNamesResp,
  parsePort2Resp,
  parseRequest,
  type EpmdRequest,
  type NodeInfo,
} from "../../bridge/epmd.js";
import { EpmdUnavailable, hiddenNodeInfo, lookup, names, register } from "../../bridge/epmd-client.js";
import { EmbeddedEpmd } from "../../bridge/epmd-server.js";
import { ByteQueue } from "../../bridge/framing.js";
import { silentLogger } from "../../bridge/log.js";
import { Epmd, ErlNode, freePort, randomCookie, randomName, stopAll } from "../support/erlang.js";
import { epmdNames, run } from "./helpers.js";

const info: NodeInfo = {
  port: 40123,
  nodeType: NODE_TYPE.HIDDEN,
  protocol: 0,
  highestVersion: 6,
  lowestVersion: 6,
  name: "bridgé",
  extra: Buffer.from([1, 2]),
};

/** The request body a queue holding `bytes` gives, as the embedded EPMD reads it. */
function frameOf(bytes: Uint8Array): Uint8Array | undefined {
  const input = new ByteQueue();
  input.push(bytes);
  return input.takeFrame(2);
}

describe("EPMD messages", () => {
  it("ALIVE2_REQ has the layout of the protocol document", () => {
    const bytes = buildRequest({ kind: "ALIVE2_REQ", node: hiddenNodeInfo("ab", 0x1234) });
    expect([...bytes]).toEqual([0, 15, 120, 0x12, 0x34, 72, 0, 0, 6, 0, 6, 0, 2, 97, 98, 0, 0]);
  });

  const requests: EpmdRequest[] = [
    { kind: "ALIVE2_REQ", node: info },
    { kind: "PORT_PLEASE2_REQ", name: "x_y" },
    { kind: "NAMES_REQ" },
    { kind: "DUMP_REQ" },
    { kind: "KILL_REQ" },
    { kind: "STOP_REQ", name: "n" },
  ];

  it("parses every request it builds, and takes none from a prefix of its frame", () => {
    for (const req of requests) {
      const bytes = buildRequest(req);
      for (let i = 0; i < bytes.length; i++) expect(frameOf(bytes.subarray(0, i)), `${req.kind} at ${i}`).toBeUndefined();
      const input = new ByteQueue();
      input.push(Buffer.concat([bytes, Buffer.from([9])]));
      const r = parseRequest(input.takeFrame(2)!);
      expect(input.length).toBe(1);
      expect({ ...r, ...("node" in r ? { node: { ...r.node, extra: [...r.node.extra] } } : {}) }).toEqual({
        ...req,
        ...("node" in req ? { node: { ...req.node, extra: [...req.node.extra] } } : {}),
      });
    }
  });

  it("refuses an unknown request and an ALIVE2_REQ whose name runs past its length", () => {
    expect(() => parseRequest(frameOf(Buffer.from([0, 1, 99]))!)).toThrow(EpmdError);
    const bad = buildRequest({ kind: "ALIVE2_REQ", node: info });
    bad.writeUInt16BE(200, 11);
    expect(() => parseRequest(frameOf(bad)!)).toThrow(EpmdError);
    expect(() => parseRequest(frameOf(Buffer.from([0, 0]))!)).toThrow(EpmdError);
  });

  it("parses ALIVE2_X_RESP and the old ALIVE2_RESP, with `more` on every prefix", () => {
    const x = buildAlive2XResp(0, 0xdeadbeef);
    for (let i = 0; i < x.length; i++) expect(parseAlive2Resp(x.subarray(0, i))).toBe("more");
    expect(parseAlive2Resp(x)).toEqual({ value: { result: 0, creation: 0xdeadbeef }, next: 6 });
    expect(parseAlive2Resp(Buffer.from([121, 0, 0, 3]))).toEqual({ value: { result: 0, creation: 3 }, next: 4 });
    expect(() => parseAlive2Resp(Buffer.from([1]))).toThrow(EpmdError);
  });

  it("parses PORT2_RESP, found and not found, with `more` on every prefix", () => {
    const found = buildPort2Resp(info);
    for (let i = 0; i < found.length; i++) expect(parsePort2Resp(found.subarray(0, i))).toBe("more");
    const r = parsePort2Resp(found);
    expect(r !== "more" && r.value).toMatchObject({ port: 40123, name: "bridgé", highestVersion: 6 });
    expect(parsePort2Resp(buildPort2Resp(undefined))).toEqual({ value: undefined, next: 2 });
  });

  it("builds and parses NAMES_RESP as `epmd -names` prints it", () => {
    const bytes = buildNamesResp(4369, [{ name: "a", port: 1 }, { name: "b", port: 65535 }]);
    expect(bytes.subarray(4).toString()).toBe("name a at port 1\nname b at port 65535\n");
    expect(parseNamesResp(bytes)).toEqual({ epmdPort: 4369, nodes: [{ name: "a", port: 1 }, { name: "b", port: 65535 }] });
  });
});

describe("the EPMD client against a real epmd", () => {
  let epmd: Epmd;
  beforeAll(async () => {
    epmd = await Epmd.start();
  });
  afterAll(stopAll);

  it("registers a hidden node for as long as the socket lives", async () => {
    const name = randomName("c");
    const reg = await register({ host: "127.0.0.1", port: epmd.port }, hiddenNodeInfo(name, 45678));
    expect(reg.creation).toBeGreaterThan(0);
    expect(epmd.names()).toContain(`name ${name} at port 45678`);
    const found = await lookup({ host: "127.0.0.1", port: epmd.port }, name);
    expect(found).toMatchObject({ port: 45678, nodeType: 72, highestVersion: 6, lowestVersion: 6 });
    expect((await names({ host: "127.0.0.1", port: epmd.port })).nodes).toContainEqual({ name, port: 45678 });
    await expect(register({ host: "127.0.0.1", port: epmd.port }, hiddenNodeInfo(name, 1))).rejects.toThrow(EpmdError);
    reg.close();
    await reg.closed;
    await expect.poll(() => epmd.names()).not.toContain(`name ${name} at`);
  });

  it("answers undefined for a name nobody registered", async () => {
    expect(await lookup({ host: "127.0.0.1", port: epmd.port }, "nobody_here")).toBeUndefined();
  });

  it("says EPMD is unavailable where none listens", async () => {
    const port = await freePort();
    await expect(names({ host: "127.0.0.1", port })).rejects.toBeInstanceOf(EpmdUnavailable);
  });
});

describe("the embedded EPMD", () => {
  let server: EmbeddedEpmd;
  beforeAll(async () => {
    server = await EmbeddedEpmd.start(await freePort(), silentLogger);
  });
  afterAll(async () => {
    await stopAll();
    await server.close();
  });

  it("serves `epmd -names`, and erl nodes register with it and find each other", async () => {
    const creation = server.registerLocal(hiddenNodeInfo("self_node", 4242));
    expect(creation).toBeGreaterThan(0);
    const cookie = randomCookie();
    const a = await ErlNode.start({ epmdPort: server.port, cookie });
    const b = await ErlNode.start({ epmdPort: server.port, cookie });
    const out = await epmdNames(server.port);
    expect(out).toContain("name self_node at port 4242");
    expect(out).toContain(`name ${a.name} at port`);
    expect((await a.eval(`net_adm:ping('${b.nodeName}')`)).text).toBe("pong");
    await b.stop();
    await expect.poll(() => server.names).not.toContain(b.name);
    // A node coming back under the same name gets a different creation.
    const again = await ErlNode.start({ epmdPort: server.port, cookie, name: b.name });
    expect((await again.eval(`net_adm:ping('${a.nodeName}')`)).text).toBe("pong");
  });

  it("refuses a name already taken", async () => {
    const taken = hiddenNodeInfo("taken_name", 1);
    server.registerLocal(taken);
    await expect(register({ host: "127.0.0.1", port: server.port }, taken)).rejects.toThrow(EpmdError);
    expect(() => server.registerLocal(taken)).toThrow(EpmdError);
  });

  it("keeps a real epmd from taking its port", async () => {
    const r = await run("epmd", ["-port", String(server.port)], process.env, 5_000);
    // epmd gives up on a port in use by itself (exit status 0), instead of running until killed.
    expect(r.status).not.toBeNull();
    expect((await names({ host: "127.0.0.1", port: server.port })).nodes.map((n) => n.name)).toContain("self_node");
  });
});
