/**
 * ssl sockets against the `openssl` command line: `s_server` as the peer of connect/3,4 and
 * `s_client` as the peer of listen + accept, data typed into and read from their terminals.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { charlist, type Term, type Tuple } from "../../etf/index.js";
import { makePki, type Credential, type Pki } from "../support/certs.js";
import { a, Bench, infinity, s, show, t } from "./harness.js";
import { OpensslPeer } from "./peers.js";

let pki: Pki;
let bench: Bench;
const peers: OpensslPeer[] = [];

beforeAll(() => {
  pki = makePki();
  bench = new Bench();
});
afterEach(async () => {
  bench.service.closeAll();
  await Promise.all(peers.splice(0).map((p) => p.stop()));
});
afterAll(async () => {
  await bench.stop();
  pki.remove();
});

const file = (tag: string, c: Credential, which: "cert" | "key") => t(a(tag), charlist(which === "cert" ? c.certFile : c.keyFile), c[which]);
const own = (c: Credential) => [file("certfile", c, "cert"), file("keyfile", c, "key")];

async function sServer(cred: Credential, extra: string[] = []): Promise<[OpensslPeer, number]> {
  const { peer, port } = await OpensslPeer.server(cred, extra);
  peers.push(peer);
  return [peer, port];
}

describe("connect/3,4 to openssl s_server", () => {
  it("exchanges data both ways, verifying the server", async () => {
    const [server, port] = await sServer(pki.server);
    const owner = bench.caller();
    const options: Term[] = [a("binary"), t(a("verify"), 1), file("cacertfile", pki.root, "cert")];
    const S = await owner.socket("connect", s("127.0.0.1"), port, options, infinity);
    expect(show(await owner.call("send", S, Buffer.from("hello from ts_ssl\n")))).toBe("ok");
    await server.waitFor("hello from ts_ssl");
    server.type("hello from openssl\n");
    expect(await owner.next(S)).toBe('{ssl,S,<<"hello from openssl\\n">>}');
  });

  it("verifies a chain the server sends with -cert_chain, and honours depth", async () => {
    const chainFile = pki.chained.certFile;
    const [, port] = await sServer(pki.chained, ["-cert_chain", chainFile]);
    const owner = bench.caller();
    const ok = await owner.call("connect", s("127.0.0.1"), port, [t(a("verify"), 1), file("cacertfile", pki.root, "cert")], infinity);
    expect(show(ok)).toMatch(/^\{ok,\{sslsocket,/);
    const [, port2] = await sServer(pki.chained, ["-cert_chain", chainFile]);
    const tooDeep = [t(a("verify"), 1), t(a("depth"), 0), file("cacertfile", pki.root, "cert")];
    expect(show(await owner.call("connect", s("127.0.0.1"), port2, tooDeep, infinity))).toBe("{error,echaintoolong}");
  });

  it("refuses an expired server certificate: epeercertexpired", async () => {
    const [, port] = await sServer(pki.expired);
    const options = [t(a("verify"), 2), file("cacertfile", pki.root, "cert")];
    expect(show(await bench.caller().call("connect", s("127.0.0.1"), port, options, infinity))).toBe("{error,epeercertexpired}");
  });

  it("a server that requires a client certificate alerts us: esslerrssl (TLS 1.2)", async () => {
    const [, port] = await sServer(pki.server, ["-Verify", "1", "-tls1_2"]);
    expect(show(await bench.caller().call("connect", s("127.0.0.1"), port, [], infinity))).toBe("{error,esslerrssl}");
  });

  it("reports the protocol and OpenSSL's cipher name", async () => {
    const [, port] = await sServer(pki.rsaServer, ["-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"]);
    const owner = bench.caller();
    const S = await owner.socket("connect", s("127.0.0.1"), port, [], infinity);
    expect(show(await owner.call("connection_info", S))).toBe(`{ok,{'tlsv1.2',"ECDHE-RSA-AES256-GCM-SHA384"}}`);
  });
});

describe("openssl s_client to listen + accept", () => {
  async function listenerPort(options: Term[]): Promise<[Tuple, number]> {
    const owner = bench.caller();
    const L = await owner.socket("listen", 0, options);
    const name = show(await owner.call("sockname", L));
    return [L, Number(/,(\d+)\}\}$/.exec(name)![1])];
  }

  it("exchanges data both ways, in passive mode", async () => {
    const [L, port] = await listenerPort([...own(pki.server), t(a("active"), a("false")), t(a("packet"), a("line"))]);
    const owner = bench.caller();
    const accepting = owner.call("accept", L, infinity);
    const client = OpensslPeer.client(port, ["-quiet"]);
    peers.push(client);
    const S = ((await accepting) as Tuple).elements[1] as Tuple;
    client.type("first line\nsecond line\n");
    expect(show(await owner.call("recv", S, 0, infinity))).toBe('{ok,"first line\\n"}');
    expect(show(await owner.call("recv", S, 0, infinity))).toBe('{ok,"second line\\n"}');
    expect(show(await owner.call("send", S, Buffer.from("answer from ts_ssl\n")))).toBe("ok");
    await client.waitFor("answer from ts_ssl");
  });

  it("{verify, 2} takes a client certificate from s_client and checks it", async () => {
    const [L, port] = await listenerPort([...own(pki.server), t(a("verify"), 2), file("cacertfile", pki.root, "cert")]);
    const owner = bench.caller();
    const accepting = owner.call("accept", L, infinity);
    peers.push(OpensslPeer.client(port, ["-quiet", "-cert", pki.client.certFile, "-key", pki.client.keyFile]));
    const S = ((await accepting) as Tuple).elements[1] as Tuple;
    expect(show(await owner.call("peercert", S))).toMatch(/^\{ok,<<48,/);
    const [L2, port2] = await listenerPort([...own(pki.server), t(a("verify"), 2), file("cacertfile", pki.root, "cert")]);
    const refusing = owner.call("accept", L2, infinity);
    peers.push(OpensslPeer.client(port2, ["-quiet", "-cert", pki.selfSigned.certFile, "-key", pki.selfSigned.keyFile]));
    expect(show(await refusing)).toBe("{error,eselfsignedcert}");
  });

  it("negotiates TLS 1.2 when the client offers only that", async () => {
    const [L, port] = await listenerPort(own(pki.server));
    const owner = bench.caller();
    const accepting = owner.call("accept", L, infinity);
    peers.push(OpensslPeer.client(port, ["-quiet", "-tls1_2"]));
    const S = ((await accepting) as Tuple).elements[1] as Tuple;
    expect(show(await owner.call("connection_info", S))).toMatch(/^\{ok,\{'tlsv1\.2',"ECDHE-ECDSA-/);
  });
});
