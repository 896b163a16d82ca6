/**
 * From the ssl options of `connect` or `listen` to what node:tls needs: a SecureContext, the
 * verification settings, and the trusted certificates our own verifier (verify.ts) uses.
 *
 * The files are checked one by one, in the order ssl 3.9's port program loaded them
 * (set_ssl_parameters: CA file, certificate, key, key against certificate, ciphers), so that the
 * first bad one gives its own reason: node:tls alone would take a key that does not match the
 * certificate, or a CA file with no certificate in it, without a word.
 *
 * A connect's settings are kept for the connects that follow with the same options (see
 * clientSetups): making an OpenSSL context, and checking the files that go into it, costs more
 * than a TLS client's side of a handshake.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { formatTerm } from "../etf/format.js";
import { Tuple, type Term } from "../etf/terms.js";
import { fail, reason, reasonOf } from "./errors.js";
import { protocols, type FileContents, type TlsOptions, type TlsVersion } from "./options.js";
import { TrustStore } from "./verify.js";

const versionOrder: readonly TlsVersion[] = [...protocols.values()];

export interface TlsSetup {
  readonly context: SecureContext;
  /** `{verify, 0|1|2}` (manual): none, the peer's certificate if any, and one is required. */
  readonly verify: 0 | 1 | 2;
  readonly depth: number;
  readonly trusted: TrustStore;
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
  /** Curves of the given certificates' keys that OpenSSL does not offer unless told (see extraCurves). */
  readonly extraCurves: readonly string[];
}

let defaultTrusted: TrustStore | undefined;

/** node:tls's bundled roots, parsed once: the trusted set when no `cacertfile` is given. */
function defaultRoots(): TrustStore {
  defaultTrusted ??= new TrustStore(rootCertificates.map((pem) => new X509Certificate(pem)));
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
  const pem = Buffer.from(contents);
  try {
    const ed = edKeyFromSec1(pem);
    if (ed !== undefined) return createPrivateKey({ key: ed, format: "der", type: "pkcs8" });
    return createPrivateKey({ key: pem, format: "pem", passphrase: password ?? "" });
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

/** For each EdDSA curve, by the DER of its OID: its private key's PKCS#8 head (RFC 8410, 7) and length. */
const edPkcs8 = new Map([
  ["06032b6570", { head: "302e020100300506032b657004220420", length: 32 }],
  ["06032b6571", { head: "3047020100300506032b6571043b0439", length: 57 }],
]);

/**
 * OTP's public_key writes Ed25519 and Ed448 private keys as SEC1 `EC PRIVATE KEY`s naming the
 * curve's OID (so `pkix_test_data/1`'s keys come); OpenSSL reads EdDSA keys only as RFC 8410's
 * PKCS#8. The same key in PKCS#8 DER, or undefined when `pem` holds no such key.
 */
function edKeyFromSec1(pem: Buffer): Buffer | undefined {
  const block = /-----BEGIN EC PRIVATE KEY-----([A-Za-z0-9+/=\s]*)-----END EC PRIVATE KEY-----/.exec(pem.toString("latin1"));
  if (block === null) return undefined;
  // ECPrivateKey ::= SEQUENCE { version, privateKey OCTET STRING, [0] parameters, [1] publicKey }
  const der = Buffer.from(block[1]!, "base64");
  if (der.length < 8) return undefined;
  const version = derElement(der, derElement(der, 0).start);
  const key = derElement(der, version.end);
  if (der[key.end] !== 0xa0) return undefined;
  const parameters = derElement(der, key.end);
  const curve = edPkcs8.get(der.subarray(parameters.start, derElement(der, parameters.start).end).toString("hex"));
  const raw = der.subarray(key.start, key.end);
  return curve !== undefined && raw.length === curve.length ? Buffer.concat([Buffer.from(curve.head, "hex"), raw]) : undefined;
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
 * weak") or has an RSA or DSA key under 1024 bits ("ee key too small"), and leaves SHA-1 out of
 * the signature algorithms it offers, so a peer whose chain is signed with SHA-1 cannot send it
 * (OTP: unable_to_supply_acceptable_cert). `public_key:pkix_test_data/1` signs with SHA-1 by
 * default, and OTP's ssl takes such chains and keys; a trusted certificate signed with SHA-1 says
 * the peer's chain is likely to be too.
 */
function needsLowSecurity(own: readonly X509Certificate[], trusted: readonly X509Certificate[], minVersion: TlsVersion | undefined): string | undefined {
  if (minVersion === "TLSv1" || minVersion === "TLSv1.1") return `${minVersion} allowed`;
  for (const [cert, role] of [...own.map((c) => [c, "certfile"] as const), ...trusted.map((c) => [c, "cacertfile"] as const)]) {
    const name = `${role}: ${cert.subject.replace(/\n/g, ", ")}`;
    const weak = weakSignatures.get(signatureAlgorithm(cert));
    if (weak !== undefined) return `${name} is signed with ${weak}`;
    const bits = cert.publicKey.asymmetricKeyDetails?.modulusLength;
    if (bits !== undefined && bits < 1024) return `${name} has a ${bits}-bit ${cert.publicKey.asymmetricKeyType?.toUpperCase()} key`;
  }
  return undefined;
}

function versionRange(o: TlsOptions): [TlsVersion | undefined, TlsVersion | undefined] {
  const vs = [...(o.versions ?? [])].sort((a, b) => versionOrder.indexOf(a) - versionOrder.indexOf(b));
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

/** The groups OpenSSL 3 offers by default (node:tls's `ecdhCurve: "auto"`), in its order. */
const defaultGroups = ["X25519", "prime256v1", "X448", "secp521r1", "secp384r1"];

/**
 * The curves of the EC keys among the given certificates that OpenSSL leaves out of the groups
 * it offers, in the order found. In TLS 1.2 OpenSSL takes a peer's ECDSA certificate only on a
 * curve it offered itself ("wrong curve"), and serves its own only on one the peer offered;
 * OTP's ssl offers every curve it has, and `public_key:pkix_test_data/1` makes its keys, by
 * default, on the first curve `crypto` lists (secp160k1 on OTP 25). A certificate on such a
 * curve, ours or a trusted one, adds it.
 */
function extraCurves(certs: readonly X509Certificate[]): string[] {
  const curves = certs.map((c) => c.publicKey.asymmetricKeyDetails?.namedCurve).filter((c): c is string => c !== undefined);
  return [...new Set(curves)].filter((c) => !defaultGroups.includes(c));
}

/**
 * The settings of the most recent connects, each kept with the file contents `ts_ssl` sent for
 * it (it reads the files at each call, so a file changed on disk is new contents, and a new
 * setup). Least recently used first; a few dozen cover the option lists a program connects with.
 * Only settings that loaded are kept, so an option list that fails is checked, and refused,
 * afresh each time. Connections that share a client context see nothing of each other: node:tls
 * keeps no client sessions in it. Listen sockets make their own: a server context holds the keys
 * of its session tickets, and those stay with one listen socket.
 */
const clientSetups = new Map<string, { readonly files: readonly Uint8Array[]; readonly setup: TlsSetup }>();
const CLIENT_SETUPS_KEPT = 32;

/** The file contents among the options, in their order: what a hit compares byte for byte. */
const fileContents = (o: TlsOptions) => Object.values(o).filter((v): v is Uint8Array => v instanceof Uint8Array);

/** Bytes sampled from each file for the key: this many runs of SAMPLE_RUN bytes, spread over it. */
const SAMPLE_RUNS = 8;
const SAMPLE_RUN = 32;

/**
 * A digest of every TLS option, each under its name (so that an option added to TlsOptions is in
 * the key without a word here), a file as its length and samples of its bytes: hashing the whole
 * of a CA bundle of some hundred KiB takes ten times as long as comparing it, so the contents are
 * compared once the key has found a setup, and one whose key matches but whose files differ is
 * made again. Each part is length-prefixed so that none runs into the next.
 */
function setupKey(o: TlsOptions): string {
  const hash = createHash("sha256");
  const part = (bytes: Uint8Array | string) => hash.update(`${bytes.length}:`).update(bytes);
  for (const [name, value] of Object.entries(o) as Array<[string, unknown]>) {
    part(name);
    if (value instanceof Uint8Array) {
      hash.update(`${value.length};`);
      for (let i = 0; i < SAMPLE_RUNS; i++) part(value.subarray(Math.floor((value.length * i) / SAMPLE_RUNS)).subarray(0, SAMPLE_RUN));
    } else if (value instanceof Tuple) {
      // `{error, Posix}`: the file could not be read, and such a setup fails to load.
      part(formatTerm(value));
    } else if (Array.isArray(value) && value.every((v) => v instanceof Uint8Array)) {
      hash.update(`${value.length}[`);
      value.forEach(part);
    } else {
      part(JSON.stringify(value ?? null));
    }
  }
  return hash.digest("base64");
}

/** Throws SslError with the reason of the first option that does not load. */
export function tlsSetup(o: TlsOptions, side: "client" | "server"): TlsSetup {
  if (side === "server") return makeSetup(o, side);
  const key = setupKey(o);
  const files = fileContents(o);
  const kept = clientSetups.get(key);
  // Taken out and put back: a Map iterates in insertion order, so the first key is the least recently used.
  if (kept !== undefined) clientSetups.delete(key);
  const reuse = kept !== undefined && kept.files.every((f, i) => Buffer.from(f.buffer, f.byteOffset, f.byteLength).equals(files[i]!));
  const setup = reuse ? kept.setup : makeSetup(o, side);
  // Copies: what came off the wire may be a view into a larger buffer, which must not be held.
  clientSetups.set(key, reuse ? kept : { files: files.map((f) => f.slice()), setup });
  if (clientSetups.size > CLIENT_SETUPS_KEPT) clientSetups.delete(clientSetups.keys().next().value!);
  return setup;
}

function makeSetup(o: TlsOptions, side: "client" | "server"): TlsSetup {
  const password = o.password;
  const caFile = o.cacertfile;
  const ca = caFile === undefined ? undefined : certificates(caFile, reason.ecacertfile);
  const certFile = o.certfile;
  const own = certFile === undefined ? undefined : certificates(certFile, reason.ecertfile);
  // Without keyfile the key is looked for in the certificate file, as 3.9 did.
  const keyFile = o.keyfile ?? certFile;
  const key = own === undefined || keyFile === undefined ? undefined : privateKey(keyFile, password);
  if (own !== undefined && key !== undefined && !own.certs[0]!.checkPrivateKey(key)) {
    fail(reason.ekeymismatch, "key does not match certificate");
  }
  const ciphersOption = o.ciphers;
  const [minVersion, maxVersion] = limitToCiphers(versionRange(o), ciphersOption);
  // OpenSSL 3 also refuses TLS 1.0 and 1.1 at its default security level. The level is set in
  // the TLS 1.2 cipher string, which node:tls leaves empty for a list of TLS 1.3 suites only:
  // such a list keeps the default level.
  const tls12Ciphers = ciphersOption === undefined || ciphersOption.split(/[:, ]/).some((name) => name !== "" && !name.startsWith("TLS_"));
  const lowSecurity = tls12Ciphers ? needsLowSecurity(own?.certs ?? [], ca?.certs ?? [], minVersion) : undefined;
  const ciphers = lowSecurity === undefined ? ciphersOption : `${ciphersOption ?? "DEFAULT"}:@SECLEVEL=0`;
  const curves = extraCurves([...(own?.certs ?? []), ...(ca?.certs ?? [])]);
  let context: SecureContext;
  try {
    context = createSecureContext({
      ...(own !== undefined && key !== undefined
        ? { cert: own.pem.join("\n"), key: key.export({ type: "pkcs8", format: "pem" }) }
        : {}),
      ...(ca !== undefined ? { ca: ca.pem } : {}),
      ...(ciphers !== undefined ? { ciphers } : {}),
      ...(curves.length > 0 ? { ecdhCurve: [...defaultGroups, ...curves].join(":") } : {}),
      ...(minVersion !== undefined ? { minVersion } : {}),
      ...(maxVersion !== undefined ? { maxVersion } : {}),
    });
  } catch (err) {
    fail(reasonOf(err, "load"), `OpenSSL refused the ${side}'s settings: ${String(err)}`);
  }
  const alpn = side === "client" ? o.alpnAdvertised : o.alpnPreferred;
  return {
    context,
    verify: o.verify,
    depth: o.depth,
    trusted: ca !== undefined ? new TrustStore(ca.certs) : defaultRoots(),
    hasCertificate: own !== undefined,
    minVersion,
    maxVersion,
    serverName: o.serverName,
    alpn: alpn.length > 0 ? Buffer.concat(alpn.flatMap((p) => [Uint8Array.of(p.length), p])) : undefined,
    lowSecurity,
    extraCurves: curves,
  };
}
