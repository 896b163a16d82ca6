/**
 * Decoders for the Erlang arguments of ssl calls: strings, addresses, ports, timeouts, iodata.
 * Each returns `undefined` for a term of the wrong shape; the caller chooses the reason.
 */
import { isIP } from "node:net";
import {
  Atom,
  atom,
  Charlist,
  ImproperList,
  Tuple,
  tuple,
  type Term,
} from "../etf/terms.js";

/** `string()` of the manual (a list of bytes) as latin1 text; a binary is taken too, as UTF-8. */
export function text(t: Term): string | undefined {
  if (t instanceof Uint8Array) return Buffer.from(t.buffer, t.byteOffset, t.byteLength).toString("utf8");
  if (t instanceof Charlist) return t.toString();
  if (!Array.isArray(t)) return undefined;
  let s = "";
  for (const c of t) {
    if (typeof c !== "number" || !Number.isInteger(c) || c < 0 || c > 255) return undefined;
    s += String.fromCharCode(c);
  }
  return s;
}

function intIn(t: Term | undefined, min: number, max: number): t is number {
  return typeof t === "number" && Number.isInteger(t) && t >= min && t <= max;
}

/** A non-negative integer up to `max`. */
export function natural(t: Term | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  return intIn(t, 0, max) ? t : undefined;
}

export function port(t: Term | undefined): number | undefined {
  return natural(t, 65535);
}

/** `ipaddress()`: a 4-tuple (or an 8-tuple for IPv6) or an IP string; the address as text. */
export function ipAddress(t: Term): string | undefined {
  if (t instanceof Tuple) {
    if (t.size === 4 && t.elements.every((e) => intIn(e, 0, 255))) return t.elements.join(".");
    if (t.size === 8 && t.elements.every((e) => intIn(e, 0, 65535))) {
      return t.elements.map((e) => (e as number).toString(16)).join(":");
    }
    return undefined;
  }
  const s = text(t);
  return s !== undefined && isIP(s) !== 0 ? s : undefined;
}

/** `address()` of `connect/3,4`: a host name (string or atom) or an IP address. */
export function host(t: Term): string | undefined {
  if (t instanceof Atom) return t.name;
  const ip = ipAddress(t);
  if (ip !== undefined) return ip;
  const s = text(t);
  return s !== undefined && s.length > 0 ? s : undefined;
}

/** The tuple inet gives for an address: IPv4 (also when mapped into IPv6) as 4, IPv6 as 8. */
export function ipTuple(address: string): Tuple {
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(address);
  if (v4 !== null) return tuple(...v4.slice(1, 5).map(Number));
  const [head, tail] = address.split("::") as [string, string | undefined];
  const words = (s: string | undefined) => (s === undefined || s === "" ? [] : s.split(":").map((w) => parseInt(w, 16)));
  const front = words(head);
  const back = words(tail);
  const zeros = tail === undefined ? [] : new Array<number>(8 - front.length - back.length).fill(0);
  return tuple(...front, ...zeros, ...back);
}

export type Timeout = number | "infinity";

/** `Timeout` of the API: milliseconds (an integer >= 0) or `infinity`. */
export function timeout(t: Term | undefined): Timeout | undefined {
  if (t === atom("infinity")) return "infinity";
  return natural(t, 2 ** 32 - 1);
}

/** `iodata()`: a binary, or a possibly deep list of bytes and binaries with a binary tail. */
export function iodata(t: Term): Buffer | undefined {
  if (t instanceof Uint8Array) return Buffer.from(t.buffer, t.byteOffset, t.byteLength);
  if (!Array.isArray(t) && !(t instanceof Charlist) && !(t instanceof ImproperList)) return undefined;
  const parts: Uint8Array[] = [];
  // An explicit stack: a deep iolist from the network must not exhaust the JS stack.
  const stack: Term[] = [t];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x instanceof Uint8Array) parts.push(x);
    else if (x instanceof Charlist) parts.push(x.bytes);
    else if (typeof x === "number") {
      if (!intIn(x, 0, 255)) return undefined;
      parts.push(Uint8Array.of(x));
    } else if (Array.isArray(x)) {
      for (let i = x.length - 1; i >= 0; i--) stack.push(x[i]!);
    } else if (x instanceof ImproperList) {
      if (!(x.tail instanceof Uint8Array)) return undefined;
      stack.push(x.tail);
      for (let i = x.elements.length - 1; i >= 0; i--) stack.push(x.elements[i]!);
    } else return undefined;
  }
  return Buffer.concat(parts);
}
