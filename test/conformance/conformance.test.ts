/**
 * `npm test`'s part of the differential run, for each API: every scenario with OTP's ssl and
 * with the bridge's module for that API (`ts_ssl`, `ts_ssl_otp`) through a bridge in this
 * process (runner.ts). Fails on any DIFF, showing both traces, and when README.md's dialect
 * table is not the one the API's conf_dialect module makes.
 */
import { afterAll, describe, expect, it } from "vitest";
import { stopAll } from "../support/erlang.js";
import { apis, runConformance, type Api, type ConformanceRun } from "./runner.js";
import { dialectMarkdown, formatTable, formatTraces, readmeDialect } from "./table.js";

afterAll(stopAll);

describe.each(Object.keys(apis) as Api[])("the %s API", (api) => {
  const { module } = apis[api];

  it("scenarios give OTP's ssl the same trace each time (else they depend on timing)", async () => {
    const run = await runConformance({ api, selfCheck: true });
    const differing = run.rows.filter((r) => r.verdict !== "same");
    expect(differing.map((r) => formatTraces(r).join("\n")), formatTable(run)).toEqual([]);
  }, 300_000);

  describe(`${module} against OTP's ssl, scenario by scenario`, () => {
    let run: ConformanceRun;

    it("gives what OTP's ssl gives, or what the dialect table explains", async () => {
      run = await runConformance({ api });
      const table = formatTable(run);
      const diffs = run.rows.filter((r) => r.verdict === "DIFF");
      expect(run.rows.length, table).toBeGreaterThanOrEqual(60);
      expect(diffs.map((r) => formatTraces(r).join("\n")), table).toEqual([]);
    }, 300_000);

    it("README.md's dialect table is the API's conf_dialect module's", () => {
      expect(run, "the run above did not finish").toBeDefined();
      expect(readmeDialect(api)).toBe(dialectMarkdown(run.dialect, api));
    });

    it("uses every rule of the dialect table", () => {
      expect(run, "the run above did not finish").toBeDefined();
      const used = new Set(run.rows.flatMap((r) => r.rules));
      expect(run.dialect.map((d) => d.name).filter((n) => !used.has(n))).toEqual([]);
    });
  });
});
