/**
 * Golden bytes: every tag, both ways, against a real `erl`. Each case is an Erlang expression and
 * the term we say it is: the node's `term_to_binary(Value, [{minor_version, 2}])` must decode to
 * our term, and our encoding of the term must be exactly those bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Epmd, ErlNode, randomCookie, stopAll } from "../support/erlang.js";
import {
  Atom,
  BitBinary,
  Charlist,
  ErlMap,
  EtfError,
  ExportFun,
  Float,
  Fun,
  ImproperList,
  Pid,
  Port,
  Ref,
  atom,
  charlist,
  cons,
  decode,
  decodeAt,
  encode,
  formatTerm,
  termEquals,
  tuple,
  type Term,
} from "../../etf/index.js";
import { hex } from "./helpers.js";

let node: ErlNode;

beforeAll(async () => {
  const epmd = await Epmd.start();
  node = await ErlNode.start({ epmdPort: epmd.port, cookie: randomCookie() });
});
afterAll(stopAll);

/** The node's bytes for `expr` decode to `term`, and `term` encodes to those bytes. */
async function golden(expr: string, term: Term): Promise<Buffer> {
  const { etf } = await node.eval(expr);
  const decoded = decode(etf);
  expect(termEquals(decoded, term), `${expr}: decoded ${formatTerm(decoded)}, expected ${formatTerm(term)}`).toBe(true);
  expect(hex(encode(term)), expr).toBe(hex(etf));
  return etf;
}

/** Our bytes for `term` are the node's canonical bytes for what it decodes them to. */
async function sameAsNode(term: Term): Promise<Buffer> {
  const ours = encode(term);
  const theirs = await node.decode(ours);
  expect(hex(ours), formatTerm(term)).toBe(hex(theirs));
  expect(termEquals(decode(theirs), term)).toBe(true);
  return ours;
}

describe("integers", () => {
  const cases: Array<[string, Term, number]> = [
    ["0", 0, 97],
    ["255", 255, 97],
    ["256", 256, 98],
    ["-1", -1, 98],
    ["-2147483648", -2147483648, 98],
    ["2147483647", 2147483647, 98],
    ["2147483648", 2147483648, 110],
    ["-2147483649", -2147483649, 110],
    ["9007199254740991", Number.MAX_SAFE_INTEGER, 110],
    ["-9007199254740991", -Number.MAX_SAFE_INTEGER, 110],
    ["9007199254740992", 2n ** 53n, 110],
    ["-9007199254740992", -(2n ** 53n), 110],
    ["1 bsl 64", 2n ** 64n, 110],
    ["(1 bsl (255 * 8)) - 1", 2n ** 2040n - 1n, 110],
    ["-((1 bsl (255 * 8)) - 1)", -(2n ** 2040n - 1n), 110],
    ["1 bsl (255 * 8)", 2n ** 2040n, 111],
    ["-(1 bsl (255 * 8))", -(2n ** 2040n), 111],
    ["1 bsl 100000", 2n ** 100000n, 111],
  ];
  it.each(cases)("%s", async (expr, term, tag) => {
    const etf = await golden(expr, term);
    expect(etf[1]).toBe(tag);
  });

  it("a bigint that fits is written by value, as term_to_binary would", async () => {
    await sameAsNode(5n);
    await sameAsNode(-300n);
    await sameAsNode(2n ** 40n);
    expect(decode(encode(2n ** 40n))).toBe(2 ** 40);
  });
});

describe("floats", () => {
  const cases: Array<[string, number]> = [
    ["0.0", 0],
    ["-0.0", -0],
    ["1.5", 1.5],
    ["-1.0e300", -1e300],
    ["5.0e-324", 5e-324],
    ["2.2250738585072014e-308", 2.2250738585072014e-308],
    ["2.225073858507201e-308", 2.225073858507201e-308],
    ["1.7976931348623157e308", 1.7976931348623157e308],
    ["0.1", 0.1],
    ["9007199254740993.0", 9007199254740993.0],
  ];
  it.each(cases)("%s", async (expr, v) => {
    const etf = await golden(expr, new Float(v));
    expect(Object.is((decode(etf) as Float).value, v)).toBe(true);
  });

  it("decodes FLOAT_EXT (minor version 0) to the same float", async () => {
    for (const expr of ["1.5", "-0.0", "1.0e300", "5.0e-324", "0.1", "123456.789"]) {
      const { etf } = await node.eval(`term_to_binary(${expr}, [{minor_version, 0}])`);
      const old = decode(etf) as Uint8Array;
      expect(old[1]).toBe(99);
      const f = decode(old) as Float;
      const { etf: canonical } = await node.eval(expr);
      expect(Object.is(f.value, (decode(canonical) as Float).value), expr).toBe(true);
    }
  });
});

describe("atoms", () => {
  const cases: Array<[string, string, number]> = [
    ["ok", "ok", 119],
    ["''", "", 119],
    ["'hello world'", "hello world", 119],
    ["'\\x{E9}'", "é", 119],
    ["'\\x{1F600}'", "\u{1F600}", 119],
    ["'\\x{FEFF}a'", "\u{FEFF}a", 119],
    ["list_to_atom(lists:duplicate(255, $a))", "a".repeat(255), 119],
    ["list_to_atom(lists:duplicate(127, 233) ++ \"a\")", "é".repeat(127) + "a", 119],
    ["list_to_atom(lists:duplicate(128, 233))", "é".repeat(128), 118],
    ["list_to_atom(lists:duplicate(255, 233))", "é".repeat(255), 118],
    ["list_to_atom(lists:duplicate(255, 16#1F600))", "\u{1F600}".repeat(255), 118],
  ];
  it.each(cases)("%s", async (expr, name, tag) => {
    const etf = await golden(expr, atom(name));
    expect(etf[1]).toBe(tag);
    expect(decode(etf)).toBe(atom(name));
  });

  it("decodes ATOM_EXT and SMALL_ATOM_EXT (latin1) to the same atoms", async () => {
    for (const name of ["ok", "é", "ÿ".repeat(255), "a".repeat(255)]) {
      const latin1 = Buffer.from(name, "latin1");
      const small = Buffer.concat([Buffer.from([131, 115, latin1.length]), latin1]);
      const long = Buffer.concat([Buffer.from([131, 100, latin1.length >> 8, latin1.length & 0xff]), latin1]);
      for (const bytes of [small, long]) {
        expect(decode(bytes)).toBe(atom(name));
        expect(hex(encode(decode(bytes)))).toBe(hex(await node.decode(bytes)));
      }
    }
  });

  it("refuses atoms of 256 characters, as the node does", async () => {
    for (const bytes of [
      Buffer.concat([Buffer.from([131, 100, 1, 0]), Buffer.alloc(256, 97)]),
      Buffer.concat([Buffer.from([131, 118, 2, 0]), Buffer.from("é".repeat(256))]),
      Buffer.from([131, 118, 0, 2, 0xc3, 0x28]),
      Buffer.from([131, 118, 0, 3, 0xed, 0xa0, 0x80]),
    ]) {
      expect(() => decode(bytes)).toThrow(EtfError);
      await expect(node.decode(bytes)).rejects.toThrow();
    }
    expect(() => encode(atom("a".repeat(256)))).toThrow(EtfError);
  });
});

describe("tuples, lists, strings", () => {
  it("tuples of 0, 255 and 256 elements", async () => {
    await golden("{}", tuple());
    const seq = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    expect((await golden("list_to_tuple(lists:seq(1, 255))", tuple(...seq(255))))[1]).toBe(104);
    expect((await golden("list_to_tuple(lists:seq(1, 256))", tuple(...seq(256))))[1]).toBe(105);
  });

  it("nil, strings and lists", async () => {
    await golden("[]", []);
    expect((await golden('"abc"', charlist("abc")))[1]).toBe(107);
    await golden("[1, 2, 3]", [1, 2, 3]);
    await golden("[1, 256]", [1, 256]);
    await golden("[-1]", [-1]);
    await golden("[[]]", [[]]);
    await golden("[a, \"b\", <<\"c\">>]", [atom("a"), charlist("b"), Buffer.from("c")]);
    await golden("[a | b]", cons([atom("a")], atom("b")));
    await golden("[1, 2 | 3]", cons([1, 2], 3));
    await golden("[1 | <<2>>]", cons([1], Buffer.from([2])));
  });

  it("strings of 65535 and 65536 elements", async () => {
    const at = await golden("lists:duplicate(65535, $a)", charlist("a".repeat(65535)));
    expect(at[1]).toBe(107);
    const over = await golden("lists:duplicate(65536, $a)", charlist("a".repeat(65536)));
    expect(over[1]).toBe(108);
    // The same lists given as arrays of numbers encode the same way.
    expect(hex(encode(Array(65535).fill(97)))).toBe(hex(at));
    expect(hex(encode(Array(65536).fill(97)))).toBe(hex(over));
  });

  it("decodes LIST_EXT whose tail is another list as the one list it is", async () => {
    for (const bytes of [
      [131, 108, 0, 0, 0, 1, 97, 1, 107, 0, 1, 2],
      [131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 106],
      [131, 108, 0, 0, 0, 0, 97, 1],
      [131, 108, 0, 0, 0, 0, 106],
    ]) {
      const b = Buffer.from(bytes);
      expect(hex(encode(decode(b)))).toBe(hex(await node.decode(b)));
    }
  });
});

describe("binaries", () => {
  it("empty, small and huge binaries; decoded as views of the input", async () => {
    await golden("<<>>", Buffer.alloc(0));
    await golden("<<1, 2, 3>>", Buffer.from([1, 2, 3]));
    const etf = await golden("binary:copy(<<7>>, 1 bsl 20)", Buffer.alloc(1 << 20, 7));
    const view = decode(etf) as Uint8Array;
    expect(view.buffer).toBe(etf.buffer);
    expect(view.byteOffset).toBe(etf.byteOffset + 6);
  });

  it("a 16 MiB binary, both ways", async () => {
    const big = Buffer.alloc(16 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = i >> 12;
    const ours = await sameAsNode(big);
    expect(ours.length).toBe(16 * 1024 * 1024 + 6);
  });

  it("bit binaries of every tail length", async () => {
    for (let bits = 1; bits <= 7; bits++) {
      const v = (1 << bits) - 1;
      const etf = await golden(`<<${v}:${bits}>>`, new BitBinary(Buffer.from([(v << (8 - bits)) & 0xff]), bits));
      expect(etf[1]).toBe(77);
      await golden(`<<"ab", 1:${bits}>>`, new BitBinary(Buffer.from([97, 98, 1 << (8 - bits)]), bits));
    }
  });

  it("clears the unused bits of a bitstring, both ways", async () => {
    const dirty = Buffer.from([131, 77, 0, 0, 0, 1, 3, 255]);
    const t = decode(dirty) as BitBinary;
    expect(t.bytes[0]).toBe(0xe0);
    expect(hex(encode(t))).toBe(hex(await node.decode(dirty)));
    expect(hex(encode(new BitBinary(Buffer.from([255]), 3)))).toBe(hex(await node.decode(dirty)));
  });
});

describe("maps", () => {
  it("small maps in key order, integers before floats", async () => {
    await golden("#{}", new ErlMap());
    await golden("#{a => 1}", new ErlMap([[atom("a"), 1]]));
    await golden(
      '#{1 => a, 1.0 => b, <<"x">> => c, {t} => d, [l] => e, "s" => f, 2 => g, zz => h, #{k => v} => i, [] => j}',
      new ErlMap([
        [atom("zz"), atom("h")],
        [charlist("s"), atom("f")],
        [new Float(1), atom("b")],
        [tuple(atom("t")), atom("d")],
        [Buffer.from("x"), atom("c")],
        [[atom("l")], atom("e")],
        [1, atom("a")],
        [new ErlMap([[atom("k"), atom("v")]]), atom("i")],
        [2, atom("g")],
        [[], atom("j")],
      ]),
    );
  });

  it("32 keys are still in order; 33 and more round-trip", async () => {
    const keys = (n: number) => Array.from({ length: n }, (_, i) => [atom(`k${n - i}`), i] as [Term, Term]);
    await golden("maps:from_list([{list_to_atom(\"k\" ++ integer_to_list(32 - I)), I} || I <- lists:seq(0, 31)])", new ErlMap(keys(32)));
    for (const n of [33, 100, 1000]) {
      const m = new ErlMap(keys(n));
      const theirs = await node.decode(encode(m));
      expect(termEquals(decode(theirs), m)).toBe(true);
      const { etf } = await node.eval(`maps:from_list([{list_to_atom("k" ++ integer_to_list(${n} - I)), I} || I <- lists:seq(0, ${n - 1})])`);
      expect(termEquals(decode(etf), m)).toBe(true);
    }
  });

  it("refuses a map with a key twice", async () => {
    const bytes = Buffer.from([131, 116, 0, 0, 0, 2, 97, 1, 97, 1, 97, 1, 97, 2]);
    expect(() => decode(bytes)).toThrow(expect.objectContaining({ code: "duplicate_key" }));
    await expect(node.decode(bytes)).rejects.toThrow();
  });
});

describe("pids, references, ports", () => {
  const n = atom("node@host");
  it("the node's own pid, reference, port and alias", async () => {
    for (const expr of ["self()", "make_ref()", "hd(erlang:ports())", "alias()", "erlang:monitor(process, self(), [{alias, demonitor}])"]) {
      const { etf } = await node.eval(expr);
      const t = decode(etf);
      expect(hex(encode(t)), expr).toBe(hex(etf));
    }
  });

  it("32-bit creations, ids and 64-bit port ids", async () => {
    await sameAsNode(new Pid(n, 0xffffffff, 0xffffffff, 0xffffffff));
    await sameAsNode(new Pid(n, 1, 0, 0));
    await sameAsNode(new Ref(n, 0xffffffff, [1, 2, 3]));
    await sameAsNode(new Ref(n, 7, [1, 2, 3, 4, 5]));
    await sameAsNode(new Ref(n, 7, [1]));
    expect((await sameAsNode(new Port(n, 2n ** 28n - 1n, 0xffffffff)))[1]).toBe(89);
    expect((await sameAsNode(new Port(n, 2n ** 28n, 0xffffffff)))[1]).toBe(120);
    expect((await sameAsNode(new Port(n, 0x100000000n, 5)))[1]).toBe(120);
    expect((await sameAsNode(new Port(n, 2n ** 64n - 1n, 5)))[1]).toBe(120);
  });

  it("decodes PID_EXT, PORT_EXT, REFERENCE_EXT and NEW_REFERENCE_EXT as the node does", async () => {
    const a = [100, 0, 9, ...Buffer.from("node@host")];
    for (const bytes of [
      [131, 103, ...a, 0, 0, 0, 5, 0, 0, 0, 1, 3],
      [131, 102, ...a, 0, 0, 0, 5, 2],
      [131, 101, ...a, 0, 0, 0, 5, 1],
      [131, 114, 0, 3, ...a, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3],
      [131, 90, 0, 0, ...a, 0, 0, 0, 1],
    ]) {
      const b = Buffer.from(bytes);
      expect(hex(encode(decode(b)))).toBe(hex(await node.decode(b)));
    }
    // Creation has 2 bits in the old encodings.
    const bad = Buffer.from([131, 103, ...a, 0, 0, 0, 5, 0, 0, 0, 1, 7]);
    expect(() => decode(bad)).toThrow(expect.objectContaining({ code: "bad_creation" }));
    await expect(node.decode(bad)).rejects.toThrow();
  });
});

describe("funs", () => {
  it("EXPORT_EXT", async () => {
    await golden("fun lists:map/2", new ExportFun(atom("lists"), atom("map"), 2));
    await golden("fun erlang:'+'/2", new ExportFun(atom("erlang"), atom("+"), 2));
  });

  it("NEW_FUN_EXT with and without free variables round-trips to the node's bytes", async () => {
    for (const expr of ["fun() -> ok end", "X = {a, <<1,2>>}, fun(Y) -> {X, Y} end"]) {
      const { etf } = await node.eval(expr);
      const f = decode(etf);
      expect(f).toBeInstanceOf(Fun);
      expect(hex(encode(f))).toBe(hex(etf));
    }
  });
});

describe("compressed terms", () => {
  const terms: Array<[string, Term]> = [
    ["lists:seq(1, 1000)", Array.from({ length: 1000 }, (_, i) => i + 1)],
    ["lists:duplicate(100, {a, <<\"bbbbbbbbbb\">>})", Array(100).fill(tuple(atom("a"), Buffer.from("bbbbbbbbbb")))],
    ["binary:copy(<<0>>, 100000)", Buffer.alloc(100000)],
  ];
  it.each(terms)("%s, both ways", async (expr, term) => {
    const { etf } = await node.eval(`term_to_binary(${expr}, [compressed])`);
    const compressed = decode(etf) as Uint8Array;
    expect(compressed[1]).toBe(80);
    expect(termEquals(decode(compressed), term)).toBe(true);
    const ours = encode(term, { compressed: true });
    expect(ours[1]).toBe(80);
    const { etf: plain } = await node.eval(expr);
    expect(hex(await node.decode(ours))).toBe(hex(plain));
    for (const level of [1, 9]) expect(hex(await node.decode(encode(term, { compressed: level })))).toBe(hex(plain));
  });

  it("nested: a compressed term holding a compressed term", async () => {
    const { etf } = await node.eval("term_to_binary({outer, term_to_binary(lists:seq(1, 500), [compressed])}, [compressed])");
    const outer = decode(decode(etf) as Uint8Array) as Term;
    const inner = (outer as ReturnType<typeof tuple>).at(1) as Uint8Array;
    expect(termEquals(decode(inner), Array.from({ length: 500 }, (_, i) => i + 1))).toBe(true);
    const ours = encode(tuple(atom("outer"), encode(Array.from({ length: 500 }, (_, i) => i + 1), { compressed: true })), { compressed: true });
    const theirs = decode(await node.decode(ours)) as ReturnType<typeof tuple>;
    expect(termEquals(decode(theirs.at(1) as Uint8Array), decode(inner))).toBe(true);
  });

  it("keeps the plain form when compressing does not make it smaller", async () => {
    for (const t of [1, atom("ok"), tuple(1, 2)]) {
      const etf = await node.encodeWith(encode(tuple([atom("compressed"), tuple(atom("minor_version"), 2)], t)));
      expect(hex(encode(t, { compressed: true }))).toBe(hex(etf));
    }
  });

  it("refuses a wrong uncompressed size, as the node does", async () => {
    const good = encode(Array.from({ length: 1000 }, (_, i) => i), { compressed: true });
    for (const delta of [-1, 1]) {
      const bad = Buffer.from(good);
      bad.writeUInt32BE(good.readUInt32BE(2) + delta, 2);
      expect(() => decode(bad)).toThrow(expect.objectContaining({ code: "bad_compressed" }));
      await expect(node.decode(bad)).rejects.toThrow();
    }
  });
});

describe("atom cache references and LOCAL_EXT", () => {
  it("resolves ATOM_CACHE_REF through the given cache", () => {
    const cache = [atom("cached0"), atom("cached1")];
    const t = decode(Buffer.from([131, 104, 2, 82, 0, 82, 1]), { atomCache: (i) => cache[i] });
    expect(termEquals(t, tuple(atom("cached0"), atom("cached1")))).toBe(true);
    const pid = decode(Buffer.from([131, 88, 82, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]), { atomCache: (i) => cache[i] });
    expect(termEquals(pid, new Pid(atom("cached1"), 1, 2, 3))).toBe(true);
    expect(() => decode(Buffer.from([131, 82, 0]))).toThrow(expect.objectContaining({ code: "no_atom_cache", tag: 82, offset: 1 }));
    expect(() => decode(Buffer.from([131, 82, 5]), { atomCache: (i) => cache[i] })).toThrow(expect.objectContaining({ code: "no_atom_cache" }));
  });

  it("refuses LOCAL_EXT with its own code", () => {
    expect(() => decode(Buffer.from([131, 121, 0, 0, 0, 0]))).toThrow(expect.objectContaining({ code: "local_ext", tag: 121, offset: 1 }));
  });
});

describe("decodeAt", () => {
  it("reads terms back to back, with or without the version byte", () => {
    const a = encode(tuple(atom("ctrl"), 1));
    const b = encode(Buffer.from("payload"));
    const frame = Buffer.concat([Buffer.from([112]), a, b]);
    const first = decodeAt(frame, 1);
    expect(termEquals(first.term, tuple(atom("ctrl"), 1))).toBe(true);
    const second = decodeAt(frame, first.offset);
    expect(second.offset).toBe(frame.length);
    const bare = Buffer.concat([a.subarray(1), b.subarray(1)]);
    const x = decodeAt(bare, 0, { versionByte: false });
    expect(decodeAt(bare, x.offset, { versionByte: false }).offset).toBe(bare.length);
  });

  it("reads a compressed term followed by another", () => {
    const c = encode(Array(1000).fill(atom("x")), { compressed: true });
    const frame = Buffer.concat([c, encode(atom("next"))]);
    const r = decodeAt(frame, 0);
    expect(r.offset).toBe(c.length);
    expect(decodeAt(frame, r.offset).term).toBe(atom("next"));
    expect(() => decode(frame)).toThrow(expect.objectContaining({ code: "trailing_bytes", offset: c.length }));
  });
});

describe("the representation", () => {
  it("keeps charlists, binaries and lists apart, and 1 apart from 1.0", () => {
    expect(decode(encode(charlist("ab")))).toBeInstanceOf(Charlist);
    expect(decode(encode(Buffer.from("ab")))).toBeInstanceOf(Uint8Array);
    expect(decode(encode(cons([1], 2)))).toBeInstanceOf(ImproperList);
    expect(decode(encode(new Float(1)))).toBeInstanceOf(Float);
    expect(decode(encode(1))).toBe(1);
    expect(decode(encode(atom("ok")))).toBeInstanceOf(Atom);
  });
});
