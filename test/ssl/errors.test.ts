import { createServer as createTcpServer, connect as tcpConnect, type Server } from "node:net";
import { connect as tlsConnect, createSecureContext, createServer as createTlsServer } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatTerm } from "../../etf/index.js";
import { nodeErrorTable, reasonOf, rowFor, type Phase } from "../../ts-ssl/errors.js";
import { makePki, type Pki } from "../support/certs.js";

/** [Node error code, phase, the ssl reason]: at least one per row of the table. */
const cases: Array<[string, Phase, string]> = [
  ["UNABLE_TO_GET_ISSUER_CERT", "connect", "enoissuercert"],
  ["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "accept", "enoissuercert"],
  ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "connect", "enoissuercert"],
  ["CERT_HAS_EXPIRED", "connect", "epeercertexpired"],
  ["CERT_NOT_YET_VALID", "connect", "epeercertinvalid"],
  ["ERROR_IN_CERT_NOT_BEFORE_FIELD", "connect", "epeercertinvalid"],
  ["ERROR_IN_CERT_NOT_AFTER_FIELD", "accept", "epeercertinvalid"],
  ["SELF_SIGNED_CERT_IN_CHAIN", "connect", "eselfsignedcert"],
  ["DEPTH_ZERO_SELF_SIGNED_CERT", "accept", "eselfsignedcert"],
  ["CERT_CHAIN_TOO_LONG", "connect", "echaintoolong"],
  ["INVALID_CA", "connect", "epeercert"],
  ["CERT_SIGNATURE_FAILURE", "accept", "epeercert"],
  ["ERR_SSL_NO_CIPHER_MATCH", "connect", "ecipher"],
  ["ERR_OSSL_X509_KEY_VALUES_MISMATCH", "listen", "ekeymismatch"],
  ["ERR_SSL_CA_MD_TOO_WEAK", "load", "ecertfile"],
  ["ERR_SSL_EE_KEY_TOO_SMALL", "load", "ecertfile"],
  ["ERR_SSL_NO_CIPHER_MATCH", "load", "ecipher"],
  ["ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE", "connect", "esslerrssl"],
  ["ERR_SSL_TLSV1_ALERT_UNKNOWN_CA", "accept", "esslerrssl"],
  ["ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED", "connect", "esslerrssl"],
  ["ERR_SSL_WRONG_VERSION_NUMBER", "connect", "esslconnect"],
  ["ERR_SSL_HTTP_REQUEST", "accept", "esslaccept"],
  ["ECONNRESET", "connect", "esslconnect"],
  ["ECONNRESET", "accept", "esslaccept"],
  ["EPIPE", "accept", "esslaccept"],
  ["ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC", "transfer", "esslerrssl"],
  ["ERR_TLS_HANDSHAKE_TIMEOUT", "connect", "esslconnect"],
  ["ERR_TLS_INVALID_PROTOCOL_VERSION", "accept", "esslaccept"],
  ["ENOTFOUND", "connect", "nxdomain"],
  ["EAI_AGAIN", "connect", "nxdomain"],
  ["EAI_NODATA", "connect", "nxdomain"],
  ["EAI_FAIL", "connect", "nxdomain"],
  ["ECONNREFUSED", "connect", "econnrefused"],
  ["EADDRINUSE", "listen", "eaddrinuse"],
  ["ECONNRESET", "transfer", "closed"],
  ["EPIPE", "transfer", "closed"],
  ["EHOSTUNREACH", "connect", "ehostunreach"],
];

describe("the Node error -> ssl reason table", () => {
  nodeErrorTable.forEach((row, i) => {
    const mine = cases.filter(([code, phase]) => rowFor(code, phase) === row);
    it(`row ${i} (${String(row.code)}${row.phase !== undefined ? ` in ${row.phase}` : ""}: ${row.why})`, () => {
      expect(mine.length).toBeGreaterThan(0);
      for (const [code, phase, expected] of mine) expect(formatTerm(reasonOf({ code }, phase))).toBe(expected);
    });
  });

  it("falls back to the side's handshake reason, closed, or (loading) ecertfile, for an error it does not know", () => {
    expect(formatTerm(reasonOf(new Error("?"), "connect"))).toBe("esslconnect");
    expect(formatTerm(reasonOf({ code: "ERR_SOMETHING" }, "accept"))).toBe("esslaccept");
    expect(formatTerm(reasonOf(undefined, "transfer"))).toBe("closed");
    expect(formatTerm(reasonOf(new Error("?"), "load"))).toBe("ecertfile");
  });
});

/** The error a real operation reports, caught. */
function failure(start: (fail: (err: unknown) => void) => void): Promise<unknown> {
  return new Promise((resolve) => start(resolve));
}

describe("real Node errors meet the table", () => {
  let pki: Pki;
  let closedPort: number;
  beforeAll(async () => {
    pki = makePki();
    const s = createTcpServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
    closedPort = (s.address() as { port: number }).port;
    await new Promise((r) => s.close(r));
  });
  afterAll(() => pki.remove());

  const listening = async (server: Server): Promise<number> => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return (server.address() as { port: number }).port;
  };

  it("a refused connection is econnrefused", async () => {
    const err = await failure((f) => tlsConnect({ host: "127.0.0.1", port: closedPort }).on("error", f));
    expect(formatTerm(reasonOf(err, "connect"))).toBe("econnrefused");
  });

  it("a host that does not resolve is nxdomain", async () => {
    const err = await failure((f) => tlsConnect({ host: "no-such-host.invalid", port: 443 }).on("error", f));
    expect(formatTerm(reasonOf(err, "connect"))).toBe("nxdomain");
  });

  it("a cipher string that matches nothing is ecipher", () => {
    let err: unknown;
    try {
      createSecureContext({ ciphers: "NO-SUCH-CIPHER" });
    } catch (e) {
      err = e;
    }
    expect(formatTerm(reasonOf(err, "connect"))).toBe("ecipher");
  });

  it("a port in use is eaddrinuse", async () => {
    const first = createTcpServer();
    const port = await listening(first);
    const err = await failure((f) => createTcpServer().on("error", f).listen(port, "127.0.0.1"));
    first.close();
    expect(formatTerm(reasonOf(err, "listen"))).toBe("eaddrinuse");
  });

  it("a fatal alert from the server is esslerrssl on the client", async () => {
    // The server requires a certificate and the client has none: the server sends an alert.
    const server = createTlsServer({ cert: pki.server.cert, key: pki.server.key, requestCert: true, rejectUnauthorized: true });
    server.on("tlsClientError", () => {});
    const port = await listening(server);
    const err = await failure((f) => {
      const c = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false });
      c.on("error", f);
      c.on("data", () => {});
    });
    server.close();
    expect(formatTerm(reasonOf(err, "connect"))).toBe("esslerrssl");
  });

  it("a server that does not speak TLS is esslconnect", async () => {
    const server = createTcpServer((s) => s.end("HTTP/1.0 400 Bad Request\r\n\r\n"));
    const port = await listening(server);
    const err = await failure((f) => tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false }).on("error", f));
    server.close();
    expect(formatTerm(reasonOf(err, "connect"))).toBe("esslconnect");
  });

  it("a client that does not speak TLS is esslaccept", async () => {
    const server = createTlsServer({ cert: pki.server.cert, key: pki.server.key });
    const seen = failure((f) => server.on("tlsClientError", f));
    const port = await listening(server);
    const c = tcpConnect(port, "127.0.0.1", () => c.write("GET / HTTP/1.0\r\n\r\n"));
    c.on("error", () => {});
    const err = await seen;
    c.destroy();
    server.close();
    expect(formatTerm(reasonOf(err, "accept"))).toBe("esslaccept");
  });
});
