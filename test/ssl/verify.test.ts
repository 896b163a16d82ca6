import { spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { atom, type Term } from "../../etf/terms.js";
import { verifyReason } from "../../ts-ssl/errors.js";
import { TrustStore, verifyChain } from "../../ts-ssl/verify.js";
import { makePki, type Credential, type Pki } from "../support/certs.js";

let pki: Pki;
beforeAll(() => {
  pki = makePki();
});
afterAll(() => pki.remove());

function certs(pem: Buffer): X509Certificate[] {
  const blocks = pem.toString("latin1").match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

/**
 * Our verifier's reason for `peer` (its certFile: leaf then chain) against `trusted`, set
 * between the halves of `among` if given (a bundle the issuer has to be found in).
 */
function ours(peer: Credential, trusted: Credential[], depth: number, now = new Date(), among: X509Certificate[] = []): Term {
  const [leaf, ...presented] = certs(peer.cert);
  const half = among.length >> 1;
  const store = new TrustStore([...among.slice(0, half), ...trusted.flatMap((t) => certs(t.cert)), ...among.slice(half)]);
  const failure = verifyChain({ peer: leaf!, presented, trusted: store, depth, now });
  return failure === undefined ? atom("ok") : verifyReason(failure.code);
}

/** OpenSSL 3.0's error numbers (x509_vfy.h) for the cases these certificates produce. */
const opensslCodes: Record<number, string> = {
  2: "UNABLE_TO_GET_ISSUER_CERT",
  7: "CERT_SIGNATURE_FAILURE",
  9: "CERT_NOT_YET_VALID",
  10: "CERT_HAS_EXPIRED",
  18: "DEPTH_ZERO_SELF_SIGNED_CERT",
  19: "SELF_SIGNED_CERT_IN_CHAIN",
  20: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  21: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  22: "CERT_CHAIN_TOO_LONG",
  79: "INVALID_CA",
};

/** `openssl verify` on the same input, its first error mapped the same way. */
function theirs(peer: Credential, trusted: Credential[], depth: number): Term {
  const [leaf, ...presented] = certs(peer.cert);
  const dir = pki.dir;
  writeFileSync(join(dir, "v-leaf.pem"), leaf!.toString());
  writeFileSync(join(dir, "v-untrusted.pem"), presented.map((c) => c.toString()).join(""));
  writeFileSync(join(dir, "v-trusted.pem"), trusted.map((t) => t.cert.toString("latin1")).join(""));
  const args = ["verify", "-verify_depth", String(depth), "-CAfile", "v-trusted.pem"];
  if (presented.length > 0) args.push("-untrusted", "v-untrusted.pem");
  const r = spawnSync("openssl", [...args, "v-leaf.pem"], { cwd: dir, encoding: "utf8" });
  const m = /error (\d+) at (\d+) depth/.exec(r.stdout + r.stderr);
  if (m === null) {
    expect(r.status).toBe(0);
    return atom("ok");
  }
  const code = opensslCodes[Number(m[1])];
  if (code === undefined) throw new Error(`unexpected openssl verify output: ${r.stdout}${r.stderr}`);
  return verifyReason(code as never);
}

/** node:tls's bundled roots: a CA bundle of the size users give. */
const bundledRoots = rootCertificates.map((pem) => new X509Certificate(pem));

describe("certificate chain verification", () => {
  const cases: Array<[string, (p: Pki) => [Credential, Credential[]], number, string]> = [
    ["a server signed by the root", (p) => [p.server, [p.root]], 1, "ok"],
    ["a chain through one intermediate at depth 1", (p) => [p.chained, [p.root]], 1, "ok"],
    ["a chain through one intermediate at depth 0", (p) => [p.chained, [p.root]], 0, "echaintoolong"],
    ["a chain through two intermediates at depth 1", (p) => [p.deep, [p.root]], 1, "echaintoolong"],
    ["a chain through two intermediates at depth 2", (p) => [p.deep, [p.root]], 2, "ok"],
    ["an expired certificate", (p) => [p.expired, [p.root]], 1, "epeercertexpired"],
    ["a certificate not yet valid", (p) => [p.notYetValid, [p.root]], 1, "epeercertinvalid"],
    ["an unknown issuer", (p) => [p.unknownIssuer, [p.root]], 1, "enoissuercert"],
    ["a missing intermediate", (p) => [p.missingIntermediate, [p.root]], 1, "enoissuercert"],
    ["a self-signed peer certificate", (p) => [p.selfSigned, [p.root]], 1, "eselfsignedcert"],
    ["a self-signed peer certificate that is trusted", (p) => [p.selfSigned, [p.selfSigned]], 1, "ok"],
    ["a self-signed peer certificate without keyCertSign", (p) => [p.selfSignedNoCertSign, [p.root]], 1, "eselfsignedcert"],
    ["an intermediate trusted without its root", (p) => [p.chained, [p.int1]], 1, "enoissuercert"],
    ["a client certificate", (p) => [p.client, [p.root]], 1, "ok"],
    ["a certificate issued by a certificate that is not a CA", (p) => [p.nonCaIssued, [p.root]], 1, "epeercert"],
  ];

  for (const [name, pick, depth, expected] of cases) {
    it(`${name}: ${expected}, as openssl verify says`, () => {
      const [peer, trusted] = pick(pki);
      expect(ours(peer, trusted, depth)).toBe(atom(expected));
      expect(ours(peer, trusted, depth, new Date(), bundledRoots)).toBe(atom(expected));
      expect(theirs(peer, trusted, depth)).toBe(atom(expected));
    });
  }

  it("checks the dates against the clock it is given", () => {
    // At depth 0 the root (made today) is an anchor beyond depth: only the leaf's dates count.
    expect(ours(pki.expired, [pki.root], 0, new Date("2020-06-01T00:00:00Z"))).toBe(atom("ok"));
    expect(ours(pki.server, [pki.root], 0, new Date("2019-06-01T00:00:00Z"))).toBe(atom("epeercertinvalid"));
  });

  it("forgives errors deeper than depth: an expired trust anchor at depth + 1", () => {
    // The root is valid 10 years from now; seen from 2040 it has expired, the leaf has not.
    const later = new Date("2040-01-01T00:00:00Z");
    expect(ours(pki.server, [pki.root], 0, later)).toBe(atom("ok"));
    expect(ours(pki.server, [pki.root], 1, later)).toBe(atom("epeercertexpired"));
  });
});
