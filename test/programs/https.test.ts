/**
 * Programs written for OTP's `ssl` (test/programs/https_server.erl and https_client.erl, in the
 * style of the ssl User's Guide) run twice on a real `erl` node: as they are, and with `ssl:`
 * replaced by `ts_ssl_otp:` and nothing else changed, over a bridge in this process. Each runs
 * against `curl`, `openssl s_client`, `openssl s_server` and the other program on native `ssl`,
 * with certificates made by the openssl command line and by `public_key:pkix_test_data/1`; the
 * bridge's run must give what the native run gives.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Node } from "../../bridge/api.js";
import { startSslBridge } from "../support/bridge.js";
import { makePki, type Pki } from "../support/certs.js";
import { Epmd, ErlNode, erlc, randomCookie, repoRoot, stopAll } from "../support/erlang.js";
import { OpensslPeer } from "../ssl/peers.js";

const run = promisify(execFile);
const programs = ["https_server", "https_client"];

/** The module names each way of running uses: the programs as written, or over the bridge. */
const ways = [
  { way: "native ssl", server: "https_server", client: "https_client" },
  { way: "ts_ssl_otp", server: "https_server_otp", client: "https_client_otp" },
] as const;

/** A program's source with only its module changed: `ssl:` calls go to `ts_ssl_otp:`. */
function overTheBridge(source: string, module: string): string {
  return source.replace(`-module(${module}).`, `-module(${module}_otp).`).replace(/\bssl:/g, "ts_ssl_otp:");
}

let work: string;
let pki: Pki;
let epmd: Epmd;
let bridge: Node;
let erl: ErlNode;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "ts-ssl-programs-"));
  pki = makePki();
  const sources = programs.flatMap((m) => {
    const original = join(repoRoot, "test", "programs", `${m}.erl`);
    const changed = join(work, `${m}_otp.erl`);
    writeFileSync(changed, overTheBridge(readFileSync(original, "utf8"), m));
    return [original, changed];
  });
  erlc(sources, work);
  const cookie = randomCookie();
  epmd = await Epmd.start();
  bridge = await startSslBridge(cookie, epmd.port);
  erl = await ErlNode.start({ epmdPort: epmd.port, cookie, codePaths: [work] });
  await erl.eval(`application:load(ts_ssl), application:set_env(ts_ssl, bridge, '${bridge.name.name}'), ok = ts_ssl:start()`);
  // pkix_test_data/1: a root, an intermediate and a peer each side, as DER options, the
  // server's certificate naming this host; its defaults but for P-256 keys and SHA-256
  // signatures: its default curve (secp160k1) is not one TLS 1.3 signs with, and OpenSSL
  // refuses its default digest (SHA-1).
  await erl.eval(
    `Key = [{key, {namedCurve, secp256r1}}, {digest, sha256}],
     Chain = #{root => Key, intermediates => [Key], peer => Key},
     Data = public_key:pkix_test_data(#{server_chain => Chain, client_chain => Chain}),
     persistent_term:put(pkix_test_data, Data)`,
  );
}, 60_000);

afterAll(async () => {
  await erl?.stop();
  await bridge?.stop();
  await epmd?.stop();
  await stopAll();
  pki?.remove();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

const str = (s: string) => JSON.stringify(s);

/** Starts a server module with Options (Erlang source), on 127.0.0.1: its pid and port. */
async function startServer(module: string, options: string): Promise<{ stop: () => Promise<void>; port: number }> {
  // A fun, so that its variables are its own (the node's evaluations keep their bindings).
  const started = `(fun({ok, P, N}) -> {pid_to_list(P), N} end)(${module}:start(0, [{ip, {127,0,0,1}} | ${options}]))`;
  const text = (await erl.eval(started)).text;
  const [, pid, port] = /^\{"(.*)",(\d+)\}$/.exec(text)!;
  return { port: Number(port), stop: async () => void (await erl.eval(`${module}:stop(list_to_pid(${str(pid!)}))`)) };
}

const fileOptions = (certFile: string, keyFile: string) => `[{certfile, ${str(certFile)}}, {keyfile, ${str(keyFile)}}]`;
const verifying = () => `[{verify, verify_peer}, {cacertfile, ${str(pki.caFile)}}]`;

describe.each(ways)("the HTTPS server and client, with $way", ({ server, client }) => {
  it("serves curl", async () => {
    const s = await startServer(server, fileOptions(pki.server.certFile, pki.server.keyFile));
    try {
      const { stdout } = await run("curl", ["-sS", "--cacert", pki.caFile, `https://localhost:${s.port}/from-curl`]);
      expect(stdout).toBe("hello /from-curl over tlsv1.3\n");
    } finally {
      await s.stop();
    }
  });

  it("serves openssl s_client", async () => {
    const s = await startServer(server, fileOptions(pki.server.certFile, pki.server.keyFile));
    const peer = OpensslPeer.client(s.port, ["-CAfile", pki.caFile, "-verify_return_error", "-servername", "localhost"]);
    try {
      await peer.waitFor("CONNECTED");
      peer.type("GET /from-s_client HTTP/1.1\r\nHost: localhost\r\n\r\n");
      await peer.waitFor("hello /from-s_client over tlsv1.3");
      expect(peer.output).toContain("Verify return code: 0 (ok)");
    } finally {
      await peer.stop();
      await s.stop();
    }
  });

  it("serves the client on native ssl", async () => {
    const s = await startServer(server, fileOptions(pki.server.certFile, pki.server.keyFile));
    try {
      const got = await erl.eval(`https_client:get("localhost", ${s.port}, "/from-native", ${verifying()})`);
      expect(got.text).toBe('{ok,200,3,<<"hello /from-native over tlsv1.3\\n">>}');
    } finally {
      await s.stop();
    }
  });

  // s_server -HTTP answers `GET /page` with the file ./page, a whole HTTP response, and closes.
  it("gets a page from openssl s_server", async () => {
    writeFileSync(join(work, "page"), "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\nfrom s_server -HTTP\n");
    const { peer, port } = await OpensslPeer.server(pki.server, [], work);
    try {
      const got = await erl.eval(`${client}:get("localhost", ${port}, "/page", ${verifying()})`);
      expect(got.text).toBe('{ok,200,2,<<"from s_server -HTTP\\n">>}');
    } finally {
      await peer.stop();
    }
  });

  it("gets a page from the server on native ssl", async () => {
    const s = await startServer("https_server", fileOptions(pki.server.certFile, pki.server.keyFile));
    try {
      const got = await erl.eval(`${client}:get("localhost", ${s.port}, "/from-${client}", ${verifying()})`);
      expect(got.text).toBe(`{ok,200,3,<<"hello /from-${client} over tlsv1.3\\n">>}`);
    } finally {
      await s.stop();
    }
  });

  it("refuses a server its CA does not know, with OTP's reason", async () => {
    const s = await startServer("https_server", fileOptions(pki.unknownIssuer.certFile, pki.unknownIssuer.keyFile));
    try {
      const got = await erl.eval(`element(1, element(2, element(2, ${client}:get("localhost", ${s.port}, "/", ${verifying()}))))`);
      expect(got.text).toBe("unknown_ca");
    } finally {
      await s.stop();
    }
  });

  it("authenticates both ends with pkix_test_data's DER certificates, against native ssl both ways", async () => {
    const config = (side: "server" | "client") =>
      `maps:get(${side}_config, persistent_term:get(pkix_test_data)) ++ [{verify, verify_peer}]`;
    const requireClient = `${config("server")} ++ [{fail_if_no_peer_cert, true}]`;
    // The server's certificate names this host (net_adm:localhost/0), which the client asks for by SNI.
    const clientOptions = `[{server_name_indication, net_adm:localhost()} | ${config("client")}]`;
    for (const [serverModule, clientModule] of [
      [server, "https_client"],
      ["https_server", client],
    ]) {
      const s = await startServer(serverModule!, requireClient);
      try {
        const got = await erl.eval(`${clientModule}:get("localhost", ${s.port}, "/pkix", ${clientOptions})`);
        expect(got.text, `${serverModule} serving ${clientModule}`).toBe('{ok,200,3,<<"hello /pkix over tlsv1.3\\n">>}');
      } finally {
        await s.stop();
      }
    }
  });
});
