/**
 * The names inet's http packet parser knows (erlang:decode_packet/3, "HttpField" and
 * "HttpMethod"; OTP 25.2.3). A known header field comes as an atom with its bit number, its
 * 1-based place in this table; an unknown one as a string with bit 0. The order is part of the
 * interface: test/packet checks every row against a real node.
 */
import { atom, type Atom } from "../../etf/terms.js";

const fieldNames = [
  "Cache-Control",
  "Connection",
  "Date",
  "Pragma",
  "Transfer-Encoding",
  "Upgrade",
  "Via",
  "Accept",
  "Accept-Charset",
  "Accept-Encoding",
  "Accept-Language",
  "Authorization",
  "From",
  "Host",
  "If-Modified-Since",
  "If-Match",
  "If-None-Match",
  "If-Range",
  "If-Unmodified-Since",
  "Max-Forwards",
  "Proxy-Authorization",
  "Range",
  "Referer",
  "User-Agent",
  "Age",
  "Location",
  "Proxy-Authenticate",
  "Public",
  "Retry-After",
  "Server",
  "Vary",
  "Warning",
  "Www-Authenticate",
  "Allow",
  "Content-Base",
  "Content-Encoding",
  "Content-Language",
  "Content-Length",
  "Content-Location",
  "Content-Md5",
  "Content-Range",
  "Content-Type",
  "Etag",
  "Expires",
  "Last-Modified",
  "Accept-Ranges",
  "Set-Cookie",
  "Set-Cookie2",
  "X-Forwarded-For",
  "Cookie",
  "Keep-Alive",
  "Proxy-Connection",
] as const;

export interface KnownField {
  readonly bit: number;
  readonly atom: Atom;
}

/** Known fields by their name as the parser normalises it ("Content-Length", "Www-Authenticate"). */
export const knownFields: ReadonlyMap<string, KnownField> = new Map(
  fieldNames.map((name, i) => [name, { bit: i + 1, atom: atom(name) }]),
);

/** Every known field name, in bit order. */
export const knownFieldNames: readonly string[] = fieldNames;

/** Methods that come as atoms; any other token comes as a string. Compared case-sensitively. */
const methodNames = ["OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE"];
export const knownMethods: ReadonlyMap<string, Atom> = new Map(methodNames.map((m) => [m, atom(m)]));
export const MAX_METHOD_LENGTH = Math.max(...methodNames.map((m) => m.length));

/**
 * A header name longer than this is delivered as it came, without case normalisation and never
 * as a known field (inet's HTTP_MAX_NAME_LEN).
 */
export const MAX_NAME_LENGTH = 50;
