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
  } catch {
    fail(bad, "certificate does not parse");
  }
}

function privateKey(contents: FileContents, password: string | undefined): KeyObject {
  if (!(contents instanceof Uint8Array)) fail(reason.ekeyfile, "key file could not be read");
  try {
    return createPrivateKey({ key: Buffer.from(contents), format: "pem", passphrase: password ?? "" });
  } catch {
    fail(reason.ekeyfile, "key does not load");
  }
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
  // OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security level; asking for them lowers it.
  const ciphers = ciphersOption ?? (minVersion === "TLSv1" || minVersion === "TLSv1.1" ? "DEFAULT:@SECLEVEL=0" : undefined);
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
    fail(reasonOf(err, side === "client" ? "connect" : "accept"), String(err));
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
  };
}
