/**
 * Erlang term text, as `file:consult/1` reads it, for the subset configuration files use: atoms
 * (bare or quoted), integers, strings, binaries of one string (`<<"...">>`), tuples and proper
 * lists, `%` comments, each term ended by a dot. Anything else (variables, floats, funs, maps,
 * `|` tails, expressions) is refused with the line and column where it starts: a file the bridge
 * reads for security options must not be half understood.
 */

export interface Position {
  line: number;
  column: number;
}

export type TermText =
  | { kind: "atom"; value: string; at: Position }
  | { kind: "integer"; value: number; at: Position }
  | { kind: "string"; value: string; at: Position }
  | { kind: "binary"; value: string; at: Position }
  | { kind: "tuple"; items: TermText[]; at: Position }
  | { kind: "list"; items: TermText[]; at: Position };

export class TermTextError extends Error {
  constructor(
    readonly at: Position,
    readonly what: string,
  ) {
    super(`line ${at.line}, column ${at.column}: ${what}`);
  }
}

/** Where `term` is, for messages: `line L, column C`. */
export function where(term: TermText): string {
  return `line ${term.at.line}, column ${term.at.column}`;
}

/** The terms of `text`, each ended by a dot, as `file:consult/1` returns them. */
export function consult(text: string): TermText[] {
  const p = new Parser(text);
  const terms: TermText[] = [];
  for (p.skipBlank(); !p.atEnd(); p.skipBlank()) {
    terms.push(p.term());
    p.skipBlank();
    p.expect(".", "a dot ending the term");
    if (!p.atEnd() && !/\s|%/.test(p.peek())) throw p.error("a dot ending a term must be followed by white space");
  }
  return terms;
}

/** Erlang's escapes in quoted atoms and strings (`\x{...}`, `\^X` and octal are not in the subset). */
const ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  s: " ",
  e: "\x1b",
  b: "\b",
  f: "\f",
  v: "\v",
  d: "\x7f",
  "\\": "\\",
  '"': '"',
  "'": "'",
};

class Parser {
  #at = 0;
  #line = 1;
  #lineStart = 0;

  constructor(readonly text: string) {}

  atEnd(): boolean {
    return this.#at >= this.text.length;
  }

  peek(): string {
    return this.text[this.#at] ?? "";
  }

  position(): Position {
    return { line: this.#line, column: this.#at - this.#lineStart + 1 };
  }

  error(what: string, at: Position = this.position()): TermTextError {
    return new TermTextError(at, what);
  }

  #advance(): string {
    const c = this.text[this.#at++]!;
    if (c === "\n") {
      this.#line++;
      this.#lineStart = this.#at;
    }
    return c;
  }

  skipBlank(): void {
    while (!this.atEnd()) {
      const c = this.peek();
      if (c === "%") {
        while (!this.atEnd() && this.peek() !== "\n") this.#advance();
      } else if (/\s/.test(c)) this.#advance();
      else return;
    }
  }

  expect(token: string, what: string): void {
    if (!this.text.startsWith(token, this.#at)) {
      throw this.error(`expected ${what}, found ${this.atEnd() ? "the end of the file" : JSON.stringify(this.peek())}`);
    }
    for (let i = 0; i < token.length; i++) this.#advance();
  }

  term(): TermText {
    this.skipBlank();
    const at = this.position();
    const c = this.peek();
    if (c === "{") return { kind: "tuple", items: this.#sequence("{", "}"), at };
    if (c === "[") return { kind: "list", items: this.#sequence("[", "]"), at };
    if (c === '"') return { kind: "string", value: this.#quoted('"'), at };
    if (c === "'") return { kind: "atom", value: this.#quoted("'"), at };
    if (this.text.startsWith("<<", this.#at)) return { kind: "binary", value: this.#binary(), at };
    if (/[a-z]/.test(c)) return { kind: "atom", value: this.#word(), at };
    if (/[-+0-9]/.test(c)) return { kind: "integer", value: this.#integer(), at };
    if (/[A-Z_]/.test(c)) throw this.error(`a variable (${this.#word()}) is not a term`, at);
    if (this.atEnd()) throw this.error("the file ends where a term should be");
    throw this.error(`unexpected ${JSON.stringify(c)}`);
  }

  #sequence(open: string, close: string): TermText[] {
    this.expect(open, open);
    const items: TermText[] = [];
    this.skipBlank();
    if (this.peek() === close) {
      this.#advance();
      return items;
    }
    for (;;) {
      items.push(this.term());
      this.skipBlank();
      const c = this.peek();
      if (c === ",") this.#advance();
      else if (c === close) {
        this.#advance();
        return items;
      } else if (c === "|" && open === "[") throw this.error("improper lists (a `|` tail) are not in the subset this file may use");
      else throw this.error(`expected "," or "${close}", found ${this.atEnd() ? "the end of the file" : JSON.stringify(c)}`);
    }
  }

  #word(): string {
    const start = this.#at;
    while (/[A-Za-z0-9_@]/.test(this.peek())) this.#advance();
    return this.text.slice(start, this.#at);
  }

  #integer(): number {
    const at = this.position();
    const start = this.#at;
    if (this.peek() === "-" || this.peek() === "+") this.#advance();
    while (/[0-9_]/.test(this.peek())) this.#advance();
    if (this.peek() === "." && /[0-9]/.test(this.text[this.#at + 1] ?? "")) throw this.error("floats are not in the subset this file may use", at);
    if (this.peek() === "#") throw this.error("based integers (B#digits) are not in the subset this file may use", at);
    const digits = this.text.slice(start, this.#at).replace(/_/g, "");
    const value = Number(digits);
    if (!/^[-+]?[0-9]+$/.test(digits) || !Number.isSafeInteger(value)) throw this.error(`${JSON.stringify(digits)} is not an integer this file may use`, at);
    return value;
  }

  #quoted(quote: string): string {
    const at = this.position();
    this.#advance();
    let out = "";
    for (;;) {
      if (this.atEnd()) throw this.error(`the ${quote === '"' ? "string" : "quoted atom"} opened here is never closed`, at);
      const c = this.#advance();
      if (c === quote) return out;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.atEnd() ? "" : this.#advance();
      const escaped = ESCAPES[e];
      if (escaped === undefined) throw this.error(`the escape \\${e} is not in the subset this file may use`);
      out += escaped;
    }
  }

  #binary(): string {
    this.expect("<<", "<<");
    this.skipBlank();
    if (this.text.startsWith(">>", this.#at)) {
      this.expect(">>", ">>");
      return "";
    }
    if (this.peek() !== '"') throw this.error('a binary here may hold one string only: <<"...">>');
    const value = this.#quoted('"');
    this.skipBlank();
    this.expect(">>", '">>" closing the binary');
    return value;
  }
}
