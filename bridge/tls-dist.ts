/**
 * TLS distribution (`-proto_dist inet_tls`): the distribution protocol inside TLS, as OTP's
 * inet_tls_dist runs it. The listener is a TLS server and outgoing connections are TLS clients,
 * configured from the `[{server, Opts}, {client, Opts}]` options (tls-dist-options.ts). Inside
 * TLS the handshake messages carry a 4-byte length (inet_tls_dist's `{packet, 4}`); after it the
 * bytes are those of TCP distribution. Registration with EPMD is the same as for TCP.
 *
 * A peer refused here (its TLS handshake failed, its certificate did not verify, its chain is
 * longer than `depth`) is logged with the reason; the listener goes on serving the others.
 */
import { isIP, type Socket } from "node:net";
import {
  checkServerIdentity,
  connect,
  createSecureContext,
  createServer,
  type DetailedPeerCertificate,
  type SecureContext,
  type PeerCertificate,
  type TLSSocket,
} from "node:tls";
import type { DistTransport } from "./dist-transport.js";
import { TlsDistConfigError, type Side, type TlsDistConfig, type TlsDistSide } from "./tls-dist-options.js";

/** The TLS transport; throws TlsDistConfigError when OpenSSL cannot use a side's files. */
export function tlsTransport(config: TlsDistConfig): DistTransport {
  const { server, client } = config;
  secureContext("server", server);
  const clientContext = secureContext("client", client);
  return {
    name: "tls",
    handshakeHeader: 4,
    createServer(onSocket, { log, setupTimeMs }) {
      const listener = createServer(
        {
          ...server.context,
          requestCert: server.verify,
          // node:tls would refuse a client whose certificate does not verify by closing the
          // connection, and say no more than "socket hang up": peerRefusal checks it instead,
          // once the handshake is over, and says why.
          rejectUnauthorized: false,
          handshakeTimeout: setupTimeMs,
        },
        (socket) => {
          const refusal = peerRefusal(socket, server, false);
          if (refusal === undefined) {
            socket.setNoDelay(true);
            onSocket(socket);
            return;
          }
          log.warning(`TLS distribution: refused ${peerAddress(socket)}: ${refusal}`);
          socket.destroy();
        },
      );
      // Read now, the peer's address stays known to the TCP socket (peerAddress) after it closes.
      listener.on("connection", (tcp: Socket) => void tcp.remoteAddress);
      listener.on("tlsClientError", (err: Error, socket: TLSSocket) => {
        log.warning(`TLS distribution: refused ${peerAddress(socket)}: ${describeTlsError(err)}`);
      });
      return listener;
    },
    connect: (host, port, timeoutMs) => dial(client, clientContext, host, port, timeoutMs),
  };
}

/** A side's certificate, key and CA loaded now, so that a file OpenSSL refuses stops the start. */
function secureContext(side: Side, options: TlsDistSide): SecureContext {
  try {
    return createSecureContext(options.context);
  } catch (e) {
    // OpenSSL's words (e.g. "ca md too weak" for a SHA-1 signature, "ee key too small").
    throw new TlsDistConfigError(`${side}: OpenSSL refuses the certificate, key or options: ${(e as Error).message}`);
  }
}

function dial(side: TlsDistSide, context: SecureContext, host: string, port: number, timeoutMs: number): Promise<Socket> {
  // The name the server's certificate must carry: the node's host by default (OTP sends it as
  // SNI and checks it), one given by server_name_indication, or none when that is `disable`.
  const name = side.serverName ?? host;
  return new Promise((resolve, reject) => {
    const socket = connect({
      secureContext: context,
      host,
      port,
      // SNI may not be an IP address; the certificate is still checked against one.
      ...(name !== false && isIP(name) === 0 ? { servername: name } : {}),
      rejectUnauthorized: side.verify,
      checkServerIdentity: (_host, cert) => (name === false ? undefined : checkServerIdentity(name, cert)),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`TLS connection to ${host}:${port} timed out`), { code: "ETIMEDOUT" }));
    }, timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      const refusal = peerRefusal(socket, side, true);
      if (refusal !== undefined) {
        socket.destroy();
        reject(new Error(`TLS distribution to ${host}:${port}: ${refusal}`));
        return;
      }
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`TLS distribution to ${host}:${port}: ${describeTlsError(err)}`));
    });
  });
}

/**
 * Why the peer of a finished TLS handshake is refused, if it is: no certificate where one is
 * required, one that does not verify, a chain longer than `depth`. The peer sees the connection
 * close, without a TLS alert (node:tls has no verify callback to refuse it sooner).
 */
function peerRefusal(socket: TLSSocket, side: TlsDistSide, isClient: boolean): string | undefined {
  if (!side.verify) return undefined;
  const cert = socket.getPeerCertificate(true);
  if (cert === null || Object.keys(cert).length === 0) {
    if (isClient) return "the server sent no certificate";
    return side.failIfNoPeerCert ? "it sent no certificate, and {fail_if_no_peer_cert, true} requires one" : undefined;
  }
  if (!socket.authorized) return `its certificate does not verify: ${socket.authorizationError}`;
  if (side.depth !== undefined) {
    const intermediates = chainLength(cert) - 2;
    if (intermediates > side.depth) return `its certificate chain has ${intermediates} intermediate certificates, more than {depth, ${side.depth}}`;
  }
  return undefined;
}

/** The certificates from the peer's up to the trusted one, as node:tls verified them. */
function chainLength(cert: DetailedPeerCertificate): number {
  let n = 1;
  for (let c: PeerCertificate = cert, next = cert.issuerCertificate; next !== undefined && next.fingerprint256 !== c.fingerprint256; ) {
    n++;
    c = next;
    next = (next as DetailedPeerCertificate).issuerCertificate;
  }
  return n;
}

/**
 * `address:port` of a server-side TLS socket's peer. One whose handshake failed has forgotten it;
 * the TCP socket node:tls wrapped (its `_parent`), which read it on connection, still knows.
 */
function peerAddress(socket: TLSSocket): string {
  const tcp = socket.remoteAddress !== undefined ? socket : (socket as TLSSocket & { _parent?: Socket })._parent;
  return tcp?.remoteAddress !== undefined ? `${tcp.remoteAddress}:${tcp.remotePort}` : "a peer";
}

/** An OpenSSL or node:tls error in a line: OpenSSL's reason (`tlsv1 alert unknown ca`) and code. */
function describeTlsError(err: Error): string {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const text = `${e.reason ?? e.message}${e.code !== undefined ? ` (${e.code})` : ""}`;
  if (/wrong version number|http request|unknown protocol|packet length too long/i.test(text)) {
    return `${text}: not TLS (a node running plain TCP distribution?)`;
  }
  return text;
}
