/**
 * What each reliability test file shares: an EPMD of its own, a cookie, certificates made by the
 * `openssl` command line, rel.erl compiled, and `erl` nodes that load it. `close()` stops all of
 * it and removes the files, however the tests ended.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { makePki, type Pki } from "../support/certs.js";
import { Epmd, ErlNode, erlc, randomCookie, repoRoot, stopAll } from "../support/erlang.js";
import { killBridges, sleep, type BridgeProcess } from "./bridge-process.js";

/** RELIABILITY_FULL=1: the full sizes of the issue rather than the ones sized for `npm test`. */
export const full = process.env.RELIABILITY_FULL === "1";

export interface World {
  readonly epmd: Epmd;
  readonly cookie: string;
  readonly pki: Pki;
  /** The server credential as native ssl options, Erlang text. */
  readonly creds: string;
  /** An erl node with rel.erl loaded; `args` are extra erl flags. */
  erl(args?: string[]): Promise<ErlNode>;
  close(): Promise<void>;
}

export async function world(): Promise<World> {
  const ebin = mkdtempSync(join(tmpdir(), "rel-ebin-"));
  let pki: Pki | undefined;
  try {
    erlc([join(repoRoot, "test", "reliability", "rel.erl")], ebin);
    pki = makePki();
    const epmd = await Epmd.start();
    const cookie = randomCookie();
    const p = pki;
    return {
      epmd,
      cookie,
      pki: p,
      creds: `[{certfile, ${JSON.stringify(p.server.certFile)}}, {keyfile, ${JSON.stringify(p.server.keyFile)}}]`,
      erl: (args = []) => ErlNode.start({ epmdPort: epmd.port, cookie, codePaths: [ebin], args }),
      close: async () => {
        await killBridges();
        await stopAll();
        rmSync(ebin, { recursive: true, force: true });
        rmSync(p.dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await stopAll();
    rmSync(ebin, { recursive: true, force: true });
    if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
    throw e;
  }
}

/** The world of one test file: made before its first test, closed after its last. */
export function worldOfFile(): World {
  let made: World | undefined;
  beforeAll(async () => {
    made = await world();
  });
  afterAll(async () => {
    await made?.close();
  });
  const the = (): World => {
    if (made === undefined) throw new Error("the test file's world is not made yet (use it inside a test)");
    return made;
  };
  return {
    get epmd() {
      return the().epmd;
    },
    get cookie() {
      return the().cookie;
    },
    get pki() {
      return the().pki;
    },
    get creds() {
      return the().creds;
    },
    erl: (args) => the().erl(args),
    close: () => the().close(),
  };
}

/** Points the ts_ssl application of `node` at `bridge`. */
export async function useBridge(node: ErlNode, bridge: BridgeProcess): Promise<void> {
  await node.eval(`application:load(ts_ssl), ok = application:set_env(ts_ssl, bridge, '${bridge.nodeName}')`);
}

/** The value of an expression that gives an integer. */
export async function int(node: ErlNode, expr: string): Promise<number> {
  const { text } = await node.eval(expr);
  const n = Number(text);
  if (!Number.isInteger(n)) throw new Error(`${expr} gave ${text}, not an integer`);
  return n;
}

/** Whether an expression is true on `node`. */
export async function holds(node: ErlNode, expr: string): Promise<boolean> {
  return (await node.eval(expr)).text === "true";
}

/** Waits until `expr` is true on `node`, polling; the time it took, or throws after `ms`. */
export async function waitFor(node: ErlNode, expr: string, ms: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await holds(node, expr)) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`not true after ${ms} ms: ${expr}\n${(await node.eval("rel:take(Col)")).text.slice(0, 3000)}`);
    await sleep(50);
  }
}
