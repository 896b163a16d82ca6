/**
 * The differential conformance run: every scenario of test/conformance/scenarios (and of any
 * folder added) runs twice on one real `erl` node, once with OTP's own `ssl` and once with
 * `ts_ssl` served by a bridge in this process, and the two normalised traces are compared
 * through the dialect table (erl/conf_dialect.erl). The modern API's scenarios
 * (test/conformance/modern) run the same way with `ssl` itself and `ts_ssl_otp`, through
 * erl/conf_dialect_otp.erl. The Erlang side is erl/conf_runner.erl;
 * this file starts everything (its own EPMD, the bridge, the node), compiles the scenarios,
 * runs them one by one and renders the table. `npm run conformance` (main.ts) and
 * conformance.test.ts both call `runConformance`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decode } from "../../etf/decode.js";
import { Atom, Tuple, listElements, type Term } from "../../etf/terms.js";
import type { Node } from "../../bridge/api.js";
import { startSslBridge } from "../support/bridge.js";
import { Epmd, ErlNode, erlc, randomCookie, repoRoot, tsSslEbin } from "../support/erlang.js";

const conformanceDir = join(repoRoot, "test", "conformance");
/** The APIs compared: ssl 3.9's (`ts_ssl`) and OTP 25's (`ts_ssl_otp`). */
export type Api = "3.9" | "modern";

/** Per API: its scenarios, OTP's module in the scenarios' names, and the bridge's module. */
export const apis: Readonly<Record<Api, { dir: string; reference: string; module: string }>> = {
  "3.9": { dir: join(conformanceDir, "scenarios"), reference: "ts_ssl_native", module: "ts_ssl" },
  modern: { dir: join(conformanceDir, "modern"), reference: "ssl", module: "ts_ssl_otp" },
};
const libraryDir = join(conformanceDir, "erl");
/** What the Common Test suites use too: their certificate maker, native ssl peer and 3.9 adapter. */
const sharedModules = ["ts_ssl_certs.erl", "ts_ssl_peers.erl", "ts_ssl_native.erl"].map((f) =>
  join(repoRoot, "erlang_stub", "test", f),
);

/** How one scenario fared: `same` (equal traces), `dialect` (differences the table explains), `DIFF`. */
type Verdict = "same" | "dialect" | "DIFF";

export interface Row {
  module: string;
  scenario: string;
  verdict: Verdict;
  /** The dialect rules that explained the differences. */
  rules: string[];
  /** The 1-based step that no rule explains (DIFF), else 0. */
  at: number;
  /** The traces as `label: value` lines, normalised. */
  otp: string[];
  bridge: string[];
}

export interface DialectRule {
  name: string;
  otp: string;
  tsSsl: string;
  why: string;
}

export interface ConformanceOptions {
  /** Which API's scenarios to run (default ssl 3.9's). */
  api?: Api;
  /** Extra folders of scenario modules (`*.erl`), besides test/conformance/scenarios. */
  dirs?: string[];
  /** Run only scenarios whose `module:function` contains one of these. */
  only?: string[];
  /**
   * Compare OTP's ssl with itself instead of with ts_ssl: a check of the scenarios (a scenario
   * that differs from itself depends on timing).
   */
  selfCheck?: boolean;
  /** Progress lines (one per scenario). */
  log?: (line: string) => void;
}

export interface ConformanceRun {
  api: Api;
  /** The bridge's module, or `ssl` when OTP was compared with itself. */
  against: string;
  rows: Row[];
  dialect: DialectRule[];
  elapsedMs: number;
}

/** The time each run of a scenario has (conf_runner cuts it off as `hang` then). */
const SCENARIO_LIMIT_MS = 20_000;
/** Past this the node itself has stopped answering (both runs and the comparison take less). */
const SCENARIO_GUARD_MS = 2 * SCENARIO_LIMIT_MS + 10_000;

/** The scenario modules of the folders: every `*.erl`. */
function scenarioFiles(dirs: string[]): string[] {
  return dirs.flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith(".erl"))
      .sort()
      .map((f) => join(d, f)),
  );
}

/**
 * Compiles the library, the scenarios and the modules shared with the suites into `out`. A
 * warning in the library or the shared modules fails the run: with ts_ssl's ebin on the path,
 * that includes a callback of ts_ssl_api that ts_ssl_native does not export.
 */
function compile(files: string[], out: string): void {
  const library = readdirSync(libraryDir)
    .filter((f) => f.endsWith(".erl"))
    .map((f) => join(libraryDir, f));
  erlc([...library, ...sharedModules], out, ["+debug_info", "+warnings_as_errors", "-I", libraryDir, "-pa", tsSslEbin]);
  erlc(files, out, ["+debug_info", "-I", libraryDir]);
}

function ensureTsSsl(): void {
  if (existsSync(join(tsSslEbin, "ts_ssl.beam"))) return;
  const r = spawnSync("rebar3", ["compile"], { cwd: repoRoot, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`rebar3 compile failed:\n${r.stdout}${r.stderr}`);
}

const text = (t: Term | undefined): string => {
  if (t instanceof Atom) return t.name;
  if (t instanceof Uint8Array) return Buffer.from(t).toString("utf8");
  throw new Error(`expected an atom or a binary, not ${String(t)}`);
};

const texts = (t: Term | undefined): string[] => (t === undefined ? [] : (listElements(t) ?? [])).map(text);

function rowOf(t: Term): Row {
  if (!(t instanceof Tuple) || t.size !== 7) throw new Error("conf_runner:row/4 gave something else");
  const [module, scenario, verdict, rules, at, otp, bridge] = t.elements;
  const v = text(verdict);
  return {
    module: text(module),
    scenario: text(scenario),
    verdict: v === "diff" ? "DIFF" : (v as Verdict),
    rules: texts(rules),
    at: Number(at),
    otp: texts(otp),
    bridge: texts(bridge),
  };
}

async function evalTerm(node: ErlNode, source: string): Promise<Term> {
  return decode((await node.eval(source)).etf);
}

/** A hang of the whole node (not of one scenario, which the Erlang side catches) fails the run. */
function guarded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

export async function runConformance(options: ConformanceOptions = {}): Promise<ConformanceRun> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const work = mkdtempSync(join(tmpdir(), "ts-ssl-conformance-"));
  const ebin = join(work, "ebin");
  mkdirSync(ebin);
  const api = options.api ?? "3.9";
  const { dir, reference, module } = apis[api];
  const files = scenarioFiles([dir, ...(options.dirs ?? [])]);
  ensureTsSsl();
  compile(files, ebin);

  const cookie = randomCookie();
  let epmd: Epmd | undefined;
  let bridgeNode: Node | undefined;
  let erl: ErlNode | undefined;
  try {
    epmd = await Epmd.start();
    if (!options.selfCheck) bridgeNode = await startSslBridge(cookie, epmd.port);
    const against = bridgeNode === undefined ? "ssl" : module;
    erl = await ErlNode.start({ epmdPort: epmd.port, cookie, codePaths: [ebin] });
    const bridgeEnv = bridgeNode === undefined ? "ok" : `application:set_env(ts_ssl, bridge, '${bridgeNode.name.name}')`;
    await erl.eval(`${bridgeEnv}, conf_runner:setup("${join(work, "certs")}")`);

    const modules = files.map((f) => f.slice(f.lastIndexOf("/") + 1, -".erl".length));
    const listed = listElements(await evalTerm(erl, `conf_runner:scenarios([${modules.map((m) => `'${m}'`).join(", ")}])`)) ?? [];
    const scenarios = listed
      .map((t) => (t as Tuple).elements.map(text) as [string, string])
      .filter(([m, f]) => options.only === undefined || options.only.some((o) => `${m}:${f}`.includes(o)));

    const mod = bridgeNode === undefined ? reference : module;
    const rows: Row[] = [];
    for (const [m, f] of scenarios) {
      const call = `conf_runner:row('${m}', '${f}', ${reference}, ${mod}, ${SCENARIO_LIMIT_MS})`;
      const row = rowOf(await guarded(evalTerm(erl, call), SCENARIO_GUARD_MS, `${m}:${f}`));
      rows.push(row);
      log(`${row.verdict.padEnd(7)} ${m}:${f}${row.rules.length > 0 ? ` (${row.rules.join(", ")})` : ""}`);
    }
    const dialect = (listElements(await evalTerm(erl, `conf_runner:dialect_table(${reference})`)) ?? []).map((t) => {
      const [name, otp, tsSsl, why] = (t as Tuple).elements.map(text) as [string, string, string, string];
      return { name, otp, tsSsl, why };
    });
    return { api, against, rows, dialect, elapsedMs: Date.now() - started };
  } finally {
    await erl?.stop();
    await bridgeNode?.stop();
    await epmd?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
