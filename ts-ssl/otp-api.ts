/**
 * The modern API's requests: `{otp, Request}` from `ts_ssl_otp` (OTP 25's `ssl`). A request the
 * 3.9 API has too runs the very same handler (service.ts); only its reply is put in OTP's words
 * here: reasons (otp-reasons.ts), `close/1` of a closed socket, `recv` in active mode, option
 * errors. The sockets it makes say OTP's reasons in their `{ssl_error, S, Reason}` messages. The
 * requests only the modern API has (`shutdown`, `getstat`, `negotiated_protocol`,
 * `connection_information`) are handled here, on the same sockets.
 */
import { Atom, atom, charlist, error, isTagged, listElements, ok, Pid, tuple, Tuple, type Term } from "../etf/terms.js";
import { isSocketTerm, type EndWords } from "./endpoint.js";
import { fail, reason, SslError } from "./errors.js";
import { ipAddress, port, timeout } from "./args.js";
import { tlsSetup } from "./context.js";
import { within } from "./deadline.js";
import { handshakeRefusal } from "./listener.js";
import { isOptionTag, Options, type Context } from "./options.js";
import { otpReason } from "./otp-reasons.js";
import { RelayStream } from "./relay.js";
import type { Handler, SslService } from "./service.js";
import { SslSocket } from "./socket.js";

/** Requests whose options an `eoptions` is about, and where they are in the request. */
const optionsAt: ReadonlyMap<string, { readonly index: number; readonly context: Context }> = new Map([
  ["connect", { index: 2, context: "connect" as Context }],
  ["upgrade", { index: 3, context: "connect" as Context }],
  ["accept_upgrade", { index: 3, context: "listen" as Context }],
  ["listen", { index: 1, context: "listen" as Context }],
  ["setopts", { index: 1, context: "setopts" as Context }],
  ["handshake", { index: 1, context: "listen" as Context }],
]);

const howValues: ReadonlyMap<Term, "read" | "write" | "read_write"> = new Map([
  [atom("read"), "read"],
  [atom("write"), "write"],
  [atom("read_write"), "read_write"],
]);

/** `getstat/1,2`'s items, inet's names. */
const statItems = ["recv_cnt", "recv_max", "recv_avg", "recv_oct", "recv_dvi", "send_cnt", "send_max", "send_avg", "send_oct", "send_pend"];

const fileTags: readonly string[] = ["certfile", "keyfile", "cacertfile"];

/** Handlers of the requests only the modern API has, and of those it answers otherwise. */
const modern: ReadonlyMap<string, Handler> = new Map<string, Handler>([
  [
    // OTP's `ssl` reads the certificate, key and CA files at each handshake, not at listen: a
    // file it cannot read fails each handshake with `{options, {Tag, Path, {error, Posix}}}`, a
    // key it cannot use with `{options, {keyfile, Path, []}}`, and a CA file with no
    // certificate in it is left out. Such a listen socket is made without the files, and
    // refuses every handshake so.
    "listen/2",
    async (s, [portNumber, optionList], from, request) => {
      const items = listElements(optionList!) ?? [];
      const without = (tags: readonly string[]) =>
        tuple(atom("listen"), portNumber!, items.filter((o) => !tags.some((tag) => isTagged(o, atom(tag), 3))));
      const refusing = async (option: Term) => {
        const reply = await s.dispatch(without(fileTags), from);
        if (isTagged(reply, ok, 2)) s.listener((reply as Tuple).elements[1]!).refuseHandshakes(tuple(error, tuple(atom("options"), option)));
        return reply;
      };
      const unreadable = fileTags.map((tag) => fileOption(items, tag)).find((o) => o !== undefined && (o as Tuple).size === 3);
      if (unreadable !== undefined) return refusing(unreadable);
      try {
        return await s.dispatch(request, from);
      } catch (err) {
        if (!(err instanceof SslError)) throw err;
        if (err.reason === reason.ecacertfile) return s.dispatch(without(["cacertfile"]), from);
        const key = fileOption(items, "keyfile");
        if (err.reason === reason.ekeyfile && key !== undefined) return refusing(tuple(atom("keyfile"), (key as Tuple).elements[1]!, []));
        throw err;
      }
    },
  ],
  [
    // connect/2,3 on the caller's gen_tcp socket, which its relay process carries (relay.ts):
    // the TLS client of connect/3,4 over it. The relay was given the socket; a request refused
    // before the relay is started leaves the socket to ts_ssl_otp to give back.
    "upgrade/5",
    async (s, args, from) => {
      const { target, options, t } = upgrade(s, args, "connect");
      const setup = tlsSetup(options.tls, "client");
      return tuple(ok, (await within(t, (signal) => SslSocket.connect(s.sockets, from.pid, target, setup, options, signal))).term);
    },
  ],
  [
    // handshake/2,3 on the caller's gen_tcp socket: the server's side of connect/2,3.
    "accept_upgrade/5",
    async (s, args, from) => {
      const { target, options, t } = upgrade(s, args, "listen");
      const conn = SslSocket.accepted(s.sockets, from.pid, target, options, tlsSetup(options.tls, "server"));
      await within(t, (signal) => conn.sslAccept(signal));
      return tuple(ok, conn.term);
    },
  ],
  ["ssl_accept/2", (s, [socket], from, request) => refused(s, socket!) ?? s.dispatch(request, from)],
  [
    // handshake/3: TLS options for this connection, over the listener's. OTP's `ssl` takes
    // nothing else here (socket options are left as they are, unread).
    "handshake/3",
    async (s, [socket, optionList, time]) => {
      const refusal = refused(s, socket!);
      if (refusal !== undefined) return refusal;
      const conn = s.connection(socket!, reason.ebadstate);
      const t = timeout(time!) ?? fail(reason.einval);
      const own = (listElements(optionList!) ?? []).filter((o) => readerOf(o) === "ssl");
      try {
        let given: Options;
        try {
          given = Options.parse(own, "listen");
        } catch (err) {
          if (!(err instanceof SslError) || err.reason !== reason.eoptions) throw err;
          // OTP 25's handshake/3 wraps its option error twice.
          return tuple(error, tuple(error, tuple(atom("options"), optionError(own, "listen"))));
        }
        const options = conn.options.merge(given);
        const setup = tlsSetup(options.tls, "server");
        await within(t, (signal) => conn.sslAccept(signal, { options, setup }));
        return ok;
      } finally {
        // A handshake that did not happen ends the connection, as a failed one does.
        if (conn.modernSession === undefined) conn.close();
      }
    },
  ],
  [
    "shutdown/2",
    (s, [socket, how]) => {
      const h = howValues.get(how!);
      const conn = s.connection(socket!);
      if (h === undefined) fail(reason.einval);
      conn.shutdown(h);
      return ok;
    },
  ],
  [
    "getstat/2",
    (s, [socket, items]) => {
      const asked = listElements(items!);
      if (asked === undefined || !asked.every((i) => i instanceof Atom && statItems.includes(i.name))) fail(reason.einval);
      const stats = s.connection(socket!).statistics();
      return tuple(ok, asked.map((i) => tuple(i, stats[(i as Atom).name]!)));
    },
  ],
  [
    "negotiated_protocol/1",
    (s, [socket]) => {
      const alpn = s.connection(socket!).modernSession?.alpn;
      return alpn === undefined ? tuple(error, atom("protocol_not_negotiated")) : tuple(ok, Buffer.from(alpn, "latin1"));
    },
  ],
  [
    // The facts ts_ssl_otp makes OTP's items of: the protocol, IANA's name of the cipher suite
    // (OTP's suite map is made from it where OTP's `ssl` module is), the SNI name.
    "connection_information/1",
    (s, [socket]) => {
      const conn = s.connection(socket!);
      const [protocol] = (((conn.connectionInfo() as Tuple).elements[1]) as Tuple).elements;
      const session = conn.modernSession!;
      const facts: Term[] = [tuple(atom("protocol"), protocol!)];
      if (session.cipherStandardName !== undefined) facts.push(tuple(atom("cipher_suite"), charlist(session.cipherStandardName)));
      // The name a client asked for, which OTP gives on the server's side only.
      if (session.serverName !== undefined && conn.kind === "accept") {
        facts.push(tuple(atom("sni_hostname"), charlist(session.serverName)));
      }
      return tuple(ok, facts);
    },
  ],
  [
    // OTP 25 lets any process give a socket away (3.9 refused all but the owner).
    "controlling_process/2",
    (s, [socket, newOwner], _from, request) => {
      const e = s.endpoint(socket!);
      if (!(newOwner instanceof Pid)) fail(reason.einval);
      e.changeOwner(e.owner, newOwner, request);
      return ok;
    },
  ],
]);

/**
 * The arguments of `upgrade` and `accept_upgrade` (`Relay, Peer, Local, Options, Timeout`), all
 * checked before the relay is started with the stream over its connection.
 */
function upgrade(s: SslService, [relay, peer, local, optionList, time]: Term[], context: Context) {
  const options = Options.parse(optionList!, context);
  const t = timeout(time!) ?? fail(reason.einval);
  const peerAddress = address(peer!);
  const localAddress = address(local!);
  if (!(relay instanceof Pid)) fail(reason.einval);
  const stream = new RelayStream(s.sockets.node, relay);
  return { target: { stream, host: peerAddress.address, peer: peerAddress, local: localAddress }, options, t };
}

/** `{Address, Port}` of inet:peername/1 and inet:sockname/1. */
function address(t: Term): { address: string; port: number } {
  const [ip, portNumber] = t instanceof Tuple && t.size === 2 ? t.elements : [];
  const a = ip === undefined ? undefined : ipAddress(ip);
  const p = port(portNumber);
  if (a === undefined || p === undefined) fail(reason.einval);
  return { address: a, port: p };
}

/** The reply of a handshake on a socket whose listener refuses them, which closes it. */
function refused(s: SslService, socket: Term): Term | undefined {
  const conn = s.connection(socket, reason.ebadstate);
  const refusal = handshakeRefusal(conn);
  if (refusal !== undefined) conn.close();
  return refusal;
}

/** The request's name and arguments (a bare atom has none). */
function parts(request: Term): [string | undefined, Term[]] {
  if (request instanceof Atom) return [request.name, []];
  if (request instanceof Tuple && request.elements[0] instanceof Atom) return [request.elements[0].name, request.elements.slice(1)];
  return [undefined, []];
}

/**
 * Who reads an option in OTP's `ssl`: `ssl` itself (its TLS options), `ssl` on gen_tcp's behalf
 * (the options it emulates on the data it decrypts), or gen_tcp (every other option, those it
 * does not know included: OTP's `ssl` passes them on and gen_tcp refuses them).
 */
type Reader = "ssl" | "emulated" | "gen_tcp";

const emulated: ReadonlySet<string> = new Set(["mode", "packet", "active", "header", "packet_size"]);
const genTcp: ReadonlySet<string> = new Set(["nodelay", "keepalive", "reuseaddr", "ip", "port", "backlog", "line_delimiter"]);

function readerOf(option: Term): Reader {
  if (option === atom("binary") || option === atom("list")) return "emulated";
  const tag = option instanceof Tuple && option.elements[0] instanceof Atom ? option.elements[0].name : undefined;
  if (tag === undefined || genTcp.has(tag) || !isOptionTag(tag)) return "gen_tcp";
  return emulated.has(tag) ? "emulated" : "ssl";
}

/**
 * What OTP's `ssl` gives gen_tcp besides the caller's options when it opens a connection: the
 * emulated options at the values its own reading needs.
 */
const genTcpInternal: readonly Term[] = [
  tuple(atom("packet_size"), 0),
  tuple(atom("packet"), 0),
  tuple(atom("header"), 0),
  tuple(atom("active"), atom("false")),
  tuple(atom("mode"), atom("binary")),
];

/**
 * OTP's `What` in `{error, {options, What}}` for an option list that `context` refuses. A bad
 * ssl or emulated option is named alone (setopts: as `{socket_options, Option}`); anything else
 * reached gen_tcp, whose refusal OTP reports with the list it gave it: connect and listen
 * `{socket_options, GenTcpOptions ++ Internal}` (`ts_ssl_otp` makes listen's the badarg exit
 * gen_tcp:listen raises), setopts `{socket_options, GenTcpOptions, einval}`.
 */
function optionError(list: Term | undefined, context: Context): Term {
  const items = list === undefined ? undefined : listElements(list);
  if (items === undefined) return tuple(atom("not_a_proplist"), list ?? atom("undefined"));
  const rejected = items.filter((item) => {
    try {
      Options.parse([item], context);
      return false;
    } catch (err) {
      if (err instanceof SslError) return true;
      throw err;
    }
  });
  const socketOptions = atom("socket_options");
  // OTP's `ssl` hands gen_tcp the options it does not read itself in the reverse of their order.
  if (context === "setopts") {
    const bad = rejected.find((o) => readerOf(o) === "emulated");
    if (bad !== undefined) return tuple(socketOptions, bad);
    return tuple(socketOptions, items.filter((o) => readerOf(o) !== "emulated").reverse(), reason.einval);
  }
  const bad = rejected.find((o) => readerOf(o) !== "gen_tcp");
  if (bad !== undefined) return bad;
  return tuple(socketOptions, [...items.filter((o) => readerOf(o) === "gen_tcp").reverse(), ...genTcpInternal]);
}

/** A file option as OTP names it when its file is unusable: `{Tag, Path, {error, Posix}}`, or `{Tag, Path}`. */
function fileOption(list: Term | undefined, tag: string): Term | undefined {
  for (const item of (list === undefined ? undefined : listElements(list)) ?? []) {
    if (!isTagged(item, atom(tag), 3)) continue;
    const [, path, contents] = (item as Tuple).elements;
    return isTagged(contents!, error, 2) ? tuple(atom(tag), path!, contents!) : tuple(atom(tag), path!);
  }
  return undefined;
}

const fileReasons: ReadonlyMap<Term, string> = new Map<Term, string>([
  [reason.ecertfile, "certfile"],
  [reason.ekeyfile, "keyfile"],
  [reason.ekeymismatch, "keyfile"],
  [reason.ecacertfile, "cacertfile"],
]);

/** OTP's reply to a request that failed with `err` (in 3.9's words). */
function failure(name: string, args: Term[], err: SslError): Term {
  const r = err.reason;
  if (name === "close" && r === reason.closed) return ok;
  if ((name === "sockname" || name === "peername" || name === "getstat") && r === reason.closed) return tuple(error, reason.einval);
  if (name === "recv" && isTagged(r, atom("badcall"), 2)) return tuple(error, reason.einval);
  if (name === "recv" && r === reason.ebadstate) return tuple(error, atom("notsup_on_transport_accept_socket"));
  const where = optionsAt.get(name);
  if (where !== undefined) {
    const list = args[where.index];
    if (r === reason.eoptions) return tuple(error, tuple(atom("options"), optionError(list, where.context)));
    if (r === reason.ecipher) return tuple(error, tuple(atom("options"), tupleOf(list, "ciphers")));
    const tag = fileReasons.get(r);
    const option = tag === undefined ? undefined : fileOption(list, tag);
    if (option !== undefined) return tuple(error, tuple(atom("options"), option));
  }
  return tuple(error, otpReason(r, err.detail));
}

/** `{Tag, Value}` of the option list, or the tag alone. */
function tupleOf(list: Term | undefined, tag: string): Term {
  const found = ((list === undefined ? undefined : listElements(list)) ?? []).find((o) => isTagged(o, atom(tag), 2));
  return found ?? atom(tag);
}

/**
 * OTP's: its reasons, `{invalid_packet, Bytes}` with what its buffer held, and no
 * `{ssl_closed, S}` after `{ssl_error, S, Reason}`.
 */
const otpWords: EndWords = {
  reason: otpReason,
  invalidPacket: (buffered) => tuple(atom("invalid_packet"), buffered),
  closedAfterError: false,
};

/** A socket the modern API made tells its owner of its end in OTP's words. */
function adopt(s: SslService, reply: Term): void {
  if (!isTagged(reply, ok, 2)) return;
  const socket = (reply as Tuple).elements[1]!;
  const e = isSocketTerm(socket) ? s.sockets.find(socket) : undefined;
  if (e !== undefined) e.words = otpWords;
}

async function otp(s: SslService, request: Term, from: Parameters<Handler>[2]): Promise<Term> {
  const [name, args] = parts(request);
  const own = name === undefined ? undefined : modern.get(`${name}/${args.length}`);
  try {
    const reply = await (own === undefined ? s.dispatch(request, from) : own(s, args, from, request));
    if (isTagged(reply, error, 2) && name !== undefined) {
      return failure(name, args, new SslError((reply as Tuple).elements[1]!));
    }
    adopt(s, reply);
    return reply;
  } catch (err) {
    if (!(err instanceof SslError) || name === undefined) throw err;
    return failure(name, args, err);
  }
}

/** The entry of service.ts's handler table for `{otp, Request}`. */
export const otpHandlers: ReadonlyArray<[string, Handler]> = [["otp/1", (s, [request], from) => otp(s, request!, from)]];
