import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Epmd, ErlNode, ErlangError, randomCookie, stopAll } from "./erlang.js";

describe("the erl test harness", () => {
  let epmd: Epmd;
  let node: ErlNode;
  const cookie = randomCookie();

  beforeAll(async () => {
    epmd = await Epmd.start();
    node = await ErlNode.start({ epmdPort: epmd.port, cookie });
  });
  afterAll(stopAll);

  it("registers the node with its own EPMD", () => {
    expect(epmd.names()).toContain(`name ${node.name} at port`);
  });

  it("evaluates expressions with bindings, like a shell", async () => {
    await node.eval("X = 20");
    expect((await node.eval("X + 1")).text).toBe("21");
    expect((await node.eval("node()")).text).toBe(node.nodeName);
  });

  it("evaluates concurrently: a blocked receive does not hold up others", async () => {
    const blocked = node.eval("register(waiter, self()), receive go -> done end");
    await new Promise((r) => setTimeout(r, 50));
    await node.eval("waiter ! go");
    expect((await blocked).text).toBe("done");
  });

  it("reports a raised error with the expression", async () => {
    await expect(node.eval("1 = 2")).rejects.toBeInstanceOf(ErlangError);
  });

  it("stops the node and frees its name", async () => {
    const other = await ErlNode.start({ epmdPort: epmd.port, cookie });
    await other.stop();
    expect(epmd.names()).not.toContain(`name ${other.name} at`);
  });
});
