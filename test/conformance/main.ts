/**
 * `npm run conformance [-- OPTIONS]`: the differential run (runner.ts), printed as a table.
 * Exits 1 when a scenario differs in a way the dialect table does not explain.
 *
 *   --modern         the modern API's scenarios (test/conformance/modern): ssl and ts_ssl_otp
 *   --only TEXT      only the scenarios whose module:function contains TEXT (repeatable)
 *   --dir FOLDER     scenario modules of your own, besides the API's folder (repeatable)
 *   --traces         print both traces of every row that is not `same` (DIFF rows always)
 *   --all-traces     print both traces of every row
 *   --self-check     compare OTP's ssl with itself: a scenario that differs depends on timing
 *   --write-readme   rewrite README.md's dialect table of the API from its conf_dialect module
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { runConformance } from "./runner.js";
import { formatTable, readmeDialect, dialectMarkdown, writeReadmeDialect } from "./table.js";

const { values } = parseArgs({
  options: {
    modern: { type: "boolean", default: false },
    only: { type: "string", multiple: true },
    dir: { type: "string", multiple: true },
    traces: { type: "boolean", default: false },
    "all-traces": { type: "boolean", default: false },
    "self-check": { type: "boolean", default: false },
    "write-readme": { type: "boolean", default: false },
  },
});

const api = values.modern ? "modern" : "3.9";
const run = await runConformance({
  api,
  only: values.only,
  dirs: values.dir?.map((d) => resolve(d)),
  selfCheck: values["self-check"],
  log: (line) => process.stderr.write(`${line}\n`),
});
console.log(formatTable(run, { traces: values["all-traces"] ? "all" : values.traces ? "differing" : undefined }));

if (values["write-readme"]) {
  writeReadmeDialect(run.dialect, api);
  console.log("README.md: dialect table rewritten.");
} else if (readmeDialect(api) !== dialectMarkdown(run.dialect, api)) {
  console.log("README.md's dialect table is not conf_dialect.erl's: run with --write-readme.");
  process.exitCode = 1;
}
if (run.rows.some((r) => r.verdict === "DIFF")) process.exitCode = 1;
