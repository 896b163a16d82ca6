import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atom, charlist, error, formatTerm, tuple, type Term } from "../../etf/index.js";
import { tlsSetup } from "../../ts-ssl/context.js";
import { SslError } from "../../ts-ssl/errors.js";
import { Options } from "../../ts-ssl/options.js";
import { makePki, type Pki } from "../support/certs.js";

let pki: Pki;
beforeAll(() => {
  pki = makePki();
});
afterAll(() => pki.remove());

const file = (tag: string, contents: Term) => tuple(atom(tag), charlist(`/${tag}.pem`), contents);
const enoent = tuple(error, atom("enoent"));

function setup(list: Term[], side: "client" | "server" = "server"): string {
  return attempt(list, side, (s) => (s.hasCertificate ? "with certificate" : "without certificate"));
}

/** What `f` says of the context made from `list`, or the reason it was refused. */
function attempt(list: Term[], side: "client" | "server", f: (s: ReturnType<typeof tlsSetup>) => string): string {
  try {
    return f(tlsSetup(Options.parse(list, side === "client" ? "connect" : "listen").tls, side));
  } catch (err) {
    if (err instanceof SslError) return formatTerm(err.reason);
    throw err;
  }
}

/** The message of the SslError the context made from `list` is refused with. */
function refusal(list: Term[], side: "client" | "server" = "server"): string {
  try {
    tlsSetup(Options.parse(list, side === "client" ? "connect" : "listen").tls, side);
  } catch (err) {
    if (err instanceof SslError) return err.message;
    throw err;
  }
  return "not refused";
}

describe("loading our own certificate, key, CA certificates and ciphers", () => {
  it("loads a certificate with its key", () => {
    expect(setup([file("certfile", pki.server.cert), file("keyfile", pki.server.key)])).toBe("with certificate");
    expect(setup([file("certfile", pki.rsaServer.cert), file("keyfile", pki.rsaServer.key)])).toBe("with certificate");
    expect(setup([])).toBe("without certificate");
  });

  it("finds the key in the certificate file when there is no keyfile (3.9)", () => {
    expect(setup([file("certfile", pki.combined.cert)])).toBe("with certificate");
    expect(setup([file("certfile", pki.server.cert)])).toBe("ekeyfile");
  });

  it("ecertfile: unreadable, not PEM, or corrupt", () => {
    expect(setup([file("certfile", enoent), file("keyfile", pki.server.key)])).toBe("ecertfile");
    expect(setup([file("certfile", Buffer.from("hello")), file("keyfile", pki.server.key)])).toBe("ecertfile");
    expect(setup([file("certfile", pki.corrupt), file("keyfile", pki.server.key)])).toBe("ecertfile");
  });

  it("ekeyfile: unreadable, corrupt, encrypted without or with a wrong password", () => {
    const cert = file("certfile", pki.server.cert);
    expect(setup([cert, file("keyfile", enoent)])).toBe("ekeyfile");
    expect(setup([cert, file("keyfile", pki.corrupt)])).toBe("ekeyfile");
    expect(setup([cert, file("keyfile", pki.encrypted.key)])).toBe("ekeyfile");
    expect(setup([cert, file("keyfile", pki.encrypted.key), tuple(atom("password"), charlist("wrong"))])).toBe("ekeyfile");
  });

  it("decrypts an encrypted key with {password, String}", () => {
    const list = [file("certfile", pki.encrypted.cert), file("keyfile", pki.encrypted.key), tuple(atom("password"), charlist(pki.password))];
    expect(setup(list)).toBe("with certificate");
  });

  it("ekeymismatch: a key that is not the certificate's", () => {
    expect(setup([file("certfile", pki.mismatched.cert), file("keyfile", pki.mismatched.key)])).toBe("ekeymismatch");
    // An RSA key for an EC certificate: node:tls alone would take both.
    expect(setup([file("certfile", pki.server.cert), file("keyfile", pki.rsaServer.key)])).toBe("ekeymismatch");
  });

  it("ecacertfile: unreadable, empty, or corrupt", () => {
    expect(setup([file("cacertfile", enoent)], "client")).toBe("ecacertfile");
    expect(setup([file("cacertfile", Buffer.alloc(0))], "client")).toBe("ecacertfile");
    expect(setup([file("cacertfile", pki.corrupt)], "client")).toBe("ecacertfile");
    expect(setup([file("cacertfile", pki.root.cert)], "client")).toBe("without certificate");
  });

  it("checks the CA file first, then the certificate, then the key, as 3.9 loaded them", () => {
    expect(setup([file("certfile", enoent), file("keyfile", enoent), file("cacertfile", enoent)])).toBe("ecacertfile");
    expect(setup([file("certfile", enoent), file("keyfile", enoent)])).toBe("ecertfile");
  });

  it("ecipher: a cipher string that names no cipher", () => {
    expect(setup([tuple(atom("ciphers"), charlist("NOT-A-CIPHER"))], "client")).toBe("ecipher");
    expect(setup([tuple(atom("ciphers"), charlist("ECDHE-ECDSA-AES128-GCM-SHA256:AES256-SHA"))], "client")).toBe("without certificate");
  });
});

describe("OpenSSL's security level, per context", () => {
  const level = (list: Term[], side: "client" | "server" = "server") =>
    attempt(list, side, (s) => (s.lowSecurity === undefined ? "default level" : `level 0: ${s.lowSecurity}`));

  it("a chain signed with SHA-1 loads (OpenSSL's level 1 says 'ca md too weak'), at level 0", () => {
    const list = [file("certfile", pki.sha1Server.cert), file("keyfile", pki.sha1Server.key)];
    expect(level(list)).toMatch(/^level 0: certfile: CN=localhost is signed with ecdsa-with-SHA1$/);
  });

  it("a CA file signed with SHA-1 lowers it, so that SHA-1 is offered to the peer", () => {
    expect(level([file("cacertfile", pki.sha1Root.cert)], "client")).toBe("level 0: cacertfile: CN=SHA-1 Root CA is signed with ecdsa-with-SHA1");
    expect(level([file("cacertfile", pki.sha1Root.cert), file("certfile", pki.server.cert), file("keyfile", pki.server.key)])).toMatch(/^level 0: cacertfile/);
  });

  it("an RSA key under 1024 bits ('ee key too small' at level 1) lowers it", () => {
    expect(level([file("certfile", pki.rsa512.cert), file("keyfile", pki.rsa512.key)])).toBe("level 0: certfile: CN=localhost has a 512-bit RSA key");
  });

  it("contexts whose certificates do not need it keep the default level", () => {
    expect(level([file("certfile", pki.server.cert), file("keyfile", pki.server.key), file("cacertfile", pki.root.cert)])).toBe("default level");
    expect(level([file("certfile", pki.rsaServer.cert), file("keyfile", pki.rsaServer.key)])).toBe("default level");
    expect(level([file("cacertfile", pki.root.cert)], "client")).toBe("default level");
    expect(level([], "client")).toBe("default level");
  });

  it("a given cipher list is kept, at level 0", () => {
    const list = [file("certfile", pki.sha1Server.cert), file("keyfile", pki.sha1Server.key), tuple(atom("ciphers"), charlist("ECDHE-ECDSA-AES128-GCM-SHA256"))];
    expect(level(list)).toMatch(/^level 0/);
    expect(level([...list.slice(0, 2), tuple(atom("ciphers"), charlist("NOT-A-CIPHER"))])).toBe("ecipher");
    // Only TLS 1.3 suites: node:tls takes the level from the TLS 1.2 list, which is then empty.
    expect(level([...list.slice(0, 2), tuple(atom("ciphers"), charlist("TLS_AES_128_GCM_SHA256"))])).toBe("ecertfile");
  });
});

describe("a certificate OpenSSL will not use is the file's reason, with OpenSSL's words", () => {
  it("ecertfile: a certificate for an X25519 key ('unknown certificate type'), at listen and at connect", () => {
    const list = [file("certfile", pki.x25519.cert), file("keyfile", pki.x25519.key)];
    expect(setup(list)).toBe("ecertfile");
    expect(setup(list, "client")).toBe("ecertfile");
    expect(refusal(list)).toMatch(/unknown certificate type/);
  });

  it("ekeyfile says why the key does not load", () => {
    const list = [file("certfile", pki.encrypted.cert), file("keyfile", pki.encrypted.key), tuple(atom("password"), charlist("wrong"))];
    expect(refusal(list)).toMatch(/^key does not load: .*bad decrypt/);
  });
});

describe("a connect's context is kept for the connects that follow with the same options", () => {
  const client = (list: Term[]) => tlsSetup(Options.parse(list, "connect").tls, "client");
  const server = (list: Term[]) => tlsSetup(Options.parse(list, "listen").tls, "server");
  const own = (c: { cert: Buffer; key: Buffer }) => [file("certfile", c.cert), file("keyfile", c.key)];

  it("the same options and file contents take the same context", () => {
    const list = [...own(pki.client), file("cacertfile", pki.root.cert), tuple(atom("verify"), 2)];
    expect(client(list).context).toBe(client(list).context);
    expect(client([]).context).toBe(client([]).context);
  });

  it("a file whose contents changed (same path) makes a new context, with the new certificate", () => {
    const first = client(own(pki.client));
    const changed = client(own(pki.server));
    expect(changed.context).not.toBe(first.context);
    expect(changed.hasCertificate).toBe(true);
    // And back: the first one's context again, the cache holding both.
    expect(client(own(pki.client)).context).toBe(first.context);
  });

  it("files of the same length with other contents make a new context", () => {
    // Text around a PEM block is ignored: each pair padded to the longer one's length.
    const padded = (a: Buffer, b: Buffer) => Buffer.concat([a, Buffer.alloc(Math.max(a.length, b.length) - a.length, "\n")]);
    const [certA, certB] = [padded(pki.client.cert, pki.server.cert), padded(pki.server.cert, pki.client.cert)];
    const [keyA, keyB] = [padded(pki.client.key, pki.server.key), padded(pki.server.key, pki.client.key)];
    expect(certA.length).toBe(certB.length);
    const first = client([file("certfile", certA), file("keyfile", keyA)]);
    const second = client([file("certfile", certB), file("keyfile", keyB)]);
    expect(second.context).not.toBe(first.context);
    expect(client([file("certfile", certB), file("keyfile", keyB)]).context).toBe(second.context);
  });

  it("a file that differs only between the bytes its key samples makes a new context", () => {
    // A CA file whose certificate is followed by text (which PEM parsing ignores), then the same
    // with one character changed in the middle of that text, away from the key's samples.
    const text = Buffer.alloc(4096, "x");
    const base = Buffer.concat([pki.root.cert, text]);
    const changed = Buffer.from(base);
    const at = Math.floor(base.length / 8) + 48;
    expect(at).toBeGreaterThan(pki.root.cert.length);
    changed[at] = "y".charCodeAt(0);
    const first = client([file("cacertfile", base)]);
    expect(client([file("cacertfile", changed)]).context).not.toBe(first.context);
  });

  it("different verify, depth or CA options never share a context", () => {
    const ca = file("cacertfile", pki.root.cert);
    const contexts = [
      client([ca]),
      client([ca, tuple(atom("verify"), 1)]),
      client([ca, tuple(atom("verify"), 2)]),
      client([ca, tuple(atom("verify"), 2), tuple(atom("depth"), 3)]),
      client([file("cacertfile", pki.rogueRoot.cert), tuple(atom("verify"), 2)]),
      client([tuple(atom("verify"), 2)]),
    ].map((s) => s.context);
    expect(new Set(contexts).size).toBe(contexts.length);
    expect(client([ca, tuple(atom("verify"), 2)]).trusted.certs.map((c) => c.subject)).toEqual([pki.root.cert].map((p) => new X509Certificate(p).subject));
  });

  it("an option list that fails is refused the same way every time, also after one that loaded", () => {
    const list = [file("certfile", pki.encrypted.cert), file("keyfile", pki.encrypted.key)];
    const password = (p: string) => tuple(atom("password"), charlist(p));
    expect(attempt([...list, password(pki.password)], "client", () => "loaded")).toBe("loaded");
    for (let i = 0; i < 3; i++) {
      expect(attempt([...list, password("wrong")], "client", () => "loaded")).toBe("ekeyfile");
      expect(attempt(list, "client", () => "loaded")).toBe("ekeyfile");
    }
    expect(client([...list, password(pki.password)]).context).toBe(client([...list, password(pki.password)]).context);
  });

  it("keeps the 32 most recently used", () => {
    const alpn = (i: number) => [tuple(atom("alpn_advertised_protocols"), [Buffer.from(`p${i}`)])];
    const first = client(alpn(0)).context;
    const second = client(alpn(1)).context;
    for (let i = 2; i < 32; i++) client(alpn(i));
    expect(client(alpn(0)).context).toBe(first);
    client(alpn(32));
    // The 33rd pushed out the least recently used, the second (the first was used again).
    expect(client(alpn(1)).context).not.toBe(second);
    expect(client(alpn(0)).context).toBe(first);
  });

  it("listen sockets make contexts of their own (a server context holds its session tickets' keys)", () => {
    const list = own(pki.server);
    expect(server(list).context).not.toBe(server(list).context);
  });
});
