/**
 * The two TLS handshakes of the API, `connect/3,4` (client) and `ssl_accept/1,2` (server), on
 * node:tls, each ending with the peer's certificate checked by our verifier (verify.ts) as
 * `{verify, 0|1|2}` and `{depth, D}` ask. node:tls is told to accept any certificate: its own
 * checks know no depth, check host names (3.9 did not) and would refuse what 3.9 forgave.
 *
 * Failures are SslErrors: the signal's reason when it fires (`timeout`, or `closed` for a socket
 * closed meanwhile), the certificate reasons of errors.ts, `esslerrssl` for a fatal alert from the
 * peer, else `esslconnect` / `esslaccept`; POSIX reasons (`econnrefused`, `nxdomain`, ...) while
 * connecting. The TLS socket is destroyed on failure.
 */
import type { X509Certificate } from "node:crypto";
import { isIPv6, Socket as NetSocket, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { connect as tlsConnect, TLSSocket, type ConnectionOptions } from "node:tls";
import type { TlsSetup } from "./context.js";
import { errorCode, fail, handshakeReason, reason, reasonOf, SslError, verifyReason, type Phase } from "./errors.js";
import { VERIFY_CODES, verifyChain } from "./verify.js";

/** Where `connect` makes its TCP connection. */
interface AddressTarget {
  readonly host: string;
  readonly port: number;
  /** `{ip, Addr}` and `{port, P}`: the local address and port to bind. */
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
}

/** A TCP connection made elsewhere (the caller's gen_tcp socket, relay.ts), with its addresses. */
export interface StreamTarget {
  readonly stream: Duplex;
  /** The peer's address, for SNI as `connect` would send it (an address sends none); unused on a server. */
  readonly host: string;
  readonly peer: { readonly address: string; readonly port: number };
  readonly local: { readonly address: string; readonly port: number };
}

export type ConnectTarget = AddressTarget | StreamTarget;

/** The TCP connection `connect` makes itself: node:tls's options for it. */
function connection(target: AddressTarget): ConnectionOptions & { family: 4 | 6 } {
  const ipv6 = isIPv6(target.host) || (target.localAddress !== undefined && isIPv6(target.localAddress));
  // net.connect's `family` reaches tls.connect's socket, though ConnectionOptions does not list it.
  return {
    host: target.host,
    port: target.port,
    // gen_tcp's default address family is inet; an IPv6 address asks for inet6.
    family: ipv6 ? 6 : 4,
    ...(target.localAddress !== undefined ? { localAddress: target.localAddress } : {}),
    ...(target.localPort !== undefined ? { localPort: target.localPort } : {}),
  };
}

/** `connect/3,4` (or `connect/2,3` over a connection): a TLS client socket, handshake done and peer checked, paused. */
export function connectTls(target: ConnectTarget, setup: TlsSetup, signal: AbortSignal | undefined): Promise<TLSSocket> {
  const options: ConnectionOptions = {
    ...("stream" in target ? { socket: target.stream } : connection(target)),
    secureContext: setup.context,
    ...(setup.serverName !== false ? { servername: setup.serverName ?? serverNameFor(target.host) } : {}),
    ...(setup.alpn !== undefined ? { ALPNProtocols: setup.alpn } : {}),
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
  };
  const socket = tlsConnect(options);
  if ("stream" in target) endsWith(socket, target.stream);
  return settle(socket, "secureConnect", "connect", setup, signal);
}

/**
 * node:tls lets go of a stream it was given without ending it: the TLS socket's end is the
 * connection's (as OTP's `ssl` closes a gen_tcp socket it upgraded, on failure too).
 */
function endsWith(socket: TLSSocket, stream: Duplex): void {
  socket.once("close", () => stream.destroy());
}

/** `ssl_accept/1,2`: the server side of the handshake on an accepted TCP socket (or a stream of one). */
export function acceptTls(raw: Socket | Duplex, setup: TlsSetup, signal: AbortSignal | undefined): Promise<TLSSocket> {
  const socket = new TLSSocket(raw, {
    isServer: true,
    secureContext: setup.context,
    requestCert: setup.verify > 0,
    rejectUnauthorized: false,
    ...(setup.alpn !== undefined ? { ALPNProtocols: setup.alpn } : {}),
  });
  if (!(raw instanceof NetSocket)) endsWith(socket, raw);
  return settle(socket, "secure", "accept", setup, signal);
}

/** SNI is a host name, never an address (RFC 6066, 3). */
function serverNameFor(host: string): string | undefined {
  return /^[\d.]+$/.test(host) || host.includes(":") ? undefined : host;
}

function settle(
  socket: TLSSocket,
  doneEvent: "secureConnect" | "secure",
  phase: Phase,
  setup: TlsSetup,
  signal: AbortSignal | undefined,
): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    const finish = (err: unknown) => {
      socket.off(doneEvent, onDone);
      socket.off("error", finish);
      socket.off("close", onClose);
      signal?.removeEventListener("abort", onAbort);
      if (err === undefined) {
        resolve(socket);
        return;
      }
      socket.destroy();
      const detail = { code: errorCode(err) ?? "UNKNOWN", phase };
      reject(err instanceof SslError ? err : new SslError(reasonOf(err, phase), String(err), { cause: err, detail }));
    };
    const onDone = () => {
      socket.pause();
      try {
        checkPeer(socket, setup, phase);
        finish(undefined);
      } catch (err) {
        finish(err);
      }
    };
    const onClose = () => finish(new SslError(handshakeReason(phase), "closed during handshake", { detail: { code: "CLOSED", phase } }));
    // The signal says why: the call's deadline (timeout), or the socket closed (closed).
    const onAbort = () => finish(signal?.reason instanceof SslError ? signal.reason : new SslError(reason.timeout));
    // An 'error' listener stays for the socket's whole life: an unheard 'error' event would throw.
    socket.on("error", () => {});
    socket.once(doneEvent, onDone);
    socket.once("error", finish);
    socket.once("close", onClose);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `{verify, 1}`: the peer's certificate, when it sends one; `{verify, 2}`: and it must send one. */
function checkPeer(socket: TLSSocket, setup: TlsSetup, phase: Phase): void {
  if (setup.verify === 0) return;
  const chain = peerChain(socket);
  if (chain.length === 0) {
    // A server always sends a certificate; a client that sends none fails only {verify, 2}.
    if (setup.verify === 2 || phase === "connect") {
      // TLS 1.3 has an alert of its own for this (certificate_required).
      const code = socket.getProtocol() === "TLSv1.3" ? "NO_PEER_CERTIFICATE_TLS13" : "NO_PEER_CERTIFICATE";
      fail(handshakeReason(phase), "no peer certificate", { code, phase });
    }
    return;
  }
  const [peer, ...presented] = chain;
  const failure = verifyChain({ peer: peer!, presented, trusted: setup.trusted, depth: setup.depth, now: new Date() });
  if (failure !== undefined) {
    fail(verifyReason(failure.code), `${failure.code} at depth ${failure.depth}`, { code: failure.code, phase });
  }
  // OpenSSL has checked the same chain against the same trusted certificates (node:tls was only
  // told to go on whatever it found). What verify.ts checks it decides, with depth; a failure of
  // a check it does not make (purpose, path length, name constraints, critical extensions, weak
  // keys) stays a refusal: epeercert, 3.9's reason for any other verify error.
  const openssl = socket.authorizationError as unknown;
  if (typeof openssl === "string" && !decidedHere.has(openssl)) {
    fail(reason.epeercert, `OpenSSL: ${openssl}`, { code: openssl, phase });
  }
}

/** OpenSSL's verify results for the checks verify.ts makes itself (and may forgive past depth). */
const decidedHere: ReadonlySet<string> = new Set(VERIFY_CODES);
/**
 * The peer's certificate, then each other one it sent, once (a server may send its own again, as
 * `openssl s_server -cert_chain` with a file that starts with it does): node:tls links them in
 * the order they came, not by issuer. The verifier looks among them for issuers, as OpenSSL does.
 */
function peerChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  const visited = new Set<X509Certificate>();
  for (let c = peerCertificate(socket); c !== undefined && !visited.has(c); c = c.issuerCertificate) {
    visited.add(c);
    if (seen.has(c.fingerprint256)) continue;
    seen.add(c.fingerprint256);
    chain.push(c);
  }
  return chain;
}

const peerCertificates = new WeakMap<TLSSocket, X509Certificate | undefined>();

/**
 * The peer's certificate, linked to the others it sent (`issuerCertificate`). node:tls hands it
 * out once: a second getPeerX509Certificate() on the same socket finds none (Node 20), so it is
 * kept here for the socket's life.
 */
export function peerCertificate(socket: TLSSocket): X509Certificate | undefined {
  if (!peerCertificates.has(socket)) peerCertificates.set(socket, socket.getPeerX509Certificate());
  return peerCertificates.get(socket);
}
