/**
 * `{packet, http | httph | http_bin | httph_bin}`: HTTP/1.x message heads, one line per packet,
 * parsed into the terms of erlang:decode_packet/3 (OTP 25.2.3):
 *   {http_request, Method, Uri, {Major, Minor}}, {http_response, {Major, Minor}, Status, Reason},
 *   {http_header, Bit, Field, UnmodifiedField, Value}, http_eoh, {http_error, Line}.
 * Strings are charlists for `http`/`httph`, binaries for the `_bin` types.
 *
 * The parser has a state: before the start line, or among the headers. `httph*` always parses
 * headers. A start line moves to the headers and `http_eoh` back to the start, so a gen_tcp
 * socket with `{packet, http}` reads request after request (the "switch to httph" inet(3)
 * describes is this state, not a change of the packet option: getopts still says `http`).
 * A line that does not parse is `{http_error, Line}`, the whole line with its end, and leaves the
 * state as it was. A line longer than `packet_size` (or, without one, the truncation length) is
 * invalid: gen_tcp fails with emsgsize.
 *
 * Numbers are C `int`s in inet and wrap at 32 bits; we wrap them the same way.
 * Nothing is sent differently: on send, http data goes out as is.
 */
import { Charlist, atom, tuple, undefined_, type Term } from "../../etf/terms.js";
import { MAX_METHOD_LENGTH, MAX_NAME_LENGTH, knownFields, knownMethods } from "./http-fields.js";
import { invalid, needMore, type Framed, type ParseOptions } from "./types.js";

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;
const DOT = 46;
const SLASH = 47;
const STAR = 42;

const http_request = atom("http_request");
const http_response = atom("http_response");
const http_header = atom("http_header");
const http_eoh = atom("http_eoh");
const http_error = atom("http_error");
const abs_path = atom("abs_path");
const absoluteURI = atom("absoluteURI");
const scheme = atom("scheme");
const star = atom("*");
const http = atom("http");
const https = atom("https");

/** inet's separators (RFC 2616, 2.2): not part of a method or a header name. */
const SEPARATORS = '()<>@,;:\\"/[]?={} \t';
/**
 * Bytes of a token. 127 counts as one: inet's table leaves DEL unmarked, and we follow inet, not
 * the RFC.
 */
const tokenBytes: readonly boolean[] = Array.from({ length: 256 }, (_, c) => c > 32 && c < 128 && !SEPARATORS.includes(String.fromCharCode(c)));

function isToken(c: number): boolean {
  return tokenBytes[c]!;
}

function isSpace(c: number | undefined): boolean {
  return c === SP || c === HTAB;
}

function isNotSpace(c: number): boolean {
  return !isSpace(c);
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 48 && c <= 57;
}

/**
 * The http packet at the front of `bytes`. `inHeaders` is the state (forced on for `httph*` by the
 * caller); `binary` makes strings binaries. The state only changes with a whole packet.
 */
export function parseHttp(bytes: Uint8Array, options: ParseOptions, inHeaders: boolean, binary: boolean): Framed {
  const size = lineSize(bytes, options.packetSize || options.lineLength || 0, inHeaders);
  if (typeof size !== "number") return size;
  const line = bytes.subarray(0, size);
  const strings = binary ? binaryStrings : listStrings;
  const parsed = inHeaders ? parseHeader(line, strings) : parseStartLine(line, strings);
  if (parsed === undefined) return { kind: "http", size, packet: tuple(http_error, strings(line)), inHeaders };
  return { kind: "http", size, packet: parsed, inHeaders: parsed !== http_eoh };
}

/**
 * How long the line at the front is: up to and including LF. Among the headers a line is not
 * whole until the next byte is seen, since a line starting with a space or tab continues it
 * (RFC 2616, 4.2); an empty line needs no look-ahead.
 */
function lineSize(bytes: Uint8Array, maxSize: number, inHeaders: boolean): number | Framed {
  const n = bytes.length;
  if ((n === 1 && bytes[0] === LF) || (n === 2 && bytes[0] === CR && bytes[1] === LF)) return n;
  let from = 0;
  for (;;) {
    const lf = bytes.indexOf(LF, from);
    if (lf < 0) return maxSize !== 0 && n >= maxSize ? invalid : needMore;
    const size = lf + 1;
    if (maxSize !== 0 && size > maxSize) return invalid;
    if (!inHeaders) return size;
    if (size === n) return needMore;
    if (size > 2 && isSpace(bytes[size])) {
      from = size;
      continue;
    }
    return size;
  }
}

type Strings = (bytes: Uint8Array) => Term;
const listStrings: Strings = (bytes) => new Charlist(bytes);
const binaryStrings: Strings = (bytes) => bytes;

/** A cursor over one line without its end (CRLF, or a bare LF). */
class Line {
  at = 0;
  readonly end: number;

  constructor(readonly bytes: Uint8Array) {
    const n = bytes.length;
    this.end = n >= 2 && bytes[n - 2] === CR ? n - 2 : n >= 1 && bytes[n - 1] === LF ? n - 1 : n;
  }

  get done(): boolean {
    return this.at >= this.end;
  }

  peek(): number | undefined {
    return this.done ? undefined : this.bytes[this.at];
  }

  /** Skips bytes while `test` holds; returns how many. */
  skip(test: (c: number) => boolean): number {
    const start = this.at;
    while (!this.done && test(this.bytes[this.at]!)) this.at++;
    return this.at - start;
  }

  startsWith(text: string): boolean {
    if (this.end - this.at < text.length) return false;
    for (let i = 0; i < text.length; i++) if (this.bytes[this.at + i] !== text.charCodeAt(i)) return false;
    return true;
  }

  rest(): Uint8Array {
    return this.bytes.subarray(this.at, this.end);
  }
}

/** `HTTP/Major.Minor`, the cursor after `HTTP/`. */
function version(line: Line): Term | undefined {
  const major = digits(line);
  if (major === undefined || line.peek() !== DOT) return undefined;
  line.at++;
  const minor = digits(line);
  if (minor === undefined) return undefined;
  return tuple(major, minor);
}

function digits(line: Line): number | undefined {
  const [value, end] = decimal(line.bytes, line.at, line.end);
  if (end === line.at) return undefined;
  line.at = end;
  return value;
}

/** The decimal number at `at` as a C int (wrapping at 32 bits, as in inet) and where it ends. */
function decimal(bytes: Uint8Array, at: number, end: number): [number, number] {
  let value = 0;
  while (at < end && isDigit(bytes[at])) value = (Math.imul(value, 10) + (bytes[at++]! - 48)) | 0;
  return [value, at];
}

/** Request-Line or Status-Line (RFC 2616, 5.1 and 6.1); undefined when it does not parse. */
function parseStartLine(bytes: Uint8Array, strings: Strings): Term | undefined {
  const line = new Line(bytes);
  if (line.startsWith("HTTP/")) {
    line.at += 5;
    const v = version(line);
    if (v === undefined || line.skip(isSpace) === 0) return undefined;
    const status = digits(line) ?? 0;
    if (line.skip(isSpace) === 0 && !line.done) return undefined;
    // The reason phrase may be empty.
    return tuple(http_response, v, status, strings(line.rest()));
  }
  const methodLength = line.skip(isToken);
  if (line.done || methodLength === 0 || !isSpace(line.peek())) return undefined;
  const methodBytes = bytes.subarray(0, methodLength);
  const method = (methodLength <= MAX_METHOD_LENGTH ? knownMethods.get(latin1(methodBytes)) : undefined) ?? strings(methodBytes);
  line.skip(isSpace);
  const uriStart = line.at;
  if (line.skip(isNotSpace) === 0) return undefined;
  const uri = parseUri(bytes.subarray(uriStart, line.at), strings);
  line.skip(isSpace);
  // HTTP/0.9: no version.
  if (line.done) return tuple(http_request, method, uri, tuple(0, 9));
  // inet wants at least "HTTP/d.d" and ignores anything after the minor version.
  if (line.end - line.at < 8 || !line.startsWith("HTTP/")) return undefined;
  line.at += 5;
  const v = version(line);
  if (v === undefined) return undefined;
  return tuple(http_request, method, uri, v);
}

/**
 * Request-URI (RFC 2616, 5.1.2) as decode_packet gives it: `'*'`, `{abs_path, Path}`,
 * `{absoluteURI, http | https, Host, Port | undefined, Path}`, `{scheme, Scheme, Rest}`, or the
 * string itself.
 */
function parseUri(uri: Uint8Array, strings: Strings): Term {
  if (uri.length === 1 && uri[0] === STAR) return star;
  if (uri.length <= 1 || uri[0] === SLASH) return tuple(abs_path, strings(uri));
  if (startsWithCaseless(uri, "http://")) return absoluteUri(http, uri.subarray(7), strings);
  if (startsWithCaseless(uri, "https://")) return absoluteUri(https, uri.subarray(8), strings);
  const colon = uri.indexOf(COLON);
  if (colon < 0) return strings(uri);
  return tuple(scheme, strings(uri.subarray(0, colon)), strings(uri.subarray(colon + 1)));
}

/**
 * `host[:port][path]` after the scheme. The host ends at the first colon (OTP 25 knows no
 * bracketed IPv6 literals); the port counts only when digits run to the end and are not 0.
 */
function absoluteUri(kind: Term, rest: Uint8Array, strings: Strings): Term {
  const slash = rest.indexOf(SLASH);
  const authority = slash < 0 ? rest : rest.subarray(0, slash);
  const path = slash < 0 ? rootPath : rest.subarray(slash);
  const colon = authority.indexOf(COLON);
  if (colon < 0) return tuple(absoluteURI, kind, strings(authority), undefined_, strings(path));
  const [port, end] = decimal(authority, colon + 1, authority.length);
  const portTerm = end === authority.length && port !== 0 ? port : undefined_;
  return tuple(absoluteURI, kind, strings(authority.subarray(0, colon)), portTerm, strings(path));
}

const rootPath = Uint8Array.of(SLASH);

function startsWithCaseless(bytes: Uint8Array, prefix: string): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (lowerCase(bytes[i]!) !== prefix.charCodeAt(i)) return false;
  return true;
}

/**
 * message-header (RFC 2616, 4.2), or the empty line that ends the head. The field name is
 * normalised as inet does (a capital at the start and after each `-`, the rest lower case) and
 * looked up among the known fields; the value starts after the colon and any spaces and keeps
 * continuation lines as they came.
 */
function parseHeader(bytes: Uint8Array, strings: Strings): Term | undefined {
  const line = new Line(bytes);
  if (line.done) return http_eoh;
  const nameLength = line.skip(isToken);
  if (line.done || line.peek() !== COLON) return undefined;
  const original = bytes.subarray(0, nameLength);
  let bit = 0;
  let field: Term;
  if (nameLength <= MAX_NAME_LENGTH) {
    const normalised = normaliseName(original);
    const known = knownFields.get(latin1(normalised));
    if (known !== undefined) {
      bit = known.bit;
      field = known.atom;
    } else {
      field = strings(normalised);
    }
  } else {
    field = strings(original);
  }
  line.at++;
  line.skip(isSpace);
  return tuple(http_header, bit, field, strings(original), strings(line.rest()));
}

function lowerCase(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

function upperCase(c: number): number {
  return c >= 97 && c <= 122 ? c - 32 : c;
}

function normaliseName(name: Uint8Array): Uint8Array {
  const out = new Uint8Array(name.length);
  let upper = true;
  for (let i = 0; i < name.length; i++) {
    const c = name[i]!;
    if (upper) {
      out[i] = upperCase(c);
      upper = false;
    } else {
      out[i] = lowerCase(c);
      if (c === 45) upper = true;
    }
  }
  return out;
}

/** Short names only (methods, field names of at most MAX_NAME_LENGTH bytes). */
function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}
