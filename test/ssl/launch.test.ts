/**
 * The bridge as `npm start` starts it (ts-ssl/launch.ts): what it prints, that an erl node
 * started as it says reaches ts_ssl_bridge, and that stopping closes every socket, so the TLS
 * peer sees the close, and leaves EPMD.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CliError } from "../../bridge/cli.js";
import { MemoryLogger } from "../../bridge/log.js";
import { erlCommand, launch, type Bridge } from "../../ts-ssl/launch.js";
import { SslSocket } from "../../ts-ssl/socket.js";
import { makePki } from "../support/certs.js";
import { ErlNode, freePort, randomCookie, randomName, repoRoot, stopAll } from "../support/erlang.js";

const home = mkdtempSync(join(tmpdir(), "ts-ssl-home-"));
const bridges: Bridge[] = [];
afterAll(async () => {
  await Promise.all(bridges.map((b) => b.stop().catch(() => {})));
  await stopAll();
  rmSync(home, { recursive: true, force: true });
});

/** A connection of the bridge whose handshake is done (a connect's socket exists from its start). */
function connected(bridge: Bridge): boolean {
  return bridge.service.sockets.all().some((e) => {
    if (!(e instanceof SslSocket)) return false;
    try {
      e.peername();
      return true;
    } catch {
      return false;
    }
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(false);
    });
    s.on("error", () => resolve(true));
  });
}

describe("launch (npm start)", () => {
  it("serves EPMD when none runs, says how to reach it, and an erl node started so reaches it", async () => {
    const epmdPort = await freePort();
    const cookie = randomCookie();
    const name = randomName("tsb");
    const lines: string[] = [];
    const bridge = await launch(["--sname", name, "--setcookie", cookie], { ERL_EPMD_PORT: String(epmdPort), HOME: home }, (l) => lines.push(l), new MemoryLogger());
    bridges.push(bridge);
    const node = bridge.node.name.name;
    expect(lines[0]).toBe(`ts-ssl bridge: node ${node}, hidden, serving ts_ssl_bridge`);
    expect(lines[1]).toBe("cookie: given with --setcookie");
    expect(lines[2]).toBe(`EPMD: port ${epmdPort} (served by this bridge: no EPMD was running)`);
    const command = lines[4]!.trim();
    expect(command).toBe(erlCommand(bridge.args));
    expect(command).toMatch(new RegExp(`^ERL_EPMD_PORT=${epmdPort} erl -sname shell -setcookie ${cookie} -pa \\S+/_build/default/lib/ts_ssl/ebin -ts_ssl bridge ${node}$`));

    // The erl node as the printed line starts it (its own name, the same cookie, port and bridge).
    const [, bridgeArg] = /-ts_ssl bridge (\S+)$/.exec(command)!;
    const erl = await ErlNode.start({ epmdPort, cookie, args: ["-ts_ssl", "bridge", bridgeArg!] });
    expect((await erl.eval("ok = ts_ssl:start(), ts_ssl:version()")).text).toMatch(/^\{ok,\{"3\.9","OpenSSL [\d.]+","OpenSSL [\d.]+"\}\}$/);

    // A connection open when the bridge stops: its TLS peer sees the close.
    const pki = makePki();
    const closed = erl.eval(`
      {ok, _} = application:ensure_all_started(ssl),
      {ok, L} = ssl:listen(0, [binary, {active, false}, {ip, {127,0,0,1}}, {certfile, "${pki.server.certFile}"}, {keyfile, "${pki.server.keyFile}"}]),
      {ok, {_, Port}} = ssl:sockname(L),
      Self = self(),
      spawn(fun() -> {ok, S} = ts_ssl:connect({127,0,0,1}, Port, []), Self ! connected, receive never -> S end end),
      {ok, T} = ssl:transport_accept(L, 10000),
      {ok, Peer} = ssl:handshake(T, 10000),
      receive connected -> ok end,
      ssl:recv(Peer, 0, 20000)`);
    while (!connected(bridge)) await new Promise((r) => setTimeout(r, 10));
    await bridge.stop();
    bridges.pop();
    expect((await closed).text).toBe("{error,closed}");
    expect(await refused(epmdPort)).toBe(true);
    pki.remove();
    await erl.stop();
  });

  it("reads the cookie from ~/.erlang.cookie, making it as erl does when missing", async () => {
    const epmdPort = await freePort();
    const lines: string[] = [];
    const bridge = await launch(["--sname", randomName("tsb")], { ERL_EPMD_PORT: String(epmdPort), HOME: home }, (l) => lines.push(l), new MemoryLogger());
    bridges.push(bridge);
    expect(lines[1]).toBe(`cookie: ${join(home, ".erlang.cookie")} (created now)`);
    expect(bridge.args.cookie).toMatch(/^[A-Z]{20}$/);
    // erl on this host reads the same file: the line to paste does not show the cookie.
    expect(lines.join("\n")).not.toContain(bridge.args.cookie);
    await bridge.stop();
    bridges.pop();
  });

  it("npm start's process: SIGTERM closes the bridge, leaves EPMD and exits", async () => {
    // The compiled program, as `npm start` runs it (`npm test` builds dist/ first).
    const epmdPort = await freePort();
    const child = spawn(process.execPath, [join(repoRoot, "dist", "ts-ssl", "main.js"), "--sname", randomName("tsb"), "--setcookie", randomCookie()], {
      env: { ...process.env, ERL_EPMD_PORT: String(epmdPort), HOME: home, TS_SSL_LOG: "warning" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    let out = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("1> ts_ssl:start()")) resolve();
      });
      child.once("exit", () => reject(new Error(`the bridge exited before it was up:\n${out}`)));
    });
    expect(await refused(epmdPort)).toBe(false);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(await refused(epmdPort)).toBe(true);
  });

  it("refuses a command line erl would not take", async () => {
    await expect(launch(["--nmae", "x"], { HOME: home }, () => {})).rejects.toBeInstanceOf(CliError);
  });

  it("with TLS distribution, prints the matching erl flags, a key's password left out, and refuses options it cannot honour", async () => {
    const pki = makePki();
    try {
      const epmdPort = await freePort();
      const argv = ["--sname", randomName("tsb"), "--proto-dist", "inet_tls", "--ssl-dist-opt", "server_certfile", pki.encrypted.certFile, "server_keyfile", pki.encrypted.keyFile, "server_password", pki.password];
      const lines: string[] = [];
      const bridge = await launch(argv, { ERL_EPMD_PORT: String(epmdPort), HOME: home }, (l) => lines.push(l), new MemoryLogger());
      bridges.push(bridge);
      expect(lines).toContain(`distribution: inet_tls, port ${bridge.node.port}`);
      const command = lines.find((l) => l.includes(" erl "))!;
      expect(command).toContain(`-proto_dist inet_tls -ssl_dist_opt server_certfile ${pki.encrypted.certFile} server_keyfile ${pki.encrypted.keyFile} server_password PASSWORD`);
      expect(command).not.toContain(pki.password.split(" ")[0]);
      const refused = launch(["--sname", randomName("tsb"), "--proto-dist", "inet_tls", "--ssl-dist-opt", "server_certfile", pki.server.certFile, "server_crl_check", "true"], { ERL_EPMD_PORT: String(epmdPort), HOME: home }, () => {});
      await expect(refused).rejects.toThrow(/crl_check: not an option the bridge's TLS distribution can honour/);
    } finally {
      pki.remove();
    }
  });
});
