/**
 * The reasons of OTP 25's `ssl` for what the bridge reports in ssl 3.9's words: the modern API
 * (`ts_ssl_otp`) gets these. A failed handshake carries what happened (`FailureDetail`: Node's or
 * verify.ts's code, and the side), from which the TLS alert OTP would have sent or received is
 * named, as `{tls_alert, {Alert, Text}}`. Everything else is a mapping of 3.9's atoms.
 */
import { atom, charlist, tuple, type Term } from "../etf/terms.js";
import { reason, type FailureDetail, type Phase } from "./errors.js";

/** 3.9's reasons for a handshake that failed: the modern API names an alert instead. */
const handshakeReasons: ReadonlySet<Term> = new Set<Term>([
  reason.esslconnect,
  reason.esslaccept,
  reason.esslerrssl,
  reason.epeercert,
  reason.enoissuercert,
  reason.epeercertexpired,
  reason.epeercertinvalid,
  reason.eselfsignedcert,
  reason.echaintoolong,
]);

/**
 * The alert OTP's verification sends for each verify result (its path validation errors:
 * unknown issuer is `unknown_ca`, a self-signed peer `bad_certificate`, dates
 * `certificate_expired`), and for OpenSSL's handshake errors that have one.
 */
const alertFor: ReadonlyMap<string, string> = new Map([
  ["UNABLE_TO_GET_ISSUER_CERT", "unknown_ca"],
  ["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "unknown_ca"],
  ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "unknown_ca"],
  ["SELF_SIGNED_CERT_IN_CHAIN", "unknown_ca"],
  ["DEPTH_ZERO_SELF_SIGNED_CERT", "bad_certificate"],
  ["CERT_HAS_EXPIRED", "certificate_expired"],
  ["CERT_NOT_YET_VALID", "certificate_expired"],
  ["CERT_CHAIN_TOO_LONG", "handshake_failure"],
  ["INVALID_CA", "bad_certificate"],
  ["CERT_SIGNATURE_FAILURE", "bad_certificate"],
  ["NO_PEER_CERTIFICATE", "handshake_failure"],
  ["NO_PEER_CERTIFICATE_TLS13", "certificate_required"],
  ["ERR_SSL_WRONG_VERSION_NUMBER", "unexpected_message"],
  ["ERR_SSL_HTTP_REQUEST", "unexpected_message"],
  ["ERR_SSL_PACKET_LENGTH_TOO_LONG", "unexpected_message"],
  ["ERR_SSL_NO_SHARED_CIPHER", "insufficient_security"],
  ["ERR_SSL_UNSUPPORTED_PROTOCOL", "protocol_version"],
  ["ERR_SSL_NO_PROTOCOLS_AVAILABLE", "protocol_version"],
  ["ERR_SSL_NO_APPLICATION_PROTOCOL", "no_application_protocol"],
  ["ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC", "bad_record_mac"],
  ["ERR_SSL_BAD_RECORD_MAC", "bad_record_mac"],
]);

/** A peer that went away mid-handshake: OTP says `closed`. */
const goneCodes: ReadonlySet<string> = new Set(["CLOSED", "ECONNRESET", "EPIPE"]);

const receivedAlert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_([A-Z_]+)$/;

/** 3.9's atoms that OTP spells otherwise. */
const renamed: ReadonlyMap<Term, Term> = new Map<Term, Term>([
  [reason.enopeercert, atom("no_peercert")],
  [reason.enooptions, atom("nooptions")],
]);

/** `{tls_alert, {Alert, Text}}`, the text in the form of OTP's (its state and source line left out). */
function tlsAlert(alert: string, phase: Phase, received: boolean): Term {
  const self = phase === "accept" ? "server" : "client";
  const other = self === "server" ? "client" : "server";
  const title = alert
    .split("_")
    .map((w) => (w === "ca" ? "CA" : w.charAt(0).toUpperCase() + w.slice(1)))
    .join(" ");
  const text = received
    ? `TLS ${self}: In state hello received ${other.toUpperCase()} ALERT: Fatal - ${title}\n`
    : `TLS ${self}: In state certify generated ${self.toUpperCase()} ALERT: Fatal - ${title}\n`;
  return tuple(atom("tls_alert"), tuple(atom(alert), charlist(text)));
}

/** OTP 25's reason for a 3.9 reason, with what is known of a failed handshake. */
export function otpReason(r: Term, detail: FailureDetail | undefined): Term {
  if (handshakeReasons.has(r)) {
    const code = detail?.code ?? "";
    const phase: Phase = detail?.phase ?? (r === reason.esslaccept ? "accept" : "connect");
    if (goneCodes.has(code)) return reason.closed;
    const got = receivedAlert.exec(code);
    if (got !== null) return tlsAlert(got[1]!.toLowerCase(), phase, true);
    return tlsAlert(alertFor.get(code) ?? (r === reason.epeercert ? "bad_certificate" : "handshake_failure"), phase, false);
  }
  return renamed.get(r) ?? r;
}
