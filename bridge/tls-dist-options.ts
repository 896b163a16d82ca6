/**
 * TLS distribution's configuration as OTP takes it: the `-ssl_dist_optfile` file
 * (`[{server, Opts}, {client, Opts}].`, Erlang term text) and the `-ssl_dist_opt server_* /
 * client_*` pairs, read into node:tls options. Every `ssl` option node:tls can honour is mapped;
 * any other is refused by name, so that a security option is never silently dropped.
 */
import { readFileSync } from "node:fs";
import type { SecureContextOptions } from "node:tls";
import { TermTextError, consult, where, type TermText } from "./term-text.js";

export class TlsDistConfigError extends Error {}

export type Side = "server" | "client";

/** One side's `ssl` options, as written (term text), before they are mapped. */
export type RawOptions = Record<Side, TermText[]>;

export interface TlsDistSide {
  /** Certificate, key, CA, password, versions, ciphers, DH parameters. */
  context: SecureContextOptions;
  /** `{verify, verify_peer}`: the peer's certificate must chain to `cacertfile`. */
  verify: boolean;
  /** Server only: a client that sends no certificate is refused (`fail_if_no_peer_cert`). */
  failIfNoPeerCert: boolean;
  /** `{depth, N}`: at most N intermediate certificates between the peer's and the trusted one. */
  depth: number | undefined;
  /**
   * Client only: the name the server's certificate must carry (`server_name_indication`); by
   * default the host part of the node name dialled, as OTP's inet_tls_dist checks it; `false`
   * (`disable`) checks no name.
   */
  serverName: string | false | undefined;
}

export type TlsDistConfig = Record<Side, TlsDistSide>;

/** Reads an `-ssl_dist_optfile` file: one term, a list of `{server, Opts}` and `{client, Opts}`. */
export function readSslDistOptfile(file: string): RawOptions {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new TlsDistConfigError(`cannot read the ssl_dist_optfile ${file}: ${(e as Error).message}`);
  }
  let terms: TermText[];
  try {
    terms = consult(text);
  } catch (e) {
    if (e instanceof TermTextError) throw new TlsDistConfigError(`${file}: ${e.message}`);
    throw e;
  }
  const bad = (term: TermText | undefined, what: string) =>
    new TlsDistConfigError(`${file}${term !== undefined ? `, ${where(term)}` : ""}: ${what}`);
  const list = terms[0];
  if (terms.length !== 1 || list?.kind !== "list") {
    throw bad(terms[1] ?? list, "the file must hold one term, a list: [{server, [Option, ...]}, {client, [Option, ...]}].");
  }
  const raw: RawOptions = { server: [], client: [] };
  const seen = new Set<string>();
  for (const entry of list.items) {
    const [side, opts] = entry.kind === "tuple" && entry.items.length === 2 ? entry.items : [];
    if (side?.kind !== "atom" || (side.value !== "server" && side.value !== "client") || opts?.kind !== "list") {
      throw bad(entry, "each element must be {server, [Option, ...]} or {client, [Option, ...]}");
    }
    if (seen.has(side.value)) throw bad(entry, `{${side.value}, ...} is given twice`);
    seen.add(side.value);
    raw[side.value] = opts.items;
  }
  return raw;
}

/** What `-ssl_dist_opt` makes of each option's text, as inet_tls_dist does. */
const DIST_OPT_KIND: Record<string, "string" | "atom" | "integer" | "ciphers" | "versions"> = {
  certfile: "string",
  keyfile: "string",
  cacertfile: "string",
  password: "string",
  dhfile: "string",
  verify: "atom",
  fail_if_no_peer_cert: "atom",
  secure_renegotiate: "atom",
  reuse_sessions: "atom",
  crl_check: "atom",
  depth: "integer",
  hibernate_after: "integer",
  ciphers: "ciphers",
  versions: "versions",
};

/**
 * `-ssl_dist_opt server_certfile F client_verify verify_peer ...` pairs (`name`, `value`) as
 * the options they stand for, by side. A name with neither prefix, or one OTP does not take
 * there, is refused.
 */
export function sslDistOptPairs(pairs: ReadonlyArray<readonly [string, string]>): RawOptions {
  const raw: RawOptions = { server: [], client: [] };
  const at = { line: 0, column: 0 };
  for (const [name, value] of pairs) {
    const m = /^(server|client)_(.+)$/.exec(name);
    const kind = m !== null ? DIST_OPT_KIND[m[2]!] : undefined;
    if (m === null || kind === undefined) {
      throw new TlsDistConfigError(`--ssl-dist-opt ${name}: not an option (server_ or client_ then one of ${Object.keys(DIST_OPT_KIND).join(", ")})`);
    }
    let term: TermText;
    if (kind === "integer") {
      if (!/^[0-9]+$/.test(value)) throw new TlsDistConfigError(`--ssl-dist-opt ${name} ${value}: not an integer`);
      term = { kind, value: Number(value), at };
    } else if (kind === "ciphers") term = { kind: "list", items: [{ kind: "string", value, at }], at };
    else if (kind === "versions") term = { kind: "list", items: [{ kind: "atom", value, at }], at };
    else term = { kind, value, at };
    raw[m[1] as Side].push({ kind: "tuple", items: [{ kind: "atom", value: m[2]!, at }, term], at });
  }
  return raw;
}

/** Both option lists put together, those of `-ssl_dist_opt` first, as OTP appends the file's. */
export function mergeRaw(a: RawOptions, b: RawOptions): RawOptions {
  return { server: [...a.server, ...b.server], client: [...a.client, ...b.client] };
}

/** The node:tls side of each list; reads the files named. Throws TlsDistConfigError. */
export function tlsDistConfig(raw: RawOptions): TlsDistConfig {
  return { server: mapSide("server", raw.server), client: mapSide("client", raw.client) };
}

const TLS_VERSIONS = { "tlsv1.2": "TLSv1.2", "tlsv1.3": "TLSv1.3" } as const;

function mapSide(side: Side, options: TermText[]): TlsDistSide {
  const out: TlsDistSide = { context: {}, verify: false, failIfNoPeerCert: false, depth: undefined, serverName: undefined };
  const fail = (term: TermText, what: string) => new TlsDistConfigError(`${side} option at ${where(term)}: ${what}`);
  const seen = new Set<string>();
  let certfile: string | undefined;
  let keyfile: string | undefined;
  for (const option of options) {
    const [key, value] = option.kind === "tuple" && option.items.length === 2 ? option.items : [];
    if (key?.kind !== "atom" || value === undefined) throw fail(option, "an option is a tuple {Name, Value}");
    const name = key.value;
    if (seen.has(name)) throw fail(option, `${name} is given twice`);
    seen.add(name);
    const wrong = (expected: string) => fail(value, `${name} must be ${expected}`);
    const text = (): string => {
      if (value.kind === "string" || value.kind === "binary") return value.value;
      if (value.kind === "list" && value.items.length === 0) return "";
      throw wrong("a string");
    };
    const bool = (): boolean => {
      if (value.kind === "atom" && (value.value === "true" || value.value === "false")) return value.value === "true";
      throw wrong("true or false");
    };
    switch (name) {
      case "certfile":
        certfile = text();
        break;
      case "keyfile":
        keyfile = text();
        break;
      case "cacertfile":
        out.context.ca = readOption(side, name, text());
        break;
      case "password":
        out.context.passphrase = text();
        break;
      case "dhfile":
        if (side !== "server") throw fail(option, "dhfile is a server option");
        out.context.dhparam = readOption(side, name, text());
        break;
      case "verify":
        if (value.kind !== "atom" || (value.value !== "verify_peer" && value.value !== "verify_none")) throw wrong("verify_peer or verify_none");
        out.verify = value.value === "verify_peer";
        break;
      case "fail_if_no_peer_cert":
        if (side !== "server") throw fail(option, "fail_if_no_peer_cert is a server option");
        out.failIfNoPeerCert = bool();
        break;
      case "depth":
        if (value.kind !== "integer" || value.value < 0) throw wrong("a non-negative integer");
        out.depth = value.value;
        break;
      case "versions": {
        if (value.kind !== "list" || value.items.length === 0) throw wrong("a list of 'tlsv1.2' and 'tlsv1.3'");
        const versions = value.items.map((v) => {
          const version = v.kind === "atom" ? TLS_VERSIONS[v.value as keyof typeof TLS_VERSIONS] : undefined;
          if (version === undefined) throw fail(v, "versions: the bridge's TLS distribution offers 'tlsv1.2' and 'tlsv1.3' only");
          return version;
        });
        out.context.minVersion = versions.includes("TLSv1.2") ? "TLSv1.2" : "TLSv1.3";
        out.context.maxVersion = versions.includes("TLSv1.3") ? "TLSv1.3" : "TLSv1.2";
        break;
      }
      case "ciphers": {
        const names = value.kind === "list" && value.items.length > 0 ? value.items : value.kind === "string" ? [value] : [];
        if (names.length === 0 || names.some((c) => c.kind !== "string")) throw wrong("a list of cipher names (strings) in OpenSSL's spelling");
        out.context.ciphers = names.map((c) => (c as { value: string }).value).join(":");
        break;
      }
      case "honor_cipher_order":
        if (side !== "server") throw fail(option, "honor_cipher_order is a server option");
        out.context.honorCipherOrder = bool();
        break;
      case "secure_renegotiate":
        // OpenSSL, under node:tls, renegotiates securely or not at all.
        if (!bool()) throw fail(option, "{secure_renegotiate, false}: node:tls only renegotiates securely");
        break;
      case "server_name_indication":
        if (side !== "client") throw fail(option, "server_name_indication is a client option");
        out.serverName = value.kind === "atom" && value.value === "disable" ? false : text();
        break;
      case "reuse_sessions":
      case "hibernate_after":
        // Performance only (session resumption, an Erlang process's memory): nothing to honour.
        if (name === "reuse_sessions") bool();
        else if (value.kind !== "integer") throw wrong("an integer");
        break;
      default:
        throw fail(option, `${name}: not an option the bridge's TLS distribution can honour (it takes certfile, keyfile, cacertfile, password, verify, fail_if_no_peer_cert, depth, versions, ciphers, honor_cipher_order, dhfile, secure_renegotiate, server_name_indication, reuse_sessions, hibernate_after)`);
    }
  }
  if (certfile !== undefined) {
    const cert = readOption(side, "certfile", certfile);
    out.context.cert = cert;
    // As in OTP, without keyfile the key is looked for in certfile.
    out.context.key = keyfile !== undefined ? readOption(side, "keyfile", keyfile) : cert;
  } else if (keyfile !== undefined) {
    throw new TlsDistConfigError(`${side}: keyfile without certfile`);
  }
  if (side === "server" && certfile === undefined) {
    throw new TlsDistConfigError("server: certfile is required (the certificate this node shows the nodes that connect to it)");
  }
  if (out.verify && out.context.ca === undefined) {
    throw new TlsDistConfigError(`${side}: {verify, verify_peer} needs cacertfile (the certificates to trust)`);
  }
  if (out.failIfNoPeerCert && !out.verify) {
    throw new TlsDistConfigError("server: {fail_if_no_peer_cert, true} needs {verify, verify_peer}");
  }
  return out;
}

function readOption(side: Side, name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new TlsDistConfigError(`${side} ${name} ${file}: ${(e as Error).message}`);
  }
}
