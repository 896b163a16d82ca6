/**
 * From the ssl options of `connect` or `listen` to what node:tls needs: a SecureContext, the
 * verification settings, and the trusted certificates our own verifier (verify.ts) uses.
 *
 * The files are checked one by one, in the order ssl 3.9's port program loaded them
 * (set_ssl_parameters: CA file, certificate, key, key against certificate, ciphers), so that the
 * first bad one gives its own reason: node:tls alone would take a key that does not match the
 * certificate, or a CA file with no certificate in it, without a word.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { atom, listElements, type Atom, type Term } from "../etf/terms.js";
import { text } from "./args.js";
import { fail, reason, reasonOf } from "./errors.js";
import { protocols, verifyLevel, type FileContents, type Options, type TlsVersion } from "./options.js";

const versionOrder: readonly TlsVersion[] = [...protocols.values()];

export interface TlsSetup {
  readonly context: SecureContext;
  /** `{verify, 0|1|2}` (manual): none, the peer's certificate if any, and one is required. */
  readonly verify: 0 | 1 | 2;
  readonly depth: number;
  readonly trusted: readonly X509Certificate[];
  /** Whether our own certificate was given (a listener without one cannot accept: enoservercert). */
  readonly hasCertificate: boolean;
  readonly minVersion: TlsVersion | undefined;
  readonly maxVersion: TlsVersion | undefined;
  /** Client only: the SNI name to send, false for none, undefined to send the host name. */
  readonly serverName: string | false | undefined;
  /** ALPN protocol names in wire format (RFC 7301, 3.1: each after its length byte). */
  readonly alpn: Buffer | undefined;
  /** Why OpenSSL's security level is 0 for this context; undefined when it keeps its default. */
  readonly lowSecurity: string | undefined;
}

let defaultTrusted: X509Certificate[] | undefined;

/** node:tls's bundled roots, parsed once: the trusted set when no `cacertfile` is given. */
function defaultRoots(): X509Certificate[] {
  defaultTrusted ??= rootCertificates.map((pem) => new X509Certificate(pem));
  return defaultTrusted;
}

const pemCertificate = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** The certificates in a file's contents; throws `bad` for a read error, no certificate, or one that does not parse. */
function certificates(contents: FileContents, bad: Term): { pem: string[]; certs: X509Certificate[] } {
  if (!(contents instanceof Uint8Array)) fail(bad, "file could not be read");
  const pem = Buffer.from(contents).toString("latin1").match(pemCertificate) ?? [];
  if (pem.length === 0) fail(bad, "no certificate in file");
  try {
    return { pem, certs: pem.map((p) => new X509Certificate(p)) };
  } catch (err) {
    fail(bad, `certificate does not parse: ${String(err)}`);
  }
}

function privateKey(contents: FileContents, password: string | undefined): KeyObject {
  if (!(contents instanceof Uint8Array)) fail(reason.ekeyfile, "key file could not be read");
  try {
    return createPrivateKey({ key: Buffer.from(contents), format: "pem", passphrase: password ?? "" });
  } catch (err) {
    fail(reason.ekeyfile, `key does not load: ${String(err)}`);
  }
}

/** One DER element at `at`: where its contents start and where it ends (X.690, 8.1). */
function derElement(der: Buffer, at: number): { start: number; end: number } {
  const first = der[at + 1]!;
  if (first < 0x80) return { start: at + 2, end: at + 2 + first };
  const n = first & 0x7f;
  const length = der.subarray(at + 2, at + 2 + n).reduce((acc, b) => acc * 256 + b, 0);
  return { start: at + 2 + n, end: at + 2 + n + length };
}

/** The DER of the OID of a certificate's signatureAlgorithm (RFC 5280, 4.1.1.2). */
function signatureAlgorithm(cert: X509Certificate): string {
  const der = cert.raw;
  const tbs = derElement(der, derElement(der, 0).start);
  const algorithm = derElement(der, tbs.end);
  const oid = derElement(der, algorithm.start);
  return der.subarray(algorithm.start, oid.end).toString("hex");
}

/**
 * Signatures OpenSSL 3 counts as weaker than its security level 1 allows (SHA-1 gives 64 bits
 * since 3.0, MD5 less): sha1WithRSAEncryption, ecdsa-with-SHA1, dsa-with-SHA1,
 * md5WithRSAEncryption, by the DER of their OIDs.
 */
const weakSignatures = new Map([
  ["06092a864886f70d010105", "sha1WithRSAEncryption"],
  ["06072a8648ce3d0401", "ecdsa-with-SHA1"],
  ["06072a8648ce380403", "dsa-with-SHA1"],
  ["06092a864886f70d010104", "md5WithRSAEncryption"],
]);

/**
 * Why this context needs OpenSSL's security level 0, or undefined. Level 1 (node:tls's default)
 * refuses to load our own chain when a certificate in it is signed with SHA-1 ("ca md too
 * weak"), and leaves SHA-1 out of the signature algorithms it offers, so a peer whose chain is
 * signed with SHA-1 cannot send it (OTP: unable_to_supply_acceptable_cert). `public_key:
 * pkix_test_data/1` signs with SHA-1 by default, and OTP's ssl takes such chains; a trusted
 * certificate signed with SHA-1 says the peer's chain is likely to be too.
 */
function needsLowSecurity(own: readonly X509Certificate[], trusted: readonly X509Certificate[], minVersion: TlsVersion | undefined): string | undefined {
  if (minVersion === "TLSv1" || minVersion === "TLSv1.1") return `${minVersion} allowed`;
  for (const [cert, role] of [...own.map((c) => [c, "certfile"] as const), ...trusted.map((c) => [c, "cacertfile"] as const)]) {
    const weak = weakSignatures.get(signatureAlgorithm(cert));
    if (weak !== undefined) return `${role}: ${cert.subject.replace(/\n/g, ", ")} is signed with ${weak}`;
  }
  return undefined;
}

function versionRange(o: Options): [TlsVersion | undefined, TlsVersion | undefined] {
  const listed = listElements(o.get("versions") ?? []) ?? [];
  const vs = listed.map((v) => protocols.get(v as Atom)!).sort((a, b) => versionOrder.indexOf(a) - versionOrder.indexOf(b));
  return [vs[0], vs[vs.length - 1]];
}

/**
 * A cipher list limits every protocol, as it did in 3.9 (and does in OTP's ssl). node:tls keeps
 * its default TLS 1.3 suites when the list names none (OpenSSL sets them apart, and they are the
 * `TLS_` names): such a list caps the protocol at TLS 1.2, and one that leaves no protocol at all
 * is `ecipher`.
 */
function limitToCiphers(
  [minVersion, maxVersion]: [TlsVersion | undefined, TlsVersion | undefined],
  ciphers: string | undefined,
): [TlsVersion | undefined, TlsVersion | undefined] {
  if (ciphers === undefined || ciphers.split(/[:, ]/).some((name) => name.startsWith("TLS_"))) return [minVersion, maxVersion];
  if (minVersion === "TLSv1.3") fail(reason.ecipher, "the cipher list names no TLS 1.3 suite, and only TLS 1.3 is allowed");
  return [minVersion, maxVersion === undefined || maxVersion === "TLSv1.3" ? "TLSv1.2" : maxVersion];
}

/** Throws SslError with the reason of the first option that does not load. */
export function tlsSetup(o: Options, side: "client" | "server"): TlsSetup {
  const password = o.has("password") ? text(o.get("password")!) : undefined;
  const caFile = o.file("cacertfile");
  const ca = caFile === undefined ? undefined : certificates(caFile, reason.ecacertfile);
  const certFile = o.file("certfile");
  const own = certFile === undefined ? undefined : certificates(certFile, reason.ecertfile);
  // Without keyfile the key is looked for in the certificate file, as 3.9 did.
  const keyFile = o.file("keyfile") ?? certFile;
  const key = own === undefined || keyFile === undefined ? undefined : privateKey(keyFile, password);
  if (own !== undefined && key !== undefined && !own.certs[0]!.checkPrivateKey(key)) {
    fail(reason.ekeymismatch, "key does not match certificate");
  }
  const ciphersOption = o.has("ciphers") ? text(o.get("ciphers")!) : undefined;
  const [minVersion, maxVersion] = limitToCiphers(versionRange(o), ciphersOption);
  // OpenSSL 3 also refuses TLS 1.0 and 1.1 at its default security level. The level is set in
  // the TLS 1.2 cipher string, which node:tls leaves empty for a list of TLS 1.3 suites only:
  // such a list keeps the default level.
  const tls12Ciphers = ciphersOption === undefined || ciphersOption.split(/[:, ]/).some((name) => name !== "" && !name.startsWith("TLS_"));
  const lowSecurity = tls12Ciphers ? needsLowSecurity(own?.certs ?? [], ca?.certs ?? [], minVersion) : undefined;
  const ciphers = lowSecurity === undefined ? ciphersOption : `${ciphersOption ?? "DEFAULT"}:@SECLEVEL=0`;
  let context: SecureContext;
  try {
    context = createSecureContext({
      ...(own !== undefined && key !== undefined
        ? { cert: own.pem.join("\n"), key: key.export({ type: "pkcs8", format: "pem" }) }
        : {}),
      ...(ca !== undefined ? { ca: ca.pem } : {}),
      ...(ciphers !== undefined ? { ciphers } : {}),
      ...(minVersion !== undefined ? { minVersion } : {}),
      ...(maxVersion !== undefined ? { maxVersion } : {}),
    });
  } catch (err) {
    fail(reasonOf(err, "load"), `OpenSSL refused the ${side}'s settings: ${String(err)}`);
  }
  const sni = o.get("server_name_indication");
  const alpn = listElements(o.get(side === "client" ? "alpn_advertised_protocols" : "alpn_preferred_protocols") ?? []);
  return {
    context,
    verify: verifyLevel(o),
    depth: o.get("depth") as number,
    trusted: ca?.certs ?? defaultRoots(),
    hasCertificate: own !== undefined,
    minVersion,
    maxVersion,
    serverName: sni === undefined ? undefined : sni === atom("disable") ? false : text(sni),
    alpn:
      alpn !== undefined && alpn.length > 0
        ? Buffer.concat(alpn.flatMap((p) => [Uint8Array.of((p as Uint8Array).length), p as Uint8Array]))
        : undefined,
    lowSecurity,
  };
}
