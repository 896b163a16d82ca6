/**
 * EPMD from the bridge's side: the real one, the embedded one when none answers (erl nodes
 * started later register with it), a real one that cannot take the port later, and a real one
 * that goes away under a registered bridge.
 */
import { afterAll, describe, expect, it } from "vitest";
import { atom } from "../../etf/terms.js";
import { names } from "../../bridge/epmd-client.js";
import { Epmd, ErlNode, freePort, randomCookie, randomName, stopAll } from "../support/erlang.js";
import { epmdNames, erlAtom, run, startBridge } from "./helpers.js";
import type { DistNode } from "../../bridge/node.js";

const bridges: DistNode[] = [];
afterAll(async () => {
  await Promise.all(bridges.map((b) => b.stop()));
  await stopAll();
});

describe("EPMD", () => {
  it("registers with a real EPMD, hidden, and leaves it on stop", async () => {
    const epmd = await Epmd.start();
    const { bridge } = await startBridge(epmd.port, randomCookie());
    const alive = bridge.name.name.split("@")[0]!;
    expect(bridge.servesEpmd).toBe(false);
    expect(await epmdNames(epmd.port)).toContain(`name ${alive} at port ${bridge.port}`);
    await bridge.stop();
    await expect.poll(() => epmdNames(epmd.port)).not.toContain(`name ${alive} at`);
  });

  it("serves EPMD itself when none answers: epmd -names and erl nodes started later use it", async () => {
    const port = await freePort();
    const cookie = randomCookie();
    const { bridge, log } = await startBridge(port, cookie);
    bridges.push(bridge);
    expect(bridge.servesEpmd).toBe(true);
    expect(log.matching(/serving EPMD/)).toHaveLength(1);
    const alive = bridge.name.name.split("@")[0]!;
    expect(await epmdNames(port)).toContain(`name ${alive} at port ${bridge.port}`);

    const erl = await ErlNode.start({ epmdPort: port, cookie });
    expect(await epmdNames(port)).toContain(`name ${erl.name} at port`);
    expect((await erl.eval(`net_adm:ping(${erlAtom(bridge.name)})`)).text).toBe("pong");
    expect(await bridge.ping(atom(erl.nodeName))).toBe("pong");
    const other = await ErlNode.start({ epmdPort: port, cookie });
    expect((await other.eval(`net_adm:ping('${erl.nodeName}')`)).text).toBe("pong");

    // A real EPMD started now finds the port taken and leaves; nothing breaks.
    const r = await run("epmd", ["-port", String(port)], process.env, 5_000);
    expect(r.status).not.toBeNull();
    const late = await ErlNode.start({ epmdPort: port, cookie });
    expect((await late.eval(`net_adm:ping(${erlAtom(bridge.name)})`)).text).toBe("pong");
  });

  it("registers again, serving EPMD itself, when the real EPMD goes away", async () => {
    const epmd = await Epmd.start();
    const cookie = randomCookie();
    const { bridge, log } = await startBridge(epmd.port, cookie);
    bridges.push(bridge);
    const alive = bridge.name.name.split("@")[0]!;
    await epmd.stop();
    await expect.poll(() => bridge.servesEpmd, { timeout: 10_000 }).toBe(true);
    expect(log.matching(/closed our registration/)).toHaveLength(1);
    expect((await names({ host: "127.0.0.1", port: epmd.port })).nodes.map((n) => n.name)).toContain(alive);
    const erl = await ErlNode.start({ epmdPort: epmd.port, cookie });
    expect((await erl.eval(`net_adm:ping(${erlAtom(bridge.name)})`)).text).toBe("pong");
  });

  it("works with long names (-name NAME@HOST) both ways", async () => {
    const epmd = await Epmd.start();
    const cookie = randomCookie();
    const { bridge } = await startBridge(epmd.port, cookie, { name: `${randomName("lb")}@127.0.0.1`, longNames: true });
    bridges.push(bridge);
    const erl = await ErlNode.start({ epmdPort: epmd.port, cookie, longNames: true });
    expect((await erl.eval(`net_adm:ping(${erlAtom(bridge.name)})`)).text).toBe("pong");
    expect(await bridge.ping(atom(erl.nodeName))).toBe("pong");
  });

  it("refuses to start under a name EPMD already has", async () => {
    const epmd = await Epmd.start();
    const cookie = randomCookie();
    const erl = await ErlNode.start({ epmdPort: epmd.port, cookie });
    await expect(startBridge(epmd.port, cookie, { name: erl.name })).rejects.toThrow(/refused to register/);
  });
});
