/**
 * Whatever a caller sends, the service answers with a reply of the manual's shape and goes on:
 * random requests (every function of the README table with random arguments, and random terms)
 * never make it throw, and never leave a socket behind.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { atom, Charlist, isTagged, Pid, Tuple, tuple, type Term } from "../../etf/index.js";
import { Bench, show } from "./harness.js";

const bench = new Bench();
afterAll(() => bench.stop());

const names = ["ok", "true", "false", "once", "binary", "list", "raw", "infinity", "mode", "packet", "active", "verify", "certfile", "sslsocket", "error"];

const leaf: fc.Arbitrary<Term> = fc.oneof(
  fc.integer({ min: -70000, max: 70000 }),
  fc.constantFrom(...names).map(atom),
  fc.uint8Array({ maxLength: 8 }),
  fc.string({ maxLength: 6 }).map((s) => new Charlist(Buffer.from(s, "latin1"))),
);

const term: fc.Arbitrary<Term> = fc.letrec<{ term: Term }>((tie) => ({
  term: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("term"), { maxLength: 4 }),
    fc.array(tie("term"), { maxLength: 4 }).map((es) => new Tuple(es)),
    fc.tuple(fc.constantFrom(...names).map(atom), tie("term")).map(([k, v]) => tuple(k, v)),
  ),
})).term;

/** A port no one can bind or reach: connect and listen must refuse it rather than do anything. */
const badPort = fc.constantFrom<Term>(-1, 65536, 70000, atom("http"));

const socketLike = fc.oneof(
  term,
  fc.integer({ min: -2, max: 5 }).map((id) => tuple(atom("sslsocket"), id, new Pid(atom("local@localhost"), 1, 0, 1))),
);

const request: fc.Arbitrary<Term> = fc.oneof(
  term,
  fc.tuple(term, badPort, term, term).map(([a, p, o, t]) => tuple(atom("connect"), a, p, o, t)),
  fc.tuple(badPort, term).map(([p, o]) => tuple(atom("listen"), p, o)),
  ...["transport_accept", "ssl_accept", "accept", "send", "setopts", "getopts", "controlling_process"].map((f) =>
    fc.tuple(socketLike, term).map(([s, x]) => tuple(atom(f), s, x)),
  ),
  ...["close", "peername", "sockname", "peercert", "connection_info"].map((f) => socketLike.map((s) => tuple(atom(f), s))),
  fc.tuple(socketLike, term, term).map(([s, l, t]) => tuple(atom("recv"), s, l, t)),
  fc.constantFrom<Term>(atom("ciphers"), atom("version")),
  term.map((d) => tuple(atom("seed"), d)),
);

function wellShaped(reply: Term): boolean {
  return reply === atom("ok") || isTagged(reply, atom("ok"), 2) || isTagged(reply, atom("error"), 2);
}

describe("random requests", () => {
  it("always get ok, {ok, _} or {error, _}, from a handler that never failed, and open nothing", async () => {
    const caller = bench.caller();

    await fc.assert(
      fc.asyncProperty(request, async (req) => {
        const reply = await bench.service.call(req, { pid: caller.pid, tag: atom("t") });
        if (!wellShaped(reply)) throw new Error(`${show(req)} -> ${show(reply)}`);
        expect(bench.service.sockets.size).toBe(0);
      }),
      { numRuns: 2000 },
    );
    // The service logs a handler that threw something other than an SslError.
    expect(bench.log.text()).toBe("");
  });
});
