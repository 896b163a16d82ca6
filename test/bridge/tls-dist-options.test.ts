/**
 * The ssl_dist_optfile and -ssl_dist_opt, read as OTP reads them: the term-text parser against
 * erl's own reading of the same text, the options mapped to node:tls, and a clear refusal,
 * naming line and column, of anything the bridge cannot honour.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseNodeArgs } from "../../bridge/cli.js";
import { TermTextError, consult, type TermText } from "../../bridge/term-text.js";
import {
  TlsDistConfigError,
  mergeRaw,
  readSslDistOptfile,
  sslDistOptPairs,
  tlsDistConfig,
} from "../../bridge/tls-dist-options.js";
import { makePki, type Pki } from "../support/certs.js";
import { Epmd, ErlNode, randomCookie, stopAll } from "../support/erlang.js";

/** A term as Erlang source, strings as lists of character codes and binaries as bytes. */
function erlText(t: TermText): string {
  switch (t.kind) {
    case "atom":
      return /^[a-z][A-Za-z0-9_@]*$/.test(t.value) ? t.value : `'${t.value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
    case "integer":
      return String(t.value);
    case "string":
      return `[${[...t.value].map((c) => c.codePointAt(0)).join(",")}]`;
    case "binary":
      return `<<${[...Buffer.from(t.value, "latin1")].join(",")}>>`;
    case "tuple":
      return `{${t.items.map(erlText).join(",")}}`;
    case "list":
      return `[${t.items.map(erlText).join(",")}]`;
  }
}

const errorOf = (f: () => unknown): Error => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("no error");
};

describe("term text (file:consult/1's subset)", () => {
  let epmd: Epmd;
  let erl: ErlNode;
  const dir = mkdtempSync(join(tmpdir(), "term-text-"));
  beforeAll(async () => {
    epmd = await Epmd.start();
    erl = await ErlNode.start({ epmdPort: epmd.port, cookie: randomCookie() });
  });
  afterAll(async () => {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads what file:consult/1 reads, to the same terms", async () => {
    const text = [
      "%% a comment, then two terms",
      `[{server, [{certfile, "/a b/c.pem"}, {verify, verify_peer}, {depth, 2}, {'odd atom', 'it\\'s'}]},`,
      ` {client, [{ciphers, ["ECDHE-ECDSA-AES128-GCM-SHA256"]}, {password, "q\\"\\\\\\n\\t"}, {x, <<"bin">>}, {y, []}, {z, {}}, {n, -7}]}].`,
      "{second, 'A@b', 1_000}.   % trailing comment",
      "",
    ].join("\n");
    const file = join(dir, "consult.conf");
    writeFileSync(file, text);
    const ours = consult(text);
    const same = await erl.eval(`{ok, Terms} = file:consult(${JSON.stringify(file)}), Terms =:= [${ours.map(erlText).join(",")}]`);
    expect(same.text).toBe("true");
  });

  it("refuses what is outside the subset, or not a term, with line and column", () => {
    const cases: Array<[string, RegExp]> = [
      ["[{a, 1}]", /line 1, column 9: expected a dot/],
      ["[{a, X}].", /line 1, column 6: a variable \(X\)/],
      ["\n  [{a, 1.5}].", /line 2, column 8: floats/],
      ["[a | b].", /line 1, column 4: improper lists/],
      ["[{a, 16#ff}].", /line 1, column 6: based integers/],
      ['[{a, "open}].', /line 1, column 6: the string opened here is never closed/],
      ["[{a, #{}}].", /line 1, column 6: unexpected "#"/],
      ["[{a, b} {c, d}].", /line 1, column 9: expected "," or "]"/],
      ['[{a, "\\x{41}"}].', /escape \\x/],
      ["[a].[b].", /followed by white space/],
      ["[{a, <<1,2>>}].", /one string only/],
    ];
    for (const [text, message] of cases) {
      const e = errorOf(() => consult(text));
      expect(e, text).toBeInstanceOf(TermTextError);
      expect(e.message, text).toMatch(message);
    }
  });
});

describe("ssl_dist_optfile and -ssl_dist_opt to node:tls", () => {
  let pki: Pki;
  beforeAll(() => {
    pki = makePki();
  });
  afterAll(() => pki?.remove());
  const file = (name: string, text: string) => {
    const f = join(pki.dir, name);
    writeFileSync(f, text);
    return f;
  };

  it("maps both sides, reading the files named; the key is looked for in certfile without keyfile", () => {
    const f = file(
      "both.conf",
      `[{server, [{certfile, ${JSON.stringify(pki.combined.certFile)}}, {cacertfile, ${JSON.stringify(pki.caFile)}},
                  {verify, verify_peer}, {fail_if_no_peer_cert, true}, {depth, 3}, {versions, ['tlsv1.2']},
                  {ciphers, ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"]}, {secure_renegotiate, true}]},
        {client, [{certfile, ${JSON.stringify(pki.client.certFile)}}, {keyfile, ${JSON.stringify(pki.client.keyFile)}},
                  {cacertfile, ${JSON.stringify(pki.caFile)}}, {verify, verify_peer}, {server_name_indication, disable}]}].`,
    );
    const config = tlsDistConfig(readSslDistOptfile(f));
    expect(config.server).toMatchObject({ verify: true, failIfNoPeerCert: true, depth: 3, serverName: undefined });
    expect(config.server.context).toMatchObject({
      cert: pki.combined.cert,
      key: pki.combined.cert,
      ca: pki.root.cert,
      minVersion: "TLSv1.2",
      maxVersion: "TLSv1.2",
      ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
    });
    expect(config.client).toMatchObject({ verify: true, failIfNoPeerCert: false, serverName: false });
    expect(config.client.context).toMatchObject({ cert: pki.client.cert, key: pki.client.key });
  });

  it("takes -ssl_dist_opt pairs as OTP converts them, before the file's options", () => {
    const raw = sslDistOptPairs([
      ["server_certfile", pki.server.certFile],
      ["server_keyfile", pki.server.keyFile],
      ["server_depth", "2"],
      ["client_verify", "verify_none"],
      ["client_versions", "tlsv1.3"],
    ]);
    const config = tlsDistConfig(mergeRaw(raw, { server: [], client: [] }));
    expect(config.server).toMatchObject({ depth: 2, verify: false });
    expect(config.client.context).toMatchObject({ minVersion: "TLSv1.3", maxVersion: "TLSv1.3" });
    expect(errorOf(() => sslDistOptPairs([["server_cert", "x"]])).message).toMatch(/--ssl-dist-opt server_cert: not an option/);
    expect(errorOf(() => sslDistOptPairs([["certfile", "x"]])).message).toMatch(/server_ or client_/);
    expect(errorOf(() => sslDistOptPairs([["client_depth", "two"]])).message).toMatch(/not an integer/);
  });

  it("refuses, by name, an option it cannot honour or a value it cannot use, and says where", () => {
    const opts = (server: string, client = "") =>
      file("bad.conf", `[{server, [{certfile, ${JSON.stringify(pki.server.certFile)}}, {keyfile, ${JSON.stringify(pki.server.keyFile)}}${server}]}, {client, [${client}]}].`);
    const cases: Array<[string, string, RegExp]> = [
      [", {verify_fun, {m, f, []}}", "", /server option at line 1, column \d+: verify_fun: not an option the bridge's TLS distribution can honour/],
      [", {crl_check, true}", "", /crl_check: not an option/],
      [", {secure_renegotiate, false}", "", /node:tls only renegotiates securely/],
      [", {verify, verify_peer}", "", /server: \{verify, verify_peer\} needs cacertfile/],
      [", {fail_if_no_peer_cert, true}", "", /needs \{verify, verify_peer\}/],
      [", {versions, [tlsv1]}", "", /offers 'tlsv1.2' and 'tlsv1.3' only/],
      [", {depth, -1}", "", /depth must be a non-negative integer/],
      [", {verify, maybe}", "", /verify must be verify_peer or verify_none/],
      [", {depth, 1}, {depth, 2}", "", /depth is given twice/],
      ["", "{fail_if_no_peer_cert, true}", /fail_if_no_peer_cert is a server option/],
      ["", "{cacertfile, \"/no/such/file.pem\"}", /client cacertfile \/no\/such\/file.pem: ENOENT/],
      ["", "verify_peer", /an option is a tuple \{Name, Value\}/],
    ];
    for (const [server, client, message] of cases) {
      const e = errorOf(() => tlsDistConfig(readSslDistOptfile(opts(server, client))));
      expect(e, server + client).toBeInstanceOf(TlsDistConfigError);
      expect(e.message, server + client).toMatch(message);
    }
    const shape: Array<[string, RegExp]> = [
      ["{server, []}.", /must hold one term, a list/],
      ["[{server, []}]. [].", /line 1, column 17: the file must hold one term/],
      ["[{server, []}, {server, []}].", /\{server, \.\.\.\} is given twice/],
      ["[{peer, []}].", /each element must be \{server, \[Option, \.\.\.\]\} or \{client/],
      ["[{server, [}].", /bad.conf: line 1, column 12: unexpected "}"/],
    ];
    for (const [text, message] of shape) expect(errorOf(() => readSslDistOptfile(file("bad.conf", text))).message, text).toMatch(message);
    expect(errorOf(() => tlsDistConfig(readSslDistOptfile(file("bad.conf", "[{client, []}].")))).message).toMatch(/server: certfile is required/);
    expect(errorOf(() => readSslDistOptfile(join(pki.dir, "missing.conf"))).message).toMatch(/cannot read the ssl_dist_optfile .*missing.conf/);
  });
});

describe("the command line's distribution flags", () => {
  const home = mkdtempSync(join(tmpdir(), "tls-dist-cli-"));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const parse = (argv: string[]) => parseNodeArgs(["--setcookie", "C", ...argv], { HOME: home });

  it("takes erl's flags, with dashes or underscores", () => {
    expect(
      parse(["-proto_dist", "inet_tls", "-ssl_dist_optfile", "/x.conf", "--ssl-dist-opt", "server_depth", "2", "client_verify", "verify_peer", "--inet-dist-use-interface", "127.0.0.1", "--inet-dist-listen-min", "9100", "--inet-dist-listen-max", "9105"]),
    ).toMatchObject({
      protoDist: "inet_tls",
      sslDistOptfile: "/x.conf",
      sslDistOpt: [["server_depth", "2"], ["client_verify", "verify_peer"]],
      listenAddress: "127.0.0.1",
      portRange: { min: 9100, max: 9105 },
    });
    expect(parse([])).toMatchObject({ protoDist: "inet_tcp", sslDistOptfile: undefined, sslDistOpt: [], listenAddress: undefined, portRange: undefined });
    expect(parse(["--inet-dist-listen-min", "9100"]).portRange).toEqual({ min: 9100, max: 9100 });
  });

  it("says what is wrong", () => {
    const cases: Array<[string[], string, RegExp]> = [
      [["--proto-dist", "inet6_tls"], "bad_proto_dist", /speaks inet_tcp and inet_tls/],
      [["--proto-dist", "inet_tls"], "missing_value", /needs --ssl-dist-optfile/],
      [["--ssl-dist-optfile", "/x.conf"], "conflict", /apply to --proto-dist inet_tls/],
      [["--proto-dist", "inet_tls", "--ssl-dist-opt", "server_certfile"], "missing_value", /server_certfile needs a value/],
      [["--inet-dist-use-interface", "localhost"], "bad_address", /not an IP address/],
      [["--inet-dist-listen-min", "9200", "--inet-dist-listen-max", "9100"], "bad_port", /below/],
      [["--inet-dist-listen-min", "70000"], "bad_port", /not a port number/],
    ];
    for (const [argv, code, message] of cases) {
      const e = errorOf(() => parse(argv)) as Error & { code?: string };
      expect(e.code, argv.join(" ")).toBe(code);
      expect(e.message, argv.join(" ")).toMatch(message);
    }
  });
});
