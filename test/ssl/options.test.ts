import { describe, expect, it } from "vitest";
import { atom, charlist, error, formatTerm, tuple, type Term } from "../../etf/index.js";
import { SslError } from "../../ts-ssl/errors.js";
import { Options, type Context } from "../../ts-ssl/options.js";

const a = atom;
const t = tuple;

/** The reason an option list is refused with, or "ok". */
function outcome(list: Term, context: Context): string {
  try {
    Options.parse(list, context);
    return "ok";
  } catch (err) {
    if (err instanceof SslError) return formatTerm(err.reason);
    throw err;
  }
}

function getopts(o: Options, tags: string[], kind: "connect" | "listen" | "accept" = "connect"): string {
  return formatTerm(o.getopts(tags.map(a), kind));
}

describe("option defaults (manual: mode list, packet 0, header 0, nodelay false, active true, backlog 5, ip {0,0,0,0}, port 0, verify 0, depth 1)", () => {
  it("getopts gives every default, in the order asked", () => {
    const o = Options.empty();
    expect(getopts(o, ["port", "ip", "active", "nodelay", "header", "packet", "mode", "verify", "depth"])).toBe(
      "[{port,0},{ip,{0,0,0,0}},{active,true},{nodelay,false},{header,0},{packet,0},{mode,list},{verify,0},{depth,1}]",
    );
    expect(getopts(o, ["backlog"], "listen")).toBe("[{backlog,5}]");
    expect(getopts(o, ["packet_size", "line_delimiter"])).toBe("[{packet_size,0},{line_delimiter,10}]");
    // gen_tcp's defaults for its options; OpenSSL's session lifetime for TLS.
    expect(getopts(o, ["reuseaddr", "keepalive", "cachetimeout"], "accept")).toBe("[{reuseaddr,false},{keepalive,false},{cachetimeout,7200}]");
  });

  it("leaves out tags that have no value, and refuses tags the socket does not know", () => {
    expect(getopts(Options.empty(), ["certfile", "mode", "ciphers"])).toBe("[{mode,list}]");
    expect(() => getopts(Options.empty(), ["backlog"], "connect")).toThrow(SslError);
    expect(() => getopts(Options.empty(), ["port"], "listen")).toThrow(SslError);
    expect(() => getopts(Options.empty(), ["buffer"])).toThrow(SslError);
    expect(() => Options.empty().getopts(a("mode"), "connect")).toThrow(SslError);
  });
});

describe("option lists", () => {
  it("normalises binary, list and {packet, raw} as 3.9 did", () => {
    const o = Options.parse([a("binary"), t(a("packet"), a("raw"))], "connect");
    expect(getopts(o, ["mode", "packet"])).toBe("[{mode,binary},{packet,0}]");
    expect(getopts(Options.parse([a("binary"), a("list")], "connect"), ["mode"])).toBe("[{mode,list}]");
  });

  it("lets a later option override an earlier one", () => {
    const o = Options.parse([t(a("packet"), 2), t(a("active"), a("once")), t(a("packet"), 4)], "connect");
    expect(getopts(o, ["packet", "active"])).toBe("[{packet,4},{active,once}]");
  });

  it("accepts every packet type of inet(3), and {packet, 3} fails with einval as inet failed it in 3.9", () => {
    for (const p of [0, 1, 2, 4, "raw", "asn1", "cdr", "sunrm", "fcgi", "tpkt", "line", "http", "httph", "http_bin", "httph_bin"]) {
      expect(outcome([t(a("packet"), typeof p === "string" ? a(p) : p)], "connect")).toBe("ok");
    }
    expect(outcome([t(a("packet"), 3)], "connect")).toBe("einval");
    expect(outcome([t(a("packet"), 8)], "connect")).toBe("eoptions");
    expect(outcome([t(a("packet"), a("ssl"))], "connect")).toBe("eoptions");
  });

  it("takes {active, true | false | once | N} with N in -32768..32767", () => {
    for (const v of [a("true"), a("false"), a("once"), 0, 5, -32768, 32767]) expect(outcome([t(a("active"), v)], "connect")).toBe("ok");
    for (const v of [a("yes"), 32768, -32769]) expect(outcome([t(a("active"), v)], "connect")).toBe("eoptions");
    expect(Options.parse([t(a("active"), 7)], "connect").socket.active).toBe(7);
    expect(Options.parse([t(a("active"), a("once"))], "connect").socket.active).toBe("once");
    expect(Options.empty().socket.active).toBe(true);
  });

  it("takes backlog only in listen and port only in connect (manual)", () => {
    expect(outcome([t(a("backlog"), 10)], "listen")).toBe("ok");
    expect(outcome([t(a("backlog"), 10)], "connect")).toBe("eoptions");
    expect(outcome([t(a("port"), 4000)], "connect")).toBe("ok");
    expect(outcome([t(a("port"), 4000)], "listen")).toBe("eoptions");
    expect(outcome([t(a("port"), 70000)], "connect")).toBe("eoptions");
  });

  it("refuses ssl options, ip, port, backlog and reuseaddr in setopts", () => {
    for (const o of [t(a("verify"), 1), t(a("depth"), 2), t(a("ciphers"), charlist("ALL")), t(a("password"), charlist("x")), t(a("cachetimeout"), 1)]) {
      expect(outcome([o], "setopts")).toBe("eoptions");
    }
    for (const o of [t(a("ip"), t(127, 0, 0, 1)), t(a("port"), 1), t(a("backlog"), 1), t(a("reuseaddr"), a("true"))]) {
      expect(outcome([o], "setopts")).toBe("eoptions");
    }
    expect(
      outcome([t(a("active"), a("once")), t(a("packet"), 2), t(a("header"), 1), t(a("nodelay"), a("true")), t(a("keepalive"), a("true"))], "setopts"),
    ).toBe("ok");
  });

  it("takes reuseaddr, keepalive (booleans) and cachetimeout (seconds) in connect and listen", () => {
    for (const context of ["connect", "listen"] as const) {
      expect(outcome([t(a("reuseaddr"), a("true")), t(a("keepalive"), a("false")), t(a("cachetimeout"), 0)], context)).toBe("ok");
      expect(outcome([t(a("reuseaddr"), 1)], context)).toBe("eoptions");
      expect(outcome([t(a("keepalive"), a("yes"))], context)).toBe("eoptions");
      expect(outcome([t(a("cachetimeout"), -1)], context)).toBe("eoptions");
      expect(outcome([t(a("cachetimeout"), 2 ** 31)], context)).toBe("eoptions");
    }
  });

  it("takes ip as a tuple or a string, IPv6 included", () => {
    expect(outcome([t(a("ip"), t(127, 0, 0, 1))], "connect")).toBe("ok");
    expect(outcome([t(a("ip"), charlist("127.0.0.1"))], "listen")).toBe("ok");
    expect(outcome([t(a("ip"), t(0, 0, 0, 0, 0, 0, 0, 1))], "listen")).toBe("ok");
    expect(outcome([t(a("ip"), t(256, 0, 0, 1))], "connect")).toBe("eoptions");
    expect(outcome([t(a("ip"), charlist("localhost"))], "connect")).toBe("eoptions");
  });

  it("refuses what is not an option list", () => {
    expect(outcome(a("binary"), "connect")).toBe("eoptions");
    expect(outcome([a("bogus")], "connect")).toBe("eoptions");
    expect(outcome([t(a("mode"), a("text"))], "connect")).toBe("eoptions");
    expect(outcome([t(a("header"), -1)], "connect")).toBe("eoptions");
    expect(outcome([t(a("depth"), 256)], "connect")).toBe("eoptions");
    expect(outcome([t(a("nodelay"), 1)], "connect")).toBe("eoptions");
    expect(outcome([t(a("mode"), a("binary"), a("extra"))], "connect")).toBe("eoptions");
  });

  it("takes file options as {Tag, Path, Contents} and gives back {Tag, Path}", () => {
    const contents = Buffer.from("pem");
    const o = Options.parse(
      [t(a("certfile"), charlist("/c.pem"), contents), t(a("keyfile"), charlist("/k.pem"), t(error, a("enoent")))],
      "connect",
    );
    expect(getopts(o, ["certfile", "keyfile"])).toBe('[{certfile,"/c.pem"},{keyfile,"/k.pem"}]');
    expect(o.tls.certfile).toBe(contents);
    expect(formatTerm(o.tls.keyfile!)).toBe("{error,enoent}");
    expect(o.tls.cacertfile).toBeUndefined();
    const unicode = Options.parse([t(a("cacertfile"), [47, 0x4e2d, 46, 112], contents)], "connect");
    expect(getopts(unicode, ["cacertfile"])).toBe("[{cacertfile,[47,20013,46,112]}]");
    // Without its contents (ts_ssl always sends them) a file option is not valid.
    expect(outcome([t(a("certfile"), charlist("/c.pem"))], "connect")).toBe("eoptions");
    expect(outcome([t(a("certfile"), charlist("/c.pem"), a("oops"))], "connect")).toBe("eoptions");
  });

  it("maps {verify, 0|1|2} and the newer verify_none / verify_peer + fail_if_no_peer_cert", () => {
    const level = (list: Term[], c: Context = "listen") => Options.parse(list, c).tls.verify;
    expect(level([])).toBe(0);
    expect(level([t(a("verify"), 2)])).toBe(2);
    expect(level([t(a("verify"), a("verify_none"))])).toBe(0);
    expect(level([t(a("verify"), a("verify_peer"))])).toBe(1);
    expect(level([t(a("verify"), a("verify_peer")), t(a("fail_if_no_peer_cert"), a("true"))])).toBe(2);
    expect(outcome([t(a("verify"), 3)], "connect")).toBe("eoptions");
    expect(outcome([t(a("fail_if_no_peer_cert"), a("true"))], "connect")).toBe("eoptions");
  });

  it("takes the newer ssl options where they apply", () => {
    expect(outcome([t(a("versions"), [a("tlsv1.2"), a("tlsv1.3")])], "connect")).toBe("ok");
    expect(outcome([t(a("versions"), [a("sslv3")])], "connect")).toBe("eoptions");
    expect(outcome([t(a("versions"), [])], "connect")).toBe("eoptions");
    expect(outcome([t(a("server_name_indication"), charlist("example.com"))], "connect")).toBe("ok");
    expect(outcome([t(a("server_name_indication"), a("disable"))], "connect")).toBe("ok");
    expect(outcome([t(a("server_name_indication"), a("disable"))], "listen")).toBe("eoptions");
    expect(outcome([t(a("alpn_advertised_protocols"), [Buffer.from("h2")])], "connect")).toBe("ok");
    expect(outcome([t(a("alpn_preferred_protocols"), [Buffer.from("h2")])], "listen")).toBe("ok");
    expect(outcome([t(a("alpn_preferred_protocols"), [charlist("h2")])], "listen")).toBe("eoptions");
  });

  it("gives the framing layer packet, packet_size, line_delimiter, mode and header", () => {
    const o = Options.parse(
      [a("binary"), t(a("packet"), a("line")), t(a("packet_size"), 100), t(a("line_delimiter"), 0), t(a("header"), 2)],
      "connect",
    );
    expect(o.socket.framing).toEqual({ packet: "line", packetSize: 100, lineDelimiter: 0, mode: "binary", header: 2 });
    expect(Options.empty().socket.framing).toEqual({ packet: "raw", packetSize: 0, lineDelimiter: 10, mode: "list", header: 0 });
  });

  it("parses once into typed records for TLS, listen and connect, defaults included", () => {
    const client = Options.parse(
      [
        t(a("versions"), [a("tlsv1.3"), a("tlsv1.2")]),
        t(a("server_name_indication"), charlist("example.com")),
        t(a("alpn_advertised_protocols"), [Buffer.from("h2"), Buffer.from("http/1.1")]),
        t(a("password"), charlist("secret")),
        t(a("ciphers"), charlist("AES128-SHA")),
        t(a("depth"), 3),
        t(a("ip"), t(127, 0, 0, 1)),
        t(a("port"), 4000),
        t(a("nodelay"), a("true")),
      ],
      "connect",
    );
    expect(client.tls.versions).toEqual(["TLSv1.3", "TLSv1.2"]);
    expect(client.tls.serverName).toBe("example.com");
    expect(client.tls.alpnAdvertised.map((p) => Buffer.from(p).toString())).toEqual(["h2", "http/1.1"]);
    expect(client.tls.password).toBe("secret");
    expect(client.tls.ciphers).toBe("AES128-SHA");
    expect(client.tls.depth).toBe(3);
    expect(client.connect).toEqual({ ip: "127.0.0.1", port: 4000 });
    expect(client.socket.nodelay).toBe(true);
    expect(client.socket.keepalive).toBe(false);
    expect(Options.parse([t(a("server_name_indication"), a("disable"))], "connect").tls.serverName).toBe(false);
    const none = Options.empty();
    expect([none.tls.versions, none.tls.serverName, none.tls.password, none.tls.ciphers]).toEqual([undefined, undefined, undefined, undefined]);
    expect(none.tls.alpnPreferred).toEqual([]);
    expect([none.tls.depth, none.tls.cachetimeout]).toEqual([1, 7200]);
    expect(none.connect).toEqual({ ip: undefined, port: undefined });
    expect(none.listen).toEqual({ ip: "0.0.0.0", backlog: 5 });
    const server = Options.parse([t(a("backlog"), 1), t(a("ip"), t(0, 0, 0, 0, 0, 0, 0, 1)), t(a("cachetimeout"), 60)], "listen");
    expect(server.listen).toEqual({ ip: "0:0:0:0:0:0:0:1", backlog: 1 });
    expect(server.tls.cachetimeout).toBe(60);
    // A later list merged over an earlier one: the typed records follow the terms.
    expect(none.merge(Options.parse([t(a("packet"), 2), t(a("active"), a("false"))], "setopts")).socket).toMatchObject({
      framing: { packet: 2 },
      active: false,
    });
  });
});
