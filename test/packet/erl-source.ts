/**
 * Terms written as Erlang source, so that a real node can compare them with its own results by
 * pattern matching (`=:=`), whatever the TypeScript side thinks equality is. Binaries and
 * charlists are written as string literals, which `erl_scan` reads several times faster than
 * lists of integers.
 */
import { Atom, Charlist, ImproperList, Tuple, type Term } from "../../etf/terms.js";

export function erlSource(t: Term): string {
  if (typeof t === "number") {
    if (!Number.isInteger(t)) throw new Error(`not an integer: ${t}`);
    return String(t);
  }
  if (typeof t === "bigint") return t.toString();
  if (t instanceof Atom) return quoteAtom(t.name);
  if (t instanceof Uint8Array) return `<<${quoteBytes(t)}>>`;
  if (t instanceof Charlist) return quoteBytes(t.bytes);
  if (Array.isArray(t)) return `[${t.map(erlSource).join(",")}]`;
  if (t instanceof ImproperList) return `[${t.elements.map(erlSource).join(",")}|${erlSource(t.tail)}]`;
  if (t instanceof Tuple) return `{${t.elements.map(erlSource).join(",")}}`;
  throw new Error(`no source form for ${String(t)}`);
}

function quoteAtom(name: string): string {
  return `'${name.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** A string literal with exactly these bytes (latin1). */
export function quoteBytes(bytes: Uint8Array): string {
  let out = '"';
  for (const c of bytes) {
    if (c === 34 || c === 92) out += `\\${String.fromCharCode(c)}`;
    else if (c >= 32 && c < 127) out += String.fromCharCode(c);
    else out += `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return `${out}"`;
}
