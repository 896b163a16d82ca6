/**
 * The reasons of ssl 3.9 (manual, ERRORS) and the one table from what Node reports to them.
 *
 * Every failure a peer or a caller can cause ends as an `SslError` carrying the Erlang reason
 * that `{error, Reason}` replies and `{ssl_error, S, Reason}` messages carry. Node's errors
 * (system errors, OpenSSL errors, certificate verification results) go through `reasonOf`, which
 * reads the rows of `nodeErrorTable` in order.
 */
import { CodedError } from "../etf/errors.js";
import { Atom, atom, Tuple, tuple, type Term } from "../etf/terms.js";
import type { VerifyCode } from "./verify.js";

/** The ssl 3.9 reasons (manual, ERRORS), plus `enopeercert` (3.9's port program) and inet's few. */
export const reason = {
  closed: atom("closed"),
  timeout: atom("timeout"),
  ebadsocket: atom("ebadsocket"),
  ebadstate: atom("ebadstate"),
  ecacertfile: atom("ecacertfile"),
  ecertfile: atom("ecertfile"),
  echaintoolong: atom("echaintoolong"),
  ecipher: atom("ecipher"),
  edata: atom("edata"),
  ekeyfile: atom("ekeyfile"),
  ekeymismatch: atom("ekeymismatch"),
  enoissuercert: atom("enoissuercert"),
  enopeercert: atom("enopeercert"),
  enoservercert: atom("enoservercert"),
  enotlistener: atom("enotlistener"),
  enooptions: atom("enooptions"),
  enotstarted: atom("enotstarted"),
  eoptions: atom("eoptions"),
  epeercert: atom("epeercert"),
  epeercertexpired: atom("epeercertexpired"),
  epeercertinvalid: atom("epeercertinvalid"),
  eselfsignedcert: atom("eselfsignedcert"),
  esslaccept: atom("esslaccept"),
  esslconnect: atom("esslconnect"),
  esslerrssl: atom("esslerrssl"),
  einval: atom("einval"),
  emsgsize: atom("emsgsize"),
  enotconn: atom("enotconn"),
  nxdomain: atom("nxdomain"),
} as const;

/**
/**
 * What a handshake failure was, beyond its 3.9 reason: Node's error code (or verify.ts's code,
 * or `CLOSED` for a peer that went away) and the side that saw it. The modern API's reasons
 * (`{tls_alert, {Alert, Text}}`) are made from it (otp-reasons.ts).
 */
export interface FailureDetail {
  readonly code: string;
  readonly phase: Phase;
}

/**
 * A failure to report to Erlang as `{error, Reason}`. Its code is the reason's name (the atom,
 * or a tuple reason's tag) unless a subclass names its own.
 */
export class SslError extends CodedError {
  readonly detail: FailureDetail | undefined;

  constructor(
    readonly reason: Term,
    message?: string,
    options?: { code?: string; cause?: unknown; detail?: FailureDetail },
  ) {
    const tag = reason instanceof Tuple ? reason.elements[0] : reason;
    const name = tag instanceof Atom ? tag.name : "ssl_error";
    super(options?.code ?? name, message ?? name, options);
    this.detail = options?.detail;
  }
}

/** `{badcall, Call}`: a call not valid for the socket's mode or state (manual, ERRORS). */
export function badcall(call: Term): SslError {
  return new SslError(tuple(atom("badcall"), call));
}

export function fail(r: Term, message?: string, detail?: FailureDetail): never {
  throw new SslError(r, message, { detail });
}

/**
 * What was under way when Node reported an error: the same error means different reasons.
 * `load`: making the TLS context from the files of `listen` or `connect`.
 */
export type Phase = "load" | "connect" | "accept" | "listen" | "transfer";

/** The reasons for files `listen` and `connect` cannot use; the bridge logs why. */
export const fileReasons: ReadonlySet<Term> = new Set([reason.ecacertfile, reason.ecertfile, reason.ekeyfile, reason.ekeymismatch]);

export interface Row {
  /** Matches a Node error `code` (exact string, or a pattern). */
  readonly code: string | RegExp;
  /** Only in this phase; every phase when absent. */
  readonly phase?: Phase;
  readonly reason: (code: string, phase: Phase) => Term;
  readonly why: string;
}

/** 3.9's reason for a handshake that failed on this side: accepting or connecting. */
export function handshakeReason(phase: Phase): Atom {
  return phase === "accept" ? reason.esslaccept : reason.esslconnect;
}

const to = (r: Atom) => () => r;
const handshakeFailed = (_: string, phase: Phase) => handshakeReason(phase);

/**
 * Node error code -> ssl reason, first matching row wins. Certificate verification codes are
 * OpenSSL's (`X509_V_ERR_*`), mapped as ssl 3.9's port program mapped them (its verify_callback).
 */
export const nodeErrorTable: readonly Row[] = [
  // Certificate verification.
  { code: "UNABLE_TO_GET_ISSUER_CERT", reason: to(reason.enoissuercert), why: "issuer not found" },
  { code: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", reason: to(reason.enoissuercert), why: "issuer not found" },
  { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE", reason: to(reason.enoissuercert), why: "peer's issuer not found" },
  { code: "CERT_HAS_EXPIRED", reason: to(reason.epeercertexpired), why: "expired" },
  { code: "CERT_NOT_YET_VALID", reason: to(reason.epeercertinvalid), why: "not yet valid" },
  { code: "ERROR_IN_CERT_NOT_BEFORE_FIELD", reason: to(reason.epeercertinvalid), why: "bad notBefore" },
  { code: "ERROR_IN_CERT_NOT_AFTER_FIELD", reason: to(reason.epeercertinvalid), why: "bad notAfter" },
  { code: "SELF_SIGNED_CERT_IN_CHAIN", reason: to(reason.eselfsignedcert), why: "untrusted self-signed CA" },
  { code: "DEPTH_ZERO_SELF_SIGNED_CERT", reason: to(reason.eselfsignedcert), why: "self-signed peer" },
  { code: "CERT_CHAIN_TOO_LONG", reason: to(reason.echaintoolong), why: "longer than depth allows" },
  { code: "INVALID_CA", reason: to(reason.epeercert), why: "issuer is not a CA" },
  { code: "CERT_SIGNATURE_FAILURE", reason: to(reason.epeercert), why: "bad signature" },
  // Loading our own certificate, key, CA certificates and cipher list.
  { code: "ERR_SSL_NO_CIPHER_MATCH", reason: to(reason.ecipher), why: "cipher string matches nothing" },
  { code: "ERR_OSSL_X509_KEY_VALUES_MISMATCH", reason: to(reason.ekeymismatch), why: "key is not the certificate's" },
  // The CA file, the key and their match are checked before node:tls loads them (context.ts):
  // what OpenSSL still refuses is our own chain ("ca md too weak", "ee key too small", a key
  // type TLS cannot use).
  { code: /./, phase: "load", reason: to(reason.ecertfile), why: "OpenSSL refused our certificate chain" },
  // The handshake: a fatal alert from the peer is esslerrssl, any other failure the side's own.
  { code: /^ERR_SSL_(SSLV3|TLSV1|TLSV13)_ALERT_/, reason: to(reason.esslerrssl), why: "fatal alert from peer" },
  { code: /^ERR_SSL_/, phase: "connect", reason: handshakeFailed, why: "handshake failed here" },
  { code: /^ERR_SSL_/, phase: "accept", reason: handshakeFailed, why: "handshake failed here" },
  { code: "ECONNRESET", phase: "connect", reason: handshakeFailed, why: "peer left mid-handshake" },
  { code: "ECONNRESET", phase: "accept", reason: handshakeFailed, why: "peer left mid-handshake" },
  { code: "EPIPE", phase: "accept", reason: handshakeFailed, why: "peer left mid-handshake" },
  { code: /^ERR_SSL_/, phase: "transfer", reason: to(reason.esslerrssl), why: "SSL protocol failure" },
  // gen_tcp (without show_econnreset) and OTP's ssl tell a reset as the end of the connection;
  // whether node:tls reports it at all depends on when it reads (Linux tells the error once).
  { code: /^(ECONNRESET|EPIPE)$/, phase: "transfer", reason: to(reason.closed), why: "peer reset the connection" },
  { code: /^ERR_TLS_/, phase: "connect", reason: handshakeFailed, why: "node:tls refused the handshake" },
  { code: /^ERR_TLS_/, phase: "accept", reason: handshakeFailed, why: "node:tls refused the handshake" },
  // Name resolution (inet:getaddr gives nxdomain for a name that does not resolve).
  { code: "ENOTFOUND", reason: to(reason.nxdomain), why: "no such host" },
  { code: "EAI_AGAIN", reason: to(reason.nxdomain), why: "name server gave no answer" },
  { code: "EAI_NODATA", reason: to(reason.nxdomain), why: "host has no address" },
  { code: "EAI_FAIL", reason: to(reason.nxdomain), why: "name server failed" },
  // inet's POSIX reasons are the errno names in lower case (econnrefused, eaddrinuse, ...).
  { code: /^E[A-Z0-9]+$/, reason: (code) => atom(code.toLowerCase()), why: "POSIX error" },
];

export function errorCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** The first row of the table for a Node error code seen during `phase`. */
export function rowFor(code: string, phase: Phase): Row | undefined {
  return nodeErrorTable.find(
    (row) => (row.phase === undefined || row.phase === phase) && (typeof row.code === "string" ? row.code === code : row.code.test(code)),
  );
}

/** The ssl reason for an error Node reported during `phase` (an `SslError` keeps its own). */
export function reasonOf(err: unknown, phase: Phase): Term {
  if (err instanceof SslError) return err.reason;
  const code = errorCode(err);
  const row = code === undefined ? undefined : rowFor(code, phase);
  if (row !== undefined) return row.reason(code!, phase);
  // Nothing better known: what 3.9 said for a handshake that failed, or for a broken transfer.
  if (phase === "load") return reason.ecertfile;
  return phase === "accept" || phase === "connect" ? handshakeReason(phase) : reason.closed;
}

/** The reason for a certificate verification failure (see verify.ts). */
export function verifyReason(code: VerifyCode): Term {
  return reasonOf({ code }, "connect");
}
