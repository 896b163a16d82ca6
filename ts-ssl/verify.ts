/**
 * Verification of the peer's certificate chain, done here rather than by node:tls because
 * node:tls has no verify depth and reports one error without its depth. The steps and the
 * error names are OpenSSL's (`X509_verify_cert`, names as node:tls spells them in
 * `authorizationError`), so that errors map to ssl 3.9's reasons the way its port program
 * mapped OpenSSL's (see errors.ts).
 *
 * Depth (ssl 3.9 manual, `{depth, D}`): peer certificate = 0, its CA = 1, ...; a chain may hold
 * at most D + 2 certificates, the last being the trust anchor (OpenSSL's verify depth). A longer
 * chain fails with CERT_CHAIN_TOO_LONG. As 3.9 did, errors in certificates deeper than D (that
 * is, in a trust anchor at D + 1) are forgiven; a chain that does not end in a trusted
 * certificate never is.
 *
 * Pure: the clock is a parameter.
 */
import type { X509Certificate } from "node:crypto";

/** OpenSSL's verify results that this verifier produces (`X509_V_ERR_*` without the prefix). */
export const VERIFY_CODES = [
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_CHAIN_TOO_LONG",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "INVALID_CA",
  "CERT_SIGNATURE_FAILURE",
] as const;

export type VerifyCode = (typeof VERIFY_CODES)[number];

export interface VerifyFailure {
  readonly code: VerifyCode;
  /** Position in the chain of the certificate in error (0 = the peer's). */
  readonly depth: number;
}

export interface ChainInput {
  /** The peer's own certificate. */
  readonly peer: X509Certificate;
  /** Other certificates the peer sent (intermediates, in any order). */
  readonly presented: readonly X509Certificate[];
  /** Trusted certificates (`cacertfile`, or the default roots). */
  readonly trusted: TrustStore;
  readonly depth: number;
  readonly now: Date;
}

interface Link {
  readonly cert: X509Certificate;
  readonly fingerprint: string;
  readonly trusted: boolean;
}

/**
 * Trusted certificates, looked up by fingerprint and by subject. A CA bundle holds a few hundred
 * of them: scanned whole for each link of each chain, with a digest made per certificate per
 * comparison, they cost a handshake over a millisecond of CPU.
 */
export class TrustStore {
  readonly #fingerprints: ReadonlySet<string>;
  readonly #bySubject = new Map<string, X509Certificate[]>();

  constructor(readonly certs: readonly X509Certificate[]) {
    this.#fingerprints = new Set(certs.map((c) => c.fingerprint256));
    for (const c of certs) {
      const named = this.#bySubject.get(c.subject);
      if (named === undefined) this.#bySubject.set(c.subject, [c]);
      else named.push(c);
    }
  }

  has(fingerprint: string): boolean {
    return this.#fingerprints.has(fingerprint);
  }

  /**
   * The first trusted certificate that issued `cert` and is `usable`. Those named as its issuer
   * are tried first; OpenSSL compares names in a canonical form, so a name printed differently
   * may still match, and the others are searched when none of those did.
   */
  issuerOf(cert: X509Certificate, usable: (c: X509Certificate) => boolean): X509Certificate | undefined {
    const issued = (t: X509Certificate) => cert.checkIssued(t) && usable(t);
    const named = this.#bySubject.get(cert.issuer);
    return named?.find(issued) ?? this.certs.find((t) => t.subject !== cert.issuer && issued(t));
  }
}

/** Undefined when the chain verifies; else the first error OpenSSL's order would report. */
export function verifyChain(input: ChainInput): VerifyFailure | undefined {
  const built = buildChain(input);
  if (!Array.isArray(built)) return built;
  return checkCaFlags(built, input.depth) ?? checkSignaturesAndDates(built, input);
}

/**
 * Signed by its own key under its own name (OpenSSL's X509_self_signed): key usage is not looked
 * at, so a self-signed end-entity certificate without keyCertSign still counts.
 */
function selfIssued(cert: X509Certificate): boolean {
  return cert.subject === cert.issuer && cert.verify(cert.publicKey);
}

function link(cert: X509Certificate, trusted: TrustStore, isTrusted = false): Link {
  const fingerprint = cert.fingerprint256;
  return { cert, fingerprint, trusted: isTrusted || trusted.has(fingerprint) };
}

/**
 * Builds peer -> ... -> a self-issued trusted certificate, looking in the trusted set first
 * (OpenSSL's default X509_V_FLAG_TRUSTED_FIRST); once a trusted certificate is in the chain its
 * issuers come from the trusted set only.
 */
function buildChain(input: ChainInput): Link[] | VerifyFailure {
  const chain: Link[] = [link(input.peer, input.trusted)];
  const inChain = new Set([chain[0]!.fingerprint]);
  const usable = (c: X509Certificate) => !inChain.has(c.fingerprint256);
  for (;;) {
    const last = chain[chain.length - 1]!;
    const at = chain.length - 1;
    if (selfIssued(last.cert)) {
      if (last.trusted) return chain;
      return { code: at === 0 ? "DEPTH_ZERO_SELF_SIGNED_CERT" : "SELF_SIGNED_CERT_IN_CHAIN", depth: at };
    }
    const trustedIssuer = input.trusted.issuerOf(last.cert, usable);
    const issuer =
      trustedIssuer ?? (last.trusted ? undefined : input.presented.find((p) => last.cert.checkIssued(p) && usable(p)));
    if (issuer === undefined) {
      if (last.trusted) return { code: "UNABLE_TO_GET_ISSUER_CERT", depth: at };
      return { code: at === 0 ? "UNABLE_TO_VERIFY_LEAF_SIGNATURE" : "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", depth: at };
    }
    if (chain.length === input.depth + 2) return { code: "CERT_CHAIN_TOO_LONG", depth: chain.length };
    const next = link(issuer, input.trusted, trustedIssuer !== undefined);
    chain.push(next);
    inChain.add(next.fingerprint);
  }
}

/** Every certificate above the peer's must be a CA (basicConstraints), within the depth. */
function checkCaFlags(chain: readonly Link[], depth: number): VerifyFailure | undefined {
  for (let i = 1; i < chain.length && i <= depth; i++) {
    if (!chain[i]!.cert.ca) return { code: "INVALID_CA", depth: i };
  }
  return undefined;
}

/** OpenSSL's internal_verify: from the anchor down, each signature and then each validity period. */
function checkSignaturesAndDates(chain: readonly Link[], input: ChainInput): VerifyFailure | undefined {
  for (let i = chain.length - 1; i >= 0; i--) {
    const { cert } = chain[i]!;
    const issuer = i === chain.length - 1 ? undefined : chain[i + 1]!.cert;
    // The anchor's own self-signature is not checked (OpenSSL's default without CHECK_SS_SIGNATURE).
    const failure =
      (issuer !== undefined && !cert.verify(issuer.publicKey) ? ("CERT_SIGNATURE_FAILURE" as const) : undefined) ??
      validity(cert, input.now);
    if (failure !== undefined && i <= input.depth) return { code: failure, depth: i };
  }
  return undefined;
}

function validity(cert: X509Certificate, now: Date): VerifyCode | undefined {
  if (now.getTime() < new Date(cert.validFrom).getTime()) return "CERT_NOT_YET_VALID";
  if (now.getTime() > new Date(cert.validTo).getTime()) return "CERT_HAS_EXPIRED";
  return undefined;
}
