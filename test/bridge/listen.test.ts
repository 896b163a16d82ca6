/**
 * Where the bridge listens: the distribution listener bound to one address
 * (`inet_dist_use_interface`) on the first free port of a range (`inet_dist_listen_min`/`_max`),
 * and the EPMD it serves when none runs bound to that address and loopback.
 */
import { createConnection, createServer, type Server } from "node:net";
import { networkInterfaces } from "node:os";
import { afterAll, describe, expect, it } from "vitest";
import type { DistNode } from "../../bridge/node.js";
import { Epmd, ErlNode, freePort, randomCookie, stopAll } from "../support/erlang.js";
import { erlAtom, startBridge } from "./helpers.js";

/** Whether a TCP connection to `host:port` is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });
}

/** An IPv4 address of this host other than loopback. */
const external = Object.values(networkInterfaces())
  .flat()
  .find((i) => i !== undefined && i.family === "IPv4" && !i.internal)?.address;

describe("where the bridge listens", () => {
  const bridges: DistNode[] = [];
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(bridges.map((b) => b.stop()));
    for (const s of servers) s.close();
    await stopAll();
  });

  it("binds the distribution listener to the address given, on the first free port of the range", async () => {
    const epmd = await Epmd.start();
    const cookie = randomCookie();
    const busy = await freePort();
    const taken = createServer();
    servers.push(taken);
    await new Promise<void>((resolve) => taken.listen(busy, resolve));
    const { bridge } = await startBridge(epmd.port, cookie, { listenAddress: "127.0.0.1", portRange: { min: busy, max: busy + 5 } });
    bridges.push(bridge);
    expect(bridge.port).toBeGreaterThan(busy);
    expect(bridge.port).toBeLessThanOrEqual(busy + 5);
    expect(await accepts("127.0.0.1", bridge.port)).toBe(true);
    if (external !== undefined) expect(await accepts(external, bridge.port)).toBe(false);
    const erl = await ErlNode.start({ epmdPort: epmd.port, cookie });
    expect((await erl.eval(`net_adm:ping(${erlAtom(bridge.name)})`)).text).toBe("pong");
  });

  it("fails to start when every port of the range is taken", async () => {
    const epmd = await Epmd.start();
    const busy = await freePort();
    const taken = createServer();
    servers.push(taken);
    await new Promise<void>((resolve) => taken.listen(busy, resolve));
    await expect(startBridge(epmd.port, randomCookie(), { portRange: { min: busy, max: busy } })).rejects.toThrow(/EADDRINUSE/);
  });

  it("serves EPMD, when none runs, on every interface for 0.0.0.0", async () => {
    const epmdPort = await freePort();
    const { bridge } = await startBridge(epmdPort, randomCookie(), { listenAddress: "0.0.0.0" });
    bridges.push(bridge);
    expect(bridge.servesEpmd).toBe(true);
    expect(await accepts("127.0.0.1", epmdPort)).toBe(true);
    expect(await accepts("127.0.0.1", bridge.port)).toBe(true);
  });

  it.runIf(external !== undefined)("serves EPMD, when none runs, on that address and on loopback", async () => {
    const epmdPort = await freePort();
    const { bridge } = await startBridge(epmdPort, randomCookie(), { listenAddress: external! });
    bridges.push(bridge);
    expect(bridge.servesEpmd).toBe(true);
    expect(await accepts(external!, epmdPort)).toBe(true);
    expect(await accepts("127.0.0.1", epmdPort)).toBe(true);
    expect(await accepts(external!, bridge.port)).toBe(true);
    expect(await accepts("127.0.0.1", bridge.port)).toBe(false);
  });
});
