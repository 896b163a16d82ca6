/**
 * Listen sockets, transport_accept + ssl_accept, accept, and certificate verification on both
 * sides, against node:tls peers, driven through SslService without Erlang.
 */
import { once } from "node:events";
import type { ConnectionOptions, TLSSocket } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { atom, charlist, type Term, type Tuple } from "../../etf/index.js";
import { makePki, type Credential, type Pki } from "../support/certs.js";
import { a, Bench, infinity, s, show, t, type Caller } from "./harness.js";
import { credentials, readBytes, tlsClient, TlsPeerServer } from "./peers.js";

let pki: Pki;
let bench: Bench;

beforeAll(() => {
  pki = makePki();
  bench = new Bench();
});
afterEach(() => bench.service.closeAll());
afterAll(async () => {
  await bench.stop();
  pki.remove();
});

const file = (tag: string, path: string, contents: Buffer) => t(a(tag), charlist(path), contents);
const certfile = (c: Credential) => file("certfile", c.certFile, c.cert);
const keyfile = (c: Credential) => file("keyfile", c.keyFile, c.key);
const cacertfile = (c: Credential) => file("cacertfile", c.certFile, c.cert);
const own = (c: Credential) => [certfile(c), keyfile(c)];

async function listening(owner: Caller, options: Term[]): Promise<[Tuple, number]> {
  const L = await owner.socket("listen", 0, options);
  const name = show(await owner.call("sockname", L));
  return [L, Number(/,(\d+)\}\}$/.exec(name)![1])];
}

/** transport_accept + ssl_accept of a node:tls client; both ends. */
async function acceptOne(owner: Caller, L: Tuple, port: number, clientOptions: ConnectionOptions = {}): Promise<[Tuple, TLSSocket]> {
  const accepting = owner.call("transport_accept", L, infinity);
  const client = tlsClient(port, clientOptions);
  const S = (await accepting) as Tuple;
  expect(show(S)).toMatch(/^\{ok,\{sslsocket,/);
  const socket = S.elements[1] as Tuple;
  expect(show(await owner.call("ssl_accept", socket, infinity))).toBe("ok");
  return [socket, await client];
}

describe("listen/2", () => {
  it("listen(P, []) is enooptions; bad options eoptions; a port in use eaddrinuse", async () => {
    const owner = bench.caller();
    expect(show(await owner.call("listen", 0, []))).toBe("{error,enooptions}");
    expect(show(await owner.call("listen", 0, [t(a("port"), 1)]))).toBe("{error,eoptions}");
    expect(show(await owner.call("listen", 0, [t(a("mode"), a("x"))]))).toBe("{error,eoptions}");
    const [, port] = await listening(owner, own(pki.server));
    expect(show(await owner.call("listen", port, [...own(pki.server), t(a("ip"), t(127, 0, 0, 1))]))).toBe("{error,eaddrinuse}");
  });

  it("loads the certificate at listen: ecertfile, ekeyfile, ekeymismatch", async () => {
    const owner = bench.caller();
    expect(show(await owner.call("listen", 0, [file("certfile", "/x", pki.corrupt), keyfile(pki.server)]))).toBe("{error,ecertfile}");
    expect(show(await owner.call("listen", 0, [certfile(pki.server), file("keyfile", "/x", pki.corrupt)]))).toBe("{error,ekeyfile}");
    expect(show(await owner.call("listen", 0, own(pki.mismatched)))).toBe("{error,ekeymismatch}");
    expect(show(await owner.call("listen", 0, [t(a("certfile"), s("/nope"), t(a("error"), a("enoent"))), keyfile(pki.server)]))).toBe(
      "{error,ecertfile}",
    );
  });

  it("without a certificate, accepting is enoservercert", async () => {
    const owner = bench.caller();
    const [L] = await listening(owner, [a("binary")]);
    expect(show(await owner.call("transport_accept", L, infinity))).toBe("{error,enoservercert}");
    expect(show(await owner.call("accept", L, infinity))).toBe("{error,enoservercert}");
  });

  it("getopts on a listen socket: backlog and ip, not port", async () => {
    const owner = bench.caller();
    const [L] = await listening(owner, [...own(pki.server), t(a("backlog"), 12), t(a("ip"), t(127, 0, 0, 1))]);
    expect(show(await owner.call("getopts", L, [a("backlog"), a("ip"), a("active"), a("certfile")]))).toBe(
      `{ok,[{backlog,12},{ip,{127,0,0,1}},{active,true},{certfile,"${pki.server.certFile}"}]}`,
    );
    expect(show(await owner.call("getopts", L, [a("port")]))).toBe("{error,einval}");
  });

  it("calls that need a connection are enotconn on a listen socket", async () => {
    const owner = bench.caller();
    const [L] = await listening(owner, own(pki.server));
    for (const call of ["peername", "peercert", "connection_info"]) expect(show(await owner.call(call, L))).toBe("{error,enotconn}");
    expect(show(await owner.call("send", L, Buffer.from("x")))).toBe("{error,enotconn}");
    expect(show(await owner.call("recv", L, 0, infinity))).toBe("{error,enotconn}");
  });
});

describe("transport_accept/1,2 and ssl_accept/1,2", () => {
  it("accepts; ssl_accept returns ok; the accepted socket inherits the listen socket's options", async () => {
    const owner = bench.caller();
    const [L, port] = await listening(owner, [...own(pki.server), a("binary"), t(a("packet"), 2)]);
    const [S, client] = await acceptOne(owner, L, port);
    expect(show(await owner.call("getopts", S, [a("mode"), a("packet"), a("active")]))).toBe("{ok,[{mode,binary},{packet,2},{active,true}]}");
    client.write(Buffer.from([0, 3, 97, 98, 99]));
    expect(await owner.next(S)).toBe('{ssl,S,<<"abc">>}');
    expect(show(await owner.call("send", S, Buffer.from("xy")))).toBe("ok");
    expect([...(await readBytes(client, 4))]).toEqual([0, 2, 120, 121]);
    expect(show(await owner.call("peername", S))).toBe(`{ok,{{127,0,0,1},${client.localPort}}}`);
    expect(show(await owner.call("sockname", S))).toBe(`{ok,{{127,0,0,1},${port}}}`);
  });

  it("the caller of transport_accept owns the accepted socket", async () => {
    const owner = bench.caller();
    const acceptor = bench.caller();
    const [L, port] = await listening(owner, own(pki.server));
    const [S, client] = await acceptOne(acceptor, L, port);
    client.write("hi");
    expect(await acceptor.next(S)).toBe('{ssl,S,"hi"}');
    expect(owner.pending).toEqual([]);
  });

  it("chooses a protocol with {alpn_preferred_protocols, [Bin]}", async () => {
    const owner = bench.caller();
    const [L, port] = await listening(owner, [...own(pki.server), t(a("alpn_preferred_protocols"), [Buffer.from("h2"), Buffer.from("http/1.1")])]);
    const [, client] = await acceptOne(owner, L, port, { ALPNProtocols: ["http/1.1", "h2"] });
    expect(client.alpnProtocol).toBe("h2");
  });

  it("a transport_accept whose caller exits while it waits takes no connection", async () => {
    const owner = bench.caller();
    const doomed = bench.caller();
    const [L, port] = await listening(owner, own(pki.server));
    const abandoned = doomed.call("transport_accept", L, infinity);
    doomed.mailbox.process.terminate(a("killed"));
    expect(show(await abandoned)).toBe("{error,closed}");
    const [S, client] = await acceptOne(owner, L, port);
    client.write("alive");
    expect(await owner.next(S)).toBe('{ssl,S,"alive"}');
  });

  it("accept/2 does both steps", async () => {
    const owner = bench.caller();
    const [L, port] = await listening(owner, own(pki.server));
    const accepting = owner.call("accept", L, infinity);
    const client = await tlsClient(port);
    const r = (await accepting) as Tuple;
    client.write("both");
    expect(await owner.next(r.elements[1])).toBe('{ssl,S,"both"}');
  });

  it("times out; and {error, closed} when the listen socket closes while a caller waits", async () => {
    const owner = bench.caller();
    const [L] = await listening(owner, own(pki.server));
    expect(show(await owner.call("transport_accept", L, 30))).toBe("{error,timeout}");
    const waiting = bench.caller().call("transport_accept", L, infinity);
    expect(show(await owner.call("close", L))).toBe("ok");
    expect(show(await waiting)).toBe("{error,closed}");
  });

  it("ssl_accept times out against a client that never starts TLS, and the socket is then closed", async () => {
    const owner = bench.caller();
    const [L, port] = await listening(owner, own(pki.server));
    const accepting = owner.socket("transport_accept", L, infinity);
    const { connect } = await import("node:net");
    const raw = connect(port, "127.0.0.1");
    const S = await accepting;
    expect(show(await owner.call("ssl_accept", S, 50))).toBe("{error,timeout}");
    expect(show(await owner.call("sockname", S))).toBe("{error,closed}");
    raw.destroy();
  });

  it("before ssl_accept no traffic; ssl_accept on the wrong socket", async () => {
    const owner = bench.caller();
    const [L, port] = await listening(owner, own(pki.server));
    const accepting = owner.socket("transport_accept", L, infinity);
    const client = tlsClient(port);
    const S = await accepting;
    expect(show(await owner.call("send", S, Buffer.from("early")))).toBe("{error,ebadstate}");
    expect(show(await owner.call("recv", S, 0, 0))).toBe("{error,ebadstate}");
    expect(show(await owner.call("ssl_accept", L, infinity))).toBe("{error,ebadstate}");
    expect(show(await owner.call("transport_accept", S, infinity))).toBe("{error,enotlistener}");
    expect(show(await owner.call("ssl_accept", S, infinity))).toBe("ok");
    expect(show(await owner.call("ssl_accept", S, infinity))).toBe("{error,ebadstate}");
    (await client).destroy();
  });

  it("a client that does not speak TLS: esslaccept", async () => {
    const owner = bench.caller();
    const [L, port] = await listening(owner, own(pki.server));
    const accepting = owner.socket("transport_accept", L, infinity);
    const { connect } = await import("node:net");
    const raw = connect(port, "127.0.0.1", () => raw.write("GET / HTTP/1.0\r\n\r\n"));
    raw.on("error", () => {});
    const S = await accepting;
    expect(show(await owner.call("ssl_accept", S, infinity))).toBe("{error,esslaccept}");
  });

  it("serves a certificate chain and a password-protected key", async () => {
    const owner = bench.caller();
    const [L, port] = await listening(owner, [certfile(pki.encrypted), keyfile(pki.encrypted), t(a("password"), s(pki.password))]);
    const [, client] = await acceptOne(owner, L, port, { ca: pki.root.cert, rejectUnauthorized: true, servername: "localhost" });
    expect(client.authorized).toBe(true);
    const [L2, port2] = await listening(owner, own(pki.chained));
    const [, client2] = await acceptOne(owner, L2, port2, { ca: pki.root.cert, rejectUnauthorized: true, servername: "localhost" });
    expect(client2.authorized).toBe(true);
  });
});

describe("verification of the client ({verify, 0|1|2} on listen)", () => {
  const serverWith = (verify: Term[]) => [...own(pki.server), cacertfile(pki.root), ...verify];

  async function handshake(verify: Term[], client: Credential | undefined): Promise<string> {
    const owner = bench.caller();
    const [L, port] = await listening(owner, serverWith(verify));
    const accepting = owner.socket("transport_accept", L, infinity);
    const c = tlsClient(port, client === undefined ? {} : credentials(client)).catch(() => undefined);
    const S = await accepting;
    const r = show(await owner.call("ssl_accept", S, 5_000));
    (await c)?.destroy();
    if (r !== "ok") return r;
    return show(await owner.call("peercert", S)).startsWith("{ok,<<") ? "ok, with a peer certificate" : show(await owner.call("peercert", S));
  }

  it("{verify, 0}: asks for nothing", async () => {
    expect(await handshake([], pki.client)).toBe("{error,enopeercert}");
  });

  it("{verify, 1}: a client without a certificate is fine; one with a good one is verified", async () => {
    expect(await handshake([t(a("verify"), 1)], undefined)).toBe("{error,enopeercert}");
    expect(await handshake([t(a("verify"), 1)], pki.client)).toBe("ok, with a peer certificate");
    expect(await handshake([t(a("verify"), 1)], pki.expired)).toBe("{error,epeercertexpired}");
    expect(await handshake([t(a("verify"), 1)], pki.selfSigned)).toBe("{error,eselfsignedcert}");
  });

  it("{verify, 2} (and verify_peer + fail_if_no_peer_cert): a certificate is required", async () => {
    expect(await handshake([t(a("verify"), 2)], undefined)).toBe("{error,esslaccept}");
    expect(await handshake([t(a("verify"), 2)], pki.client)).toBe("ok, with a peer certificate");
    const newer = [t(a("verify"), a("verify_peer")), t(a("fail_if_no_peer_cert"), a("true"))];
    expect(await handshake(newer, undefined)).toBe("{error,esslaccept}");
    expect(await handshake(newer, pki.client)).toBe("ok, with a peer certificate");
  });
});

it("a ts_ssl client refused by {verify, 2} for want of a certificate: esslconnect on TLS 1.2; on TLS 1.3 closed after connect", async () => {
  const owner = bench.caller();
  const client = bench.caller();
  const outcome = async (version: string) => {
    const [L, port] = await listening(owner, [...own(pki.server), cacertfile(pki.root), t(a("verify"), 2)]);
    const accepting = owner.call("accept", L, infinity);
    const c = await client.call("connect", s("127.0.0.1"), port, [t(a("versions"), [a(version)])], infinity);
    expect(show(await accepting)).toBe("{error,esslaccept}");
    return show(c).startsWith("{ok,") ? `connected, then ${await client.next((c as Tuple).elements[1])}` : show(c);
  };
  expect(await outcome("tlsv1.2")).toBe("{error,esslconnect}");
  expect(await outcome("tlsv1.3")).toBe("connected, then {ssl_closed,S}");
});

describe("verification of the server ({verify, 1} on connect)", () => {
  const servers = new Map<Credential, TlsPeerServer>();
  afterAll(() => {
    for (const s of servers.values()) s.close();
  });

  async function connectTo(cred: Credential, options: Term[]): Promise<string> {
    let server = servers.get(cred);
    if (server === undefined) {
      server = await TlsPeerServer.start(credentials(cred));
      servers.set(cred, server);
    }
    const r = await bench.caller().call("connect", s("localhost"), server.port, [cacertfile(pki.root), ...options], infinity);
    return show(r).startsWith("{ok,{sslsocket") ? "ok" : show(r);
  }

  const cases: Array<[string, (p: Pki) => Credential, Term[], string]> = [
    ["a good server", (p) => p.server, [t(a("verify"), 1)], "ok"],
    ["an expired certificate", (p) => p.expired, [t(a("verify"), 1)], "{error,epeercertexpired}"],
    ["a certificate not yet valid", (p) => p.notYetValid, [t(a("verify"), 1)], "{error,epeercertinvalid}"],
    ["a self-signed certificate", (p) => p.selfSigned, [t(a("verify"), 1)], "{error,eselfsignedcert}"],
    ["a self-signed end-entity certificate", (p) => p.selfSignedNoCertSign, [t(a("verify"), 1)], "{error,eselfsignedcert}"],
    ["an unknown issuer", (p) => p.unknownIssuer, [t(a("verify"), 1)], "{error,enoissuercert}"],
    ["a missing intermediate", (p) => p.missingIntermediate, [t(a("verify"), 1)], "{error,enoissuercert}"],
    ["a chain through an intermediate at the default depth 1", (p) => p.chained, [t(a("verify"), 1)], "ok"],
    ["a chain through an intermediate at depth 0", (p) => p.chained, [t(a("verify"), 1), t(a("depth"), 0)], "{error,echaintoolong}"],
    ["a chain of two intermediates at depth 1", (p) => p.deep, [t(a("verify"), 1)], "{error,echaintoolong}"],
    ["a chain of two intermediates at depth 2", (p) => p.deep, [t(a("verify"), 2), t(a("depth"), 2)], "ok"],
    ["an issuer that is no CA", (p) => p.nonCaIssued, [t(a("verify"), a("verify_peer"))], "{error,epeercert}"],
    // A check verify.ts does not make itself: OpenSSL's purpose check still refuses.
    ["a certificate for client authentication only", (p) => p.clientOnly, [t(a("verify"), 1)], "{error,epeercert}"],
    ["the same at {verify, 0}", (p) => p.clientOnly, [t(a("verify"), 0)], "ok"],
    ["anything at {verify, 0}", (p) => p.expired, [t(a("verify"), 0)], "ok"],
    ["anything at verify_none", (p) => p.unknownIssuer, [t(a("verify"), a("verify_none"))], "ok"],
  ];
  for (const [name, cred, options, expected] of cases) {
    it(`${name}: ${expected}`, async () => {
      expect(await connectTo(cred(pki), options)).toBe(expected);
    });
  }

  it("a server that requires a client certificate refuses us with an alert: esslerrssl", async () => {
    const server = await TlsPeerServer.start({ ...credentials(pki.server), requestCert: true, rejectUnauthorized: true, ca: pki.root.cert });
    const r = await bench.caller().call("connect", s("127.0.0.1"), server.port, [t(a("versions"), [a("tlsv1.2")])], infinity);
    expect(show(r)).toBe("{error,esslerrssl}");
    server.close();
  });

  it("presents our certificate when the server asks", async () => {
    const server = await TlsPeerServer.start({ ...credentials(pki.server), requestCert: true, rejectUnauthorized: true, ca: pki.root.cert });
    const owner = bench.caller();
    const peer = server.accepted();
    const S = await owner.socket("connect", s("127.0.0.1"), server.port, own(pki.client), infinity);
    const p = await peer;
    expect(p.authorized).toBe(true);
    expect(p.getPeerCertificate().subject.CN).toBe("client");
    p.end();
    expect(await owner.next(S)).toBe("{ssl_closed,S}");
    await once(p, "close");
    server.close();
  });
});

it("an unknown request is {error, {badcall, Request}}", async () => {
  const owner = bench.caller();
  expect(show(await owner.call("frobnicate", 1))).toBe("{error,{badcall,{frobnicate,1}}}");
  expect(show(await bench.service.call(atom("nonsense"), { pid: owner.pid, tag: atom("x") }))).toBe("{error,{badcall,nonsense}}");
  expect(show(await bench.service.call(42, { pid: owner.pid, tag: atom("x") }))).toBe("{error,{badcall,42}}");
  expect(show(await owner.call("close", t(a("sslsocket"), 1)))).toBe("{error,einval}");
  expect(show(await owner.call("close", t(a("sslsocket"), 99999, owner.pid)))).toBe("{error,closed}");
});
