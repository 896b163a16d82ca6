/**
 * The options of ssl 3.9 (manual, COMMON DATA TYPES), with the newer OTP ones accepted as a
 * superset (README.md, departures): one table saying, for each tag, where it applies, what
 * values it takes and its default. An option list is checked whole; one bad option makes the
 * call `{error, eoptions}`.
 *
 * A list is parsed once into typed records, one per reader: `socket` (framing, active and the
 * TCP options), `tls` (the TLS context and handshake), `listen` and `connect` (the addresses).
 * The Erlang terms are kept only for `getopts/2`'s answers (normalised: `binary` is
 * `{mode, binary}`, `{packet, raw}` is `{packet, 0}`, a file option is `{certfile, Path}`).
 */
import { Atom, atom, bool, error, false_, isTagged, listElements, true_, Tuple, tuple, type Term } from "../etf/terms.js";
import { ipAddress, natural, port, text } from "./args.js";
import { fail, reason } from "./errors.js";
import type { FramingOptions, PacketType } from "./packet/framer.js";

/** Where an option list comes from: `connect/3,4`, `listen/2`, `setopts/2`. */
export type Context = "connect" | "listen" | "setopts";

/** What a socket is, for `getopts/2`: sockets made by connect, listen sockets, accepted sockets. */
export type SocketKind = "connect" | "listen" | "accept";

export type Active = boolean | "once" | number;

/** `{active, N}` (OTP 17+): the counter's bounds. */
const ACTIVE_MIN = -32768;
export const ACTIVE_MAX = 32767;

interface Spec {
  /** Contexts where the option may be given. */
  readonly in: readonly Context[];
  /** Socket kinds whose `getopts/2` knows the tag. */
  readonly kinds: readonly SocketKind[];
  /** The normalised value, or undefined when the value is not valid. */
  readonly value: (v: Term) => Term | undefined;
  readonly default?: Term;
}

const socketOption: Pick<Spec, "in" | "kinds"> = { in: ["connect", "listen", "setopts"], kinds: ["connect", "listen", "accept"] };
const sslOption: Pick<Spec, "in" | "kinds"> = { in: ["connect", "listen"], kinds: ["connect", "listen", "accept"] };

const oneOf =
  (...values: Term[]) =>
  (v: Term) =>
    values.includes(v) ? v : undefined;

const boolean = oneOf(true_, false_);

const packetTypes: ReadonlyMap<Term, PacketType> = new Map<Term, PacketType>([
  [0, "raw"],
  [atom("raw"), "raw"],
  [1, 1],
  [2, 2],
  [4, 4],
  ...(["asn1", "cdr", "sunrm", "fcgi", "tpkt", "line", "http", "httph", "http_bin", "httph_bin"] as const).map(
    (name) => [atom(name), name] as [Term, PacketType],
  ),
]);

function packetValue(v: Term): Term | undefined {
  // 3.9 let {packet, 3} through and inet refused it with einval.
  if (v === 3) fail(reason.einval);
  const type = packetTypes.get(v);
  if (type === undefined) return undefined;
  return type === "raw" ? 0 : v;
}

function activeValue(v: Term): Term | undefined {
  if (v === true_ || v === false_ || v === atom("once")) return v;
  return typeof v === "number" && Number.isInteger(v) && v >= ACTIVE_MIN && v <= ACTIVE_MAX ? v : undefined;
}

const stringValue = (v: Term) => (text(v) !== undefined ? v : undefined);

/**
 * A file name as ts_ssl got it (`file:filename_all()`: a binary, or a list of code points, which
 * may pass 255); only given back by getopts, since the contents travel beside it (see `split`).
 */
function pathValue(v: Term): Term | undefined {
  if (v instanceof Uint8Array) return v;
  const chars = listElements(v);
  return chars !== undefined && chars.every((c) => typeof c === "number" && Number.isInteger(c) && c >= 0) ? v : undefined;
}

export type TlsVersion = "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3";

/** Protocol atoms (as `connection_info/1` names them) <-> node:tls's version names, oldest first. */
export const protocols: ReadonlyMap<Atom, TlsVersion> = new Map([
  [atom("tlsv1"), "TLSv1"],
  [atom("tlsv1.1"), "TLSv1.1"],
  [atom("tlsv1.2"), "TLSv1.2"],
  [atom("tlsv1.3"), "TLSv1.3"],
]);

function versionsValue(v: Term): Term | undefined {
  const vs = listElements(v);
  return vs !== undefined && vs.length > 0 && vs.every((x) => protocols.has(x as Atom)) ? v : undefined;
}

function protocolsValue(v: Term): Term | undefined {
  const ps = listElements(v);
  return ps !== undefined && ps.every((p) => p instanceof Uint8Array && p.length > 0 && p.length < 256) ? v : undefined;
}

function verifyValue(v: Term): Term | undefined {
  if (v === 0 || v === 1 || v === 2) return v;
  return v === atom("verify_none") || v === atom("verify_peer") ? v : undefined;
}

function sniValue(v: Term): Term | undefined {
  if (v === atom("disable")) return v;
  const s = text(v);
  return s !== undefined && s.length > 0 ? v : undefined;
}

/** The manual's options, defaults as the manual gives them, then the newer ones. */
const specs: ReadonlyMap<string, Spec> = new Map<string, Spec>([
  ["mode", { ...socketOption, value: oneOf(atom("list"), atom("binary")), default: atom("list") }],
  ["packet", { ...socketOption, value: packetValue, default: 0 }],
  ["header", { ...socketOption, value: (v) => natural(v), default: 0 }],
  ["nodelay", { ...socketOption, value: boolean, default: false_ }],
  ["active", { ...socketOption, value: activeValue, default: true_ }],
  ["backlog", { in: ["listen"], kinds: ["listen"], value: (v) => natural(v), default: 5 }],
  ["ip", { in: ["connect", "listen"], kinds: ["connect", "listen"], value: (v) => (ipAddress(v) !== undefined ? v : undefined), default: tuple(0, 0, 0, 0) }],
  ["port", { in: ["connect"], kinds: ["connect"], value: (v) => port(v), default: 0 }],
  ["verify", { ...sslOption, value: verifyValue, default: 0 }],
  ["depth", { ...sslOption, value: (v) => natural(v, 255), default: 1 }],
  ["certfile", { ...sslOption, value: pathValue }],
  ["keyfile", { ...sslOption, value: pathValue }],
  ["password", { ...sslOption, value: stringValue }],
  ["cacertfile", { ...sslOption, value: pathValue }],
  ["ciphers", { ...sslOption, value: stringValue }],
  // gen_tcp options that 3.9's own code took (node:net sets SO_REUSEADDR on every socket it
  // binds: `false` cannot be honoured).
  ["reuseaddr", { in: ["connect", "listen"], kinds: ["connect", "listen", "accept"], value: boolean, default: false_ }],
  ["keepalive", { ...socketOption, value: boolean, default: false_ }],
  // 3.9's session cache lifetime in seconds, up to what node:tls takes; by default OpenSSL's for
  // TLS (2 hours). Only a server keeps sessions.
  ["cachetimeout", { ...sslOption, value: (v) => natural(v, 0x7fffffff), default: 7200 }],
  // gen_tcp options that 3.9 refused and that we accept with gen_tcp's meaning.
  ["packet_size", { ...socketOption, value: (v) => natural(v, 0x7fffffff), default: 0 }],
  ["line_delimiter", { ...socketOption, value: (v) => natural(v, 255), default: 10 }],
  // Newer OTP ssl options.
  ["fail_if_no_peer_cert", { in: ["listen"], kinds: ["listen", "accept"], value: boolean, default: false_ }],
  ["versions", { ...sslOption, value: versionsValue }],
  ["server_name_indication", { in: ["connect"], kinds: ["connect"], value: sniValue }],
  ["alpn_advertised_protocols", { in: ["connect"], kinds: ["connect"], value: protocolsValue }],
  ["alpn_preferred_protocols", { in: ["listen"], kinds: ["listen", "accept"], value: protocolsValue }],
]);

const fileTags = new Set(["certfile", "keyfile", "cacertfile"]);

/** Whether the bridge takes an option of this tag somewhere (connect, listen or setopts). */
export function isOptionTag(tag: string): boolean {
  return specs.has(tag);
}

/** The contents ts_ssl read for a file option: the bytes, or the `{error, Posix}` it got. */
export type FileContents = Uint8Array | Tuple;

/** What a connected socket reads: its framing, its active mode and the TCP options. */
export interface SocketOptions {
  readonly framing: FramingOptions;
  readonly active: Active;
  readonly nodelay: boolean;
  readonly keepalive: boolean;
}

/** What the TLS context and the handshake read (context.ts, listener.ts). */
export interface TlsOptions {
  /** `{verify, Code}` as the manual's three levels: 0 none, 1 peer, 2 peer and fail if none. */
  readonly verify: 0 | 1 | 2;
  readonly depth: number;
  readonly certfile: FileContents | undefined;
  readonly keyfile: FileContents | undefined;
  readonly cacertfile: FileContents | undefined;
  readonly password: string | undefined;
  readonly ciphers: string | undefined;
  /** The versions allowed, when given. */
  readonly versions: readonly TlsVersion[] | undefined;
  /** `server_name_indication`: a name, `false` for `disable`, undefined when not given. */
  readonly serverName: string | false | undefined;
  readonly alpnAdvertised: readonly Uint8Array[];
  readonly alpnPreferred: readonly Uint8Array[];
  /** Seconds a server's sessions may be resumed. */
  readonly cachetimeout: number;
}

/** What `listen/2` reads besides TLS. */
export interface ListenOptions {
  /** The address to bind, as node:net takes it. */
  readonly ip: string;
  readonly backlog: number;
}

/** What `connect/3,4` reads besides TLS: the local end, when given. */
export interface ConnectOptions {
  readonly ip: string | undefined;
  /** undefined for 0: any port. */
  readonly port: number | undefined;
}

/** An option list, checked and normalised. Later options override earlier ones, as in gen_tcp. */
export class Options {
  readonly #values: Map<string, Term>;
  readonly #files: Map<string, FileContents>;
  readonly socket: SocketOptions;
  readonly tls: TlsOptions;
  readonly listen: ListenOptions;
  readonly connect: ConnectOptions;

  private constructor(values: Map<string, Term>, files: Map<string, FileContents>) {
    this.#values = values;
    this.#files = files;
    this.socket = {
      framing: {
        packet: packetTypes.get(this.#get("packet"))!,
        packetSize: this.#get("packet_size") as number,
        lineDelimiter: this.#get("line_delimiter") as number,
        mode: this.#get("mode") === atom("binary") ? "binary" : "list",
        header: this.#get("header") as number,
      },
      active: activeOf(this.#get("active")),
      nodelay: this.#get("nodelay") === true_,
      keepalive: this.#get("keepalive") === true_,
    };
    const versions = this.#values.get("versions");
    const sni = this.#values.get("server_name_indication");
    const password = this.#values.get("password");
    const ciphers = this.#values.get("ciphers");
    this.tls = {
      verify: this.#verifyLevel(),
      depth: this.#get("depth") as number,
      certfile: files.get("certfile"),
      keyfile: files.get("keyfile"),
      cacertfile: files.get("cacertfile"),
      password: password === undefined ? undefined : text(password),
      ciphers: ciphers === undefined ? undefined : text(ciphers),
      versions: versions === undefined ? undefined : listElements(versions)!.map((v) => protocols.get(v as Atom)!),
      serverName: sni === undefined ? undefined : sni === atom("disable") ? false : text(sni),
      alpnAdvertised: (listElements(this.#values.get("alpn_advertised_protocols") ?? []) ?? []) as Uint8Array[],
      alpnPreferred: (listElements(this.#values.get("alpn_preferred_protocols") ?? []) ?? []) as Uint8Array[],
      cachetimeout: this.#get("cachetimeout") as number,
    };
    const localPort = this.#get("port") as number;
    this.listen = { ip: ipAddress(this.#get("ip"))!, backlog: this.#get("backlog") as number };
    this.connect = { ip: this.#values.has("ip") ? ipAddress(this.#get("ip")) : undefined, port: localPort === 0 ? undefined : localPort };
  }

  /** The option's value as set, else its default (every option read here has one). */
  #get(tag: string): Term {
    return (this.#values.get(tag) ?? specs.get(tag)?.default)!;
  }

  #verifyLevel(): 0 | 1 | 2 {
    const v = this.#get("verify");
    if (v === atom("verify_none")) return 0;
    if (v === atom("verify_peer")) return this.#get("fail_if_no_peer_cert") === true_ ? 2 : 1;
    return v as 0 | 1 | 2;
  }

  static empty(): Options {
    return new Options(new Map(), new Map());
  }

  /**
   * Checks a whole option list for `context`; throws SslError `eoptions` (or `einval` for
   * `{packet, 3}`) at the first bad one.
   */
  static parse(list: Term, context: Context): Options {
    const items = listElements(list);
    if (items === undefined) fail(reason.eoptions);
    const values = new Map<string, Term>();
    const files = new Map<string, FileContents>();
    for (const item of items) {
      const [tag, value, contents] = split(item);
      const spec = specs.get(tag);
      if (spec === undefined || !spec.in.includes(context)) fail(reason.eoptions, `option ${tag} not valid for ${context}`);
      const normalised = spec.value(value);
      if (normalised === undefined) fail(reason.eoptions, `bad value for ${tag}`);
      values.delete(tag);
      values.set(tag, normalised);
      if (fileTags.has(tag)) {
        if (contents === undefined) fail(reason.eoptions, `${tag} without contents`);
        files.set(tag, contents);
      }
    }
    return new Options(values, files);
  }

  /** These options with `changes` applied over them (setopts, or a listener's options inherited). */
  merge(changes: Options): Options {
    const values = new Map(this.#values);
    for (const [tag, value] of changes.#values) {
      values.delete(tag);
      values.set(tag, value);
    }
    return new Options(values, new Map([...this.#files, ...changes.#files]));
  }

  /** These options with one value replaced, as the socket's state has it (`active` counts down). */
  with(tag: string, value: Term): Options {
    const values = new Map(this.#values);
    values.set(tag, value);
    return new Options(values, this.#files);
  }

  /** Whether the list gave the option (setopts applies only what it gives). */
  has(tag: string): boolean {
    return this.#values.has(tag);
  }

  /**
   * `getopts/2`: `{Tag, Value}` for each tag asked that has a value (defaults included), in the
   * order asked; a tag this kind of socket does not know makes it `{error, einval}` (3.9).
   */
  getopts(tags: Term, kind: SocketKind): Term[] {
    const asked = listElements(tags);
    if (asked === undefined) fail(reason.einval);
    const answer: Term[] = [];
    for (const t of asked) {
      const spec = t instanceof Atom ? specs.get(t.name) : undefined;
      if (spec === undefined || !spec.kinds.includes(kind)) fail(reason.einval, `no option ${String(t)} here`);
      const value = this.#values.get((t as Atom).name) ?? spec.default;
      if (value !== undefined) answer.push(tuple(t, value));
    }
    return answer;
  }
}

/** `binary`, `list`, `{Tag, Value}` or `{Tag, Path, Contents}` -> tag, value, contents. */
function split(item: Term): [string, Term, FileContents | undefined] {
  if (item === atom("binary") || item === atom("list")) return ["mode", item, undefined];
  if (item instanceof Tuple && item.elements[0] instanceof Atom) {
    const tag = item.elements[0].name;
    if (item.size === 2) return [tag, item.elements[1]!, undefined];
    if (item.size === 3 && fileTags.has(tag)) {
      const contents = item.elements[2]!;
      if (contents instanceof Uint8Array || isTagged(contents, error, 2)) return [tag, item.elements[1]!, contents];
    }
  }
  fail(reason.eoptions, "not an option");
}

function activeOf(a: Term): Active {
  if (a === true_) return true;
  if (a === false_) return false;
  if (a === atom("once")) return "once";
  return a as number;
}

/** The term `getopts/2` gives for an active state. */
export function activeTerm(a: Active): Term {
  return typeof a === "boolean" ? bool(a) : a === "once" ? atom("once") : a;
}
