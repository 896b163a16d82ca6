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
  try {
    const s = tlsSetup(Options.parse(list, side === "client" ? "connect" : "listen"), side);
    return s.hasCertificate ? "with certificate" : "without certificate";
  } catch (err) {
    if (err instanceof SslError) return formatTerm(err.reason);
    throw err;
  }
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
