/**
 * README's "Across hosts", run as the README writes it, on this one host: its shell commands make
 * the certificates, its options file is the bridge's (and, with the other host's names, the
 * node's), the bridge starts from its `npm start` arguments and an erl node from its `erl` flags,
 * and the node reaches ts_ssl over TLS distribution. The host names stay the README's: the erl
 * node resolves both to 127.0.0.1 through an inetrc file. What changes: the directory (a
 * temporary one), the ports (a free range), the erl node's name part (made unique).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MemoryLogger } from "../../bridge/log.js";
import { launch, type Bridge } from "../../ts-ssl/launch.js";
import { Epmd, ErlNode, freePort, randomName, repoRoot, stopAll } from "../support/erlang.js";

const dir = mkdtempSync(join(tmpdir(), "ts-ssl-across-"));
const home = mkdtempSync(join(tmpdir(), "ts-ssl-across-home-"));
let bridge: Bridge | undefined;
afterAll(async () => {
  await bridge?.stop();
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

/** The words of a command line: quotes group and are removed, a backslash-newline continues. */
function words(command: string): string[] {
  return [...command.replace(/\\\n/g, " ").matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

describe("README: Across hosts", () => {
  it("works as written", async () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const start = readme.indexOf("\n## Across hosts\n");
    const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
    const low = await freePort();
    const text = section
      .replaceAll("/etc/ts-ssl-dist", dir)
      .replaceAll("9100", String(low))
      .replaceAll("9105", String(low + 5));
    const blocks = [...text.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], code: m[2]! }));
    expect(blocks.map((b) => b.lang)).toEqual(["sh", "erlang", "sh", "sh"]);
    const [certs, options, bridgeLine, erlLine] = blocks.map((b) => b.code);

    const made = spawnSync("sh", ["-ec", certs!], { encoding: "utf8" });
    expect(made.status, made.stderr).toBe(0);
    writeFileSync(join(dir, "ssl_dist.conf"), options!);
    const appOptions = join(dir, "ssl_dist.app1.conf");
    writeFileSync(appOptions, options!.replaceAll("bridge.example.com", "app1.example.com"));
    const inetrc = join(dir, "inetrc");
    writeFileSync(inetrc, `{host, {127,0,0,1}, ["bridge.example.com", "app1.example.com"]}.\n{lookup, [file, native]}.\n`);

    const epmd = await Epmd.start();
    const [npm, run, dashes, ...argv] = words(bridgeLine!);
    expect([npm, run, dashes]).toEqual(["npm", "start", "--"]);
    const lines: string[] = [];
    bridge = await launch(argv, { ERL_EPMD_PORT: String(epmd.port), HOME: home }, (l) => lines.push(l), new MemoryLogger());
    expect(bridge.node.port).toBeGreaterThanOrEqual(low);
    expect(bridge.node.port).toBeLessThanOrEqual(low + 5);
    const printed = lines.find((l) => l.includes(" erl "))!;
    expect(printed).toContain(`-proto_dist inet_tls -ssl_dist_optfile ${join(dir, "ssl_dist.conf")}`);
    expect(printed).not.toContain(bridge.args.cookie);

    // The erl line, but for the node's name (made unique), -pa (ErlNode adds the ebin) and the
    // options file of its host.
    const [erl, ...flags] = words(erlLine!);
    expect(erl).toBe("erl");
    const name = flags[flags.indexOf("-name") + 1]!;
    flags[flags.indexOf("-ssl_dist_optfile") + 1] = appOptions;
    const rest = flags.filter((_, i) => !["-name", "-pa"].includes(flags[i]!) && !["-name", "-pa"].includes(flags[i - 1]!));
    const node = await ErlNode.start({
      epmdPort: epmd.port,
      cookie: bridge.args.cookie,
      name: randomName(name.split("@")[0]),
      longNames: true,
      host: name.split("@")[1]!,
      args: [...rest, "-kernel", "inetrc", `"${inetrc}"`],
    });
    expect((await node.eval("ok = ts_ssl:start(), {ok, {V, _, _}} = ts_ssl:version(), V")).text).toBe(`"3.9"`);
    expect((await node.eval(`{ok, I} = net_kernel:node_info('${bridge.node.name.name}'), element(4, proplists:get_value(address, I))`)).text).toBe("tls");
  });
});
