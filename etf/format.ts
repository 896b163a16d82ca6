/**
 * Terms as Erlang prints them, for logs and error messages.
 *
 *   formatTerm(t, { mode?: "p" | "w", maxLength? }): string
 *     "p" (default) is `io_lib:format("~p")` on one line: printable lists as strings, printable
 *     binaries as `<<"...">>`, "w" is `~w`: lists and binaries as numbers. Atoms,
 *     floats and bitstrings are written as Erlang writes them (quoted when they must be; the
 *     shorter of `0.001` and `1.0e-3`). Pids, references and ports carry their node's name
 *     (`<a@host.85.0>`) where Erlang would print a node index. The result is at most `maxLength`
 *     characters (default 2000), ending in "..." when cut; long terms are not walked past that.
 */
import { sortedEntries } from "./order.js";
import { Limit } from "./tags.js";
import {
  Atom,
  BitBinary,
  Charlist,
  ErlMap,
  ExportFun,
  Float,
  Fun,
  ImproperList,
  Pid,
  Port,
  Ref,
  Tuple,
  type Term,
} from "./terms.js";

export interface FormatOptions {
  mode?: "p" | "w";
  maxLength?: number;
}

const RESERVED = new Set(
  "after and andalso band begin bnot bor bsl bsr bxor case catch cond div end fun if let not of or orelse receive rem try when xor".split(
    " ",
  ),
);

/** A string to write as is, as opposed to a term still to format. */
class Text {
  constructor(readonly s: string) {}
}

export function formatTerm(t: Term, options?: FormatOptions): string {
  const max = options?.maxLength ?? 2000;
  const p = (options?.mode ?? "p") === "p";
  let out = "";
  const stack: Array<Term | Text> = [t];
  const sep = new Text(",");
  while (stack.length > 0 && out.length <= max) {
    const x = stack.pop()!;
    if (x instanceof Text) {
      out += x.s;
      continue;
    }
    if (typeof x === "number" || typeof x === "bigint") out += x.toString();
    else if (x instanceof Atom) out += formatAtom(x.name);
    else if (x instanceof Float) out += formatFloat(x.value);
    else if (x instanceof Uint8Array) out += formatBinary(x, p, max);
    else if (x instanceof BitBinary) out += formatBitBinary(x, max);
    else if (x instanceof Charlist) {
      if (x.bytes.length === 0) out += "[]";
      else if (p && printable(x.bytes)) out += quoteString(x.toString(), '"', max);
      else pushSeq(stack, "[", x.bytes, undefined, "]", sep, max);
    } else if (Array.isArray(x)) {
      if (x.length === 0) out += "[]";
      // Printable elements are all below 256: one latin1 character each.
      else if (p && x.length <= max && isPrintableList(x)) out += quoteString(Buffer.from(x as number[]).toString("latin1"), '"', max);
      else pushSeq(stack, "[", x, undefined, "]", sep, max);
    } else if (x instanceof ImproperList) pushSeq(stack, "[", x.elements, x.tail, "]", sep, max);
    else if (x instanceof Tuple) pushSeq(stack, "{", x.elements, undefined, "}", sep, max);
    else if (x instanceof ErlMap) {
      const entries = x.size <= Limit.FLATMAP_KEYS ? sortedEntries(x) : x.entries();
      stack.push(new Text("}"));
      const arrow = new Text(" => ");
      for (let i = entries.length - 1; i >= 0; i--) {
        stack.push(entries[i]![1], arrow, entries[i]![0]);
        if (i > 0) stack.push(sep);
      }
      stack.push(new Text("#{"));
    } else if (x instanceof Pid || x instanceof Ref || x instanceof Port) out += x.toString();
    else if (x instanceof ExportFun) out += `fun ${funAtom(x.module.name)}:${funAtom(x.function_.name)}/${x.arity}`;
    else if (x instanceof Fun) out += `#Fun<${formatAtom(x.module.name)}.${String(x.oldIndex)}.${String(x.oldUniq)}>`;
    else out += `<not a term: ${typeof x}>`;
  }
  return out.length > max || stack.length > 0 ? out.slice(0, Math.max(0, max - 3)) + "..." : out;
}

/** `open`, the items separated by commas, then `|` and the tail unless it is none or [], `close`. */
function pushSeq(stack: Array<Term | Text>, open: string, items: ArrayLike<Term>, tail: Term | undefined, close: string, sep: Text, max: number): void {
  stack.push(new Text(close));
  if (tail !== undefined && !(Array.isArray(tail) && tail.length === 0)) stack.push(tail, new Text("|"));
  // Items past `max` could never be shown (each takes a character and a comma): not queued.
  const n = Math.min(items.length, max);
  for (let i = n - 1; i >= 0; i--) {
    stack.push(items[i]!);
    if (i > 0) stack.push(sep);
  }
  stack.push(new Text(open));
}

/** io_lib's printable latin1 characters: what `~p` shows a list or binary of as text. */
function printableChar(c: number): boolean {
  return (c >= 32 && c <= 126) || (c >= 160 && c <= 255) || (c >= 8 && c <= 13) || c === 27;
}

function printable(bytes: Uint8Array): boolean {
  for (const c of bytes) if (!printableChar(c)) return false;
  return true;
}

function isPrintableList(xs: readonly Term[]): boolean {
  for (const x of xs) if (typeof x !== "number" || !printableChar(x)) return false;
  return true;
}

const ESCAPES: Record<number, string> = { 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 27: "\\e", 127: "\\d" };

function quoteString(s: string, q: string, max: number): string {
  let out = q;
  for (const ch of s) {
    if (out.length > max) break;
    const c = ch.codePointAt(0)!;
    if (ch === q || ch === "\\") out += "\\" + ch;
    else if (ESCAPES[c] !== undefined) out += ESCAPES[c];
    else if (c < 32 || (c >= 128 && c < 160)) out += "\\" + c.toString(8).padStart(3, "0");
    else if (c > 255) out += `\\x{${c.toString(16).toUpperCase()}}`;
    else out += ch;
  }
  return out + q;
}

/** Unquoted when it reads as an atom: a lowercase latin1 letter, then letters, digits, _ and @. */
function formatAtom(name: string): string {
  if (/^[a-z\u00df-\u00f6\u00f8-\u00ff][a-zA-Z0-9_@\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff]*$/.test(name) && !RESERVED.has(name)) return name;
  return quoteString(name, "'", Infinity);
}

/**
 * Atoms in `fun M:F/A`, which the emulator prints itself: unquoted only when plain ASCII
 * (no `@`, no latin1 letters), quoted with control characters escaped and the rest as is.
 * (The emulator writes the UTF-8 bytes of other characters one by one; we write characters.)
 */
function funAtom(name: string): string {
  if (/^[a-z][a-zA-Z0-9_]*$/.test(name)) return name;
  let out = "'";
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (ch === "'" || ch === "\\") out += "\\" + ch;
    else if (c < 32) out += ESCAPES[c] ?? "\\" + c.toString(8).padStart(3, "0");
    else if (c >= 128 && c < 160) out += "\\" + c.toString(8);
    else out += ch;
  }
  return out + "'";
}

/**
 * `float_to_list(F, [short])`, which ~p and ~w use: the shortest digits that read back as the
 * same float, in plain or exponent notation, whichever is shorter (plain on a tie), and always
 * in exponent notation from 2^53 on.
 */
function formatFloat(v: number): string {
  if (v === 0) return Object.is(v, -0) ? "-0.0" : "0.0";
  const sign = v < 0 ? "-" : "";
  const [mantissa, exp] = Math.abs(v).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const e = Number(exp);
  const scientific = `${digits[0]}.${digits.length > 1 ? digits.slice(1) : "0"}e${e}`;
  let plain: string;
  if (e < 0) plain = `0.${"0".repeat(-e - 1)}${digits}`;
  else if (digits.length <= e + 1) plain = `${digits}${"0".repeat(e + 1 - digits.length)}.0`;
  else plain = `${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
  // Past 2^53 plain notation would suggest integer precision the float does not have.
  if (Math.abs(v) >= 2 ** 53) return sign + scientific;
  return sign + (plain.length <= scientific.length ? plain : scientific);
}

function formatBinary(b: Uint8Array, p: boolean, max: number): string {
  if (b.length === 0) return "<<>>";
  const shown = b.subarray(0, max);
  if (p && printable(shown)) return `<<${quoteString(Buffer.from(shown).toString("latin1"), '"', max)}>>`;
  return `<<${Array.from(shown.subarray(0, Math.ceil(max / 2))).join(",")}>>`;
}

function formatBitBinary(b: BitBinary, max: number): string {
  const whole = b.bytes.subarray(0, b.bytes.length - 1);
  const last = b.bytes[b.bytes.length - 1]! >> (8 - b.bits);
  const head = Array.from(whole.subarray(0, Math.ceil(max / 2)));
  return `<<${[...head, `${last}:${b.bits}`].join(",")}>>`;
}
