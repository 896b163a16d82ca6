/**
 * A native OTP client sends 100 small records to a server socket and closes: with ssl:close/1,
 * with a reset after its close_notify and FIN, or with a bare reset. Each trial runs the same
 * steps with OTP's ssl as the server first (ts_ssl_native, the 3.9 API), then with ts_ssl, on a
 * real `erl` node and a bridge in this process; the server's owner reads only once the client
 * has closed, passive, or in `{active, once}` with `{packet, 1}`. close_reset.erl is the Erlang
 * side; its client asks its kernel, just before it closes, what it received, what it left unread
 * and what it had not sent yet.
 *
 * In the trials of 100 records the bridge is kept busy (this process runs nothing) from the
 * client's first record until it has closed, as on a loaded machine: its kernel holds
 * everything, the reset included, before node:tls reads a byte, and every record that reached
 * it must still come before the end. With 72 KB the bridge reads ahead of the owner and stops,
 * and the rest waits in its kernel when the reset comes.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Node } from "../../bridge/api.js";
import { atom, Atom, decode, ErlMap, formatTerm, type Term } from "../../etf/index.js";
import { startSslBridge } from "../support/bridge.js";
import { makePki, type Pki } from "../support/certs.js";
import { Epmd, ErlNode, erlc, randomCookie, repoRoot, stopAll, tsSslEbin } from "../support/erlang.js";
import { testDir } from "../support/temp.js";

const RECORDS = 100;
/** Trials of each kind, native and ts_ssl each time. */
const REPEAT = 3;

let pki: Pki;
let epmd: Epmd;
let bridge: Node;
let erl: ErlNode;
let pairs = 0;

beforeAll(async () => {
  pki = makePki();
  erlc(
    [join(repoRoot, "test", "ssl", "close_reset.erl"), join(repoRoot, "erlang_stub", "test", "ts_ssl_native.erl")],
    pki.dir,
    ["-pa", tsSslEbin],
  );
  const cookie = randomCookie();
  epmd = await Epmd.start();
  bridge = await startSslBridge(cookie, epmd.port);
  erl = await ErlNode.start({ epmdPort: epmd.port, cookie, codePaths: [pki.dir] });
  await erl.eval(`{ok, _} = application:ensure_all_started(ssl), application:set_env(ts_ssl, bridge, '${bridge.name.name}'), ok = ts_ssl:start()`);
}, 60_000);

afterAll(async () => {
  await erl?.stop();
  await bridge?.stop();
  await epmd?.stop();
  await stopAll();
  pki?.remove();
});

type Mode = "passive" | "once";
type Close = "ssl" | "ssl_then_reset" | "reset";

interface Outcome {
  /** Bytes the server's owner got, and whether they were the client's first bytes, in order. */
  received: number;
  inOrder: boolean;
  /** What told the owner of the end. */
  end: string;
  /** The client's kernel: bytes received from the server, and those its ssl never read. */
  got: number;
  unread: number;
  /** Bytes the client's kernel had been given and had not sent yet, just before the close. */
  unsent: number;
}

function outcome(t: Term): Outcome {
  if (!(t instanceof ErlMap)) throw new Error(`not a map: ${formatTerm(t)}`);
  const get = (k: string): Term => {
    const v = t.get(atom(k));
    if (v === undefined) throw new Error(`no ${k} in ${formatTerm(t)}`);
    return v;
  };
  return {
    received: Number(get("received")),
    inOrder: (get("in_order") as Atom).name === "true",
    end: formatTerm(get("end")),
    got: Number(get("got")),
    unread: Number(get("unread")),
    unsent: Number(get("unsent")),
  };
}

/** Runs nothing else in this process until `done()`, or until `ms` have passed. */
function stall(done: () => boolean, ms: number): void {
  const until = Date.now() + ms;
  while (!done() && Date.now() < until);
}

interface Steps {
  close: Close;
  /** The client waits until its kernel has had every byte acknowledged before it closes. */
  acked: boolean;
  /** The bridge runs nothing from the client's first record until it has closed. */
  busy: boolean;
  records: number;
  /** Bytes per record. */
  size: number;
}

async function trial(mod: string, mode: Mode, steps: Steps): Promise<Outcome> {
  const p = `Pair${pairs++}`;
  const server = `[{certfile, ${JSON.stringify(pki.server.certFile)}}, {keyfile, ${JSON.stringify(pki.server.keyFile)}}]`;
  await erl.eval(`${p} = close_reset:pair(${mod}, ${server}, ${mode}, ${steps.records}, ${steps.size})`);
  const marker = join(testDir("ts-ssl-close-reset-"), "closing");
  const run = erl.eval(`close_reset:run(${p}, #{acked => ${steps.acked}, close => ${steps.close}, marker => ${JSON.stringify(marker)}})`);
  if (steps.busy) {
    // The client writes the marker as it starts to close; what its close sends at once (a
    // reset, or close_notify and FIN) then reaches the bridge's kernel while the bridge still
    // runs nothing.
    stall(() => existsSync(marker), 10_000);
    stall(() => false, 100);
  }
  return outcome(decode((await run).etf));
}

/** Native first, then ts_ssl, REPEAT times. */
async function both(mode: Mode, steps: Steps): Promise<Array<[Outcome, Outcome]>> {
  const out: Array<[Outcome, Outcome]> = [];
  for (let i = 0; i < REPEAT; i++) out.push([await trial("ts_ssl_native", mode, steps), await trial("ts_ssl", mode, steps)]);
  return out;
}

const delivered = (o: Outcome) => ({ received: o.received, inOrder: o.inOrder, end: o.end });
const all = { received: RECORDS, inOrder: true };
const small = { records: RECORDS, size: 1, busy: true };

describe.each<Mode>(["passive", "once"])("a native client's 100 records, then its close, to a %s server socket", (mode) => {
  it("ssl:close/1: every record, then the end, as OTP's server gets them; the client read node:tls's tickets, so its close is no reset", async () => {
    for (const [native, ts] of await both(mode, { ...small, close: "ssl", acked: false })) {
      expect(native).toMatchObject(all);
      expect(delivered(ts)).toEqual(delivered(native));
      // OTP's client reads what comes while its user is not reading: the session tickets only
      // ts_ssl's server sends (OTP's sends none) reached it, and it left nothing unread.
      expect(ts.got).toBeGreaterThan(native.got);
      expect([native.unread, ts.unread]).toEqual([0, 0]);
    }
  }, 120_000);

  it("a reset after the client's close_notify and FIN: every record, then the end, as OTP's server gets them", async () => {
    for (const [native, ts] of await both(mode, { ...small, close: "ssl_then_reset", acked: true })) {
      expect(native).toMatchObject({ ...all, unsent: 0 });
      expect(delivered(ts)).toEqual(delivered(native));
    }
  }, 120_000);

  it("a bare reset once every record had reached the server: every record, then the end, as OTP's server gets them", async () => {
    for (const [native, ts] of await both(mode, { ...small, close: "reset", acked: true })) {
      expect(native).toMatchObject({ ...all, unsent: 0 });
      expect(delivered(ts)).toEqual(delivered(native));
    }
  }, 120_000);
});

it("a reset with more than the read-ahead sent: what the bridge read ahead and what its kernel still held come before the end, as from OTP's server", async () => {
  // 72 KB: the bridge reads 64 KiB ahead of the owner, who reads only after the reset, and stops.
  const steps: Steps = { records: 72, size: 1000, busy: false, close: "reset", acked: true };
  for (const [native, ts] of await both("passive", steps)) {
    expect(native).toMatchObject({ received: 72_000, inOrder: true, unsent: 0 });
    expect(delivered(ts)).toEqual(delivered(native));
  }
}, 120_000);

it("the other way round: ts_ssl's client reads the tickets of an OTP server that sends them, and its 100 records then close reach the server", async () => {
  // OTP's own client, in the same steps, loses records now and then (3 or 4 of 100 have been
  // seen, then {error, closed}): the trial is only known to work when one of its runs gets
  // everything. ts_ssl's client reads what comes while its owner does not, tickets included.
  const server = `[{certfile, ${JSON.stringify(pki.server.certFile)}}, {keyfile, ${JSON.stringify(pki.server.keyFile)}}, {session_tickets, stateless}]`;
  const native: string[] = [];
  for (let i = 0; i < 10; i++) {
    native.push((await erl.eval(`close_reset:client_trial(ts_ssl_native, ${server})`)).text);
    expect((await erl.eval(`close_reset:client_trial(ts_ssl, ${server})`)).text).toBe("{true,100,{error,closed}}");
  }
  expect(native).toContain("{true,100,{error,closed}}");
}, 60_000);

describe("plain TCP (gen_tcp) on this kernel", () => {
  it("a close with bytes unread is a reset that discards what the closing side had not sent; the other side reads all that arrived, then econnreset", async () => {
    for (let i = 0; i < REPEAT; i++) {
      const o = decode((await erl.eval("close_reset:tcp_trial()")).etf) as ErlMap;
      const n = (k: string) => Number(o.get(atom(k)));
      expect(n("unread")).toBe(500);
      expect(n("received") + n("unsent")).toBe(RECORDS);
      expect(formatTerm(o.get(atom("end"))!)).toBe("{error,econnreset}");
    }
  });
});
