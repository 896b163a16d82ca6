/**
 * One handler per ssl function, for the requests of README.md "How ts_ssl talks to the bridge".
 * `SslService.call` answers every request with the manual's return value and never throws:
 * - a request it does not know is `{error, {badcall, Request}}` (manual, ERRORS);
 * - a bad option list is `eoptions` (`enooptions` for `listen(P, [])`);
 * - any other argument of the wrong shape is `einval`, as inet answers;
 * - a socket that is closed (or was never this bridge's) is `{error, closed}`.
 * Handlers do not wait on each other: a blocked recv or accept holds up nothing else.
 */
import { getCiphers } from "node:tls";
import type { From, Node } from "../bridge/api.js";
import { formatTerm } from "../etf/format.js";
import { Atom, atom, charlist, error, isTagged, listElements, ok, Pid, tuple, Tuple, type Term } from "../etf/terms.js";
import { host, iodata, natural, port, timeout } from "./args.js";
import { tlsSetup } from "./context.js";
import { within } from "./deadline.js";
import { Endpoint, isSocketTerm, SocketTable } from "./endpoint.js";
import { badcall, fail, fileReasons, reason, SslError } from "./errors.js";
import { ListenSocket } from "./listener.js";
import { Options } from "./options.js";
import { otpHandlers } from "./otp-api.js";
import { SslSocket } from "./socket.js";

/** The ssl application version this bridge stands for (manual: ssl 3.9). */
const SSL_VSN = "3.9";

export type Handler = (service: SslService, args: Term[], from: From, request: Term) => Term | Promise<Term>;

function arg<T>(value: T | undefined): T {
  if (value === undefined) fail(reason.einval);
  return value;
}

const okSocket = (e: Endpoint) => tuple(ok, e.term);

const send = atom("send");
const otp = atom("otp");
/** The reply tag of a sender's answer to the bridge's flush (SslSocket.flushSenders). */
const flush = atom("flush");

/** The socket term of `{send, S, Data}` or `{otp, {send, S, Data}}`; undefined for any other request. */
function sentSocket(request: Term): Term | undefined {
  const inner = isTagged(request, otp, 2) ? (request as Tuple).elements[1]! : request;
  return isTagged(inner, send, 3) ? (inner as Tuple).elements[1] : undefined;
}

/** Handlers by `Name/Arity` of the request tuple (`ciphers`, `version`: atoms, arity 0). */
const handlers: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  [
    "connect/4",
    async (s, [address, portNumber, optionList, time], from) => {
      const options = Options.parse(optionList!, "connect");
      const target = arg(host(address!));
      const remotePort = arg(port(portNumber));
      const t = arg(timeout(time));
      const setup = tlsSetup(options.tls, "client");
      const to = { host: target, port: remotePort, localAddress: options.connect.ip, localPort: options.connect.port };
      return okSocket(await within(t, (signal) => SslSocket.connect(s.sockets, from.pid, to, setup, options, signal)));
    },
  ],
  [
    "listen/2",
    async (s, [portNumber, optionList], from) => {
      if (listElements(optionList!)?.length === 0) fail(reason.enooptions);
      const options = Options.parse(optionList!, "listen");
      return okSocket(await ListenSocket.listen(s.sockets, from.pid, arg(port(portNumber)), options));
    },
  ],
  [
    "transport_accept/2",
    async (s, [socket, time], from) => {
      const listener = s.listener(socket!);
      const t = arg(timeout(time));
      return okSocket(await within(t, (signal) => listener.transportAccept(from.pid, signal)));
    },
  ],
  [
    "ssl_accept/2",
    async (s, [socket, time]) => {
      const t = arg(timeout(time));
      const accepting = s.connection(socket!, reason.ebadstate);
      await within(t, (signal) => accepting.sslAccept(signal));
      return ok;
    },
  ],
  [
    "accept/2",
    async (s, [socket, time], from) => {
      const t = arg(timeout(time));
      const listener = s.listener(socket!);
      // One Timeout for both steps, as 3.9's accept/2.
      return within(t, async (signal) => {
        const accepted = await listener.transportAccept(from.pid, signal);
        await accepted.sslAccept(signal);
        return okSocket(accepted);
      });
    },
  ],
  [
    "close/1",
    (s, [socket]) => {
      s.endpoint(socket!).close();
      return ok;
    },
  ],
  ["send/2", (s, [socket, data]) => s.connection(socket!).send(arg(iodata(data!)))],
  [
    // A send of ts_ssl_sender: the send request's own reply, with the limit its sender keeps.
    "pipelined_send/1",
    async (s, [send], from, request) => {
      const socket = sentSocket(send!);
      if (socket === undefined) throw badcall(request);
      const conn = isSocketTerm(socket) ? s.sockets.find(socket) : undefined;
      if (conn instanceof SslSocket) conn.heardFrom(from.pid, from.tag === flush);
      const reply = await s.call(send!, from);
      const [version, limit] = conn instanceof SslSocket ? conn.sendLimit : [0, 0];
      return tuple(reply, version, limit);
    },
  ],
  [
    "recv/3",
    (s, [socket, length, time], from, request) => {
      const conn = s.connection(socket!);
      const n = arg(natural(length));
      return within(arg(timeout(time)), (signal) => conn.recv(n, signal, from.pid, request));
    },
  ],
  [
    "controlling_process/2",
    (s, [socket, newOwner], from, request) => {
      const e = s.endpoint(socket!);
      if (!(newOwner instanceof Pid)) fail(reason.einval);
      e.changeOwner(from.pid, newOwner, request);
      return ok;
    },
  ],
  [
    "getopts/2",
    (s, [socket, tags]) => {
      return tuple(ok, s.endpoint(socket!).getopts(tags!));
    },
  ],
  [
    "setopts/2",
    (s, [socket, optionList]) => {
      s.endpoint(socket!).setopts(optionList!);
      return ok;
    },
  ],
  ["peername/1", (s, [socket]) => s.connection(socket!).peername()],
  ["sockname/1", (s, [socket]) => s.endpoint(socket!).sockname()],
  ["peercert/1", (s, [socket]) => s.connection(socket!).peercert()],
  ["connection_info/1", (s, [socket]) => s.connection(socket!).connectionInfo()],
  // The OpenSSL names of the ciphers node:tls can use (3.9: the library's cipher list).
  ["ciphers/0", () => tuple(ok, charlist(getCiphers().map((c) => c.toUpperCase()).join(":")))],
  [
    "version/0",
    () => {
      const openssl = `OpenSSL ${process.versions.openssl}`;
      return tuple(ok, tuple(charlist(SSL_VSN), charlist(openssl), charlist(openssl)));
    },
  ],
  // node:tls's OpenSSL seeds itself from the system; Data is checked as 3.9 checked it.
  ["seed/1", (_s, [data]) => (iodata(data!) === undefined ? tuple(error, reason.edata) : ok)],
  // The modern API (ts_ssl_otp): `{otp, Request}`, answered in OTP 25's terms.
  ...otpHandlers,
]);

export class SslService {
  readonly sockets: SocketTable;

  constructor(readonly node: Node) {
    this.sockets = new SocketTable(node);
  }

  /**
   * The reply to one request, `{error, Reason}` for every failure; never throws nor rejects.
   * A handler that answers at once is answered at once, without a promise: most calls on a
   * socket (sockname/1, getopts/2...) are such, and each turn of the microtask queue is time the
   * caller waits.
   */
  call(request: Term, from: From): Term | Promise<Term> {
    let answer: Term | Promise<Term>;
    try {
      answer = this.dispatch(request, from);
    } catch (err) {
      return this.#failed(request, err);
    }
    return answer instanceof Promise ? answer.catch((err: unknown) => this.#failed(request, err)) : answer;
  }

  #failed(request: Term, err: unknown): Term {
    if (err instanceof SslError) {
      // The caller gets the manual's reason; what was wrong with its files is told here.
      if (fileReasons.has(err.reason)) this.node.log.warning(`ts_ssl_bridge: ${formatTerm(err.reason)}: ${err.message}`);
      return tuple(error, err.reason);
    }
    // A bug here must not leave the caller without an answer, nor end the bridge.
    this.node.log.error(`ts_ssl_bridge: ${formatTerm(request, { maxLength: 300 })} failed: ${String(err)}`);
    return tuple(error, reason.einval);
  }

  /** The handler's reply to one request; throws SslError as the handlers do. */
  dispatch(request: Term, from: From): Term | Promise<Term> {
    let name: string | undefined;
    let args: Term[] = [];
    if (request instanceof Atom) name = request.name;
    else if (request instanceof Tuple && request.elements[0] instanceof Atom) {
      name = request.elements[0].name;
      args = request.elements.slice(1);
    }
    const handler = name === undefined ? undefined : handlers.get(`${name}/${args.length}`);
    if (handler === undefined) throw badcall(request);
    return handler(this, args, from, request);
  }

  /** The open socket a socket term names: einval for a term that is no socket, closed for one that is gone. */
  endpoint(t: Term): Endpoint {
    if (!isSocketTerm(t)) fail(reason.einval);
    return this.sockets.find(t) ?? fail(reason.closed);
  }

  /** A listen socket; `enotlistener` for any other socket (manual, ERRORS). */
  listener(t: Term): ListenSocket {
    const e = this.endpoint(t);
    if (!(e instanceof ListenSocket)) fail(reason.enotlistener);
    return e;
  }

  /** A connected (or accepted) socket; for a listen socket, `ifListener` (enotconn, as inet). */
  connection(t: Term, ifListener: Atom = reason.enotconn): SslSocket {
    const e = this.endpoint(t);
    if (!(e instanceof SslSocket)) fail(ifListener);
    return e;
  }

  /** Closes every socket (the bridge is stopping). */
  closeAll(): void {
    for (const e of this.sockets.all()) e.close();
  }

  /**
   * Closes every socket and waits, up to `graceMs`, until their peers have been told. Sends
   * that ts_ssl answered `ok` for and that are still on their way are carried out first (up to
   * `graceMs` too), as close/1 waits for its caller's sends.
   */
  async shutdown(graceMs = 2_000): Promise<void> {
    const open = this.sockets.all();
    await upTo(graceMs, Promise.all(open.map((e) => (e instanceof SslSocket ? e.flushSenders() : undefined))));
    for (const e of open) e.close();
    await upTo(graceMs, Promise.all(open.map((e) => e.settled)));
  }
}

/** Waits for `p`, or `ms` at most. */
async function upTo(ms: number, p: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([p, grace]);
  clearTimeout(timer);
}
