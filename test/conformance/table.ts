/**
 * What a conformance run prints: the table (scenario, OTP's result, the bridge's result,
 * same / dialect / DIFF), the traces of every row that is not `same`, and the dialect table as
 * README.md "Differences from modern OTP ssl" holds it (rendered here from conf_dialect.erl).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../support/erlang.js";
import type { Api, ConformanceRun, DialectRule, Row } from "./runner.js";

const CELL = 48;

function cell(s: string, width = CELL): string {
  const one = s.replace(/\s+/g, " ");
  return one.length <= width ? one : `${one.slice(0, width - 1)}…`;
}

/**
 * The step a row is shown by: for a DIFF the one no rule explains, else the first that differs,
 * else the last (how the scenario ended).
 */
function shownStep(row: Row): number {
  if (row.verdict === "DIFF" && row.at > 0) return row.at - 1;
  const n = Math.max(row.otp.length, row.bridge.length);
  for (let i = 0; i < n; i++) if (row.otp[i] !== row.bridge[i]) return i;
  return n - 1;
}

function verdictCell(row: Row): string {
  return row.verdict === "dialect" ? `dialect: ${row.rules.join(", ")}` : row.verdict;
}

export function formatTable(run: ConformanceRun, options: { traces?: "all" | "differing" } = {}): string {
  const second = run.against === "ssl" ? "OTP ssl again" : `bridge (${run.against})`;
  const head = ["scenario", "OTP ssl", second, "verdict"];
  const body = run.rows.map((r) => {
    const i = shownStep(r);
    return [`${r.module}:${r.scenario}`, cell(r.otp[i] ?? "(no step)"), cell(r.bridge[i] ?? "(no step)"), verdictCell(r)];
  });
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c]!.length)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join(" | ").trimEnd();
  const out = [line(head), widths.map((w) => "-".repeat(w)).join("-+-"), ...body.map(line)];

  const shown = run.rows.filter((r) =>
    options.traces === "all" ? true : options.traces === "differing" ? r.verdict !== "same" : r.verdict === "DIFF",
  );
  for (const r of shown) out.push("", ...formatTraces(r));

  const count = (v: string) => run.rows.filter((r) => r.verdict === v).length;
  out.push(
    "",
    `${run.rows.length} scenarios: ${count("same")} same, ${count("dialect")} dialect, ${count("DIFF")} DIFF` +
      ` (${(run.elapsedMs / 1000).toFixed(1)} s)`,
  );
  if (run.against === "ssl") out.push("Self-check: OTP's ssl was compared with itself.");
  return out.join("\n");
}

/** Both traces of a row, step by step; `>` marks steps that differ, `!` the one no rule explains. */
export function formatTraces(row: Row): string[] {
  const out = [`${row.module}:${row.scenario}: ${verdictCell(row)}`];
  const n = Math.max(row.otp.length, row.bridge.length);
  for (let i = 0; i < n; i++) {
    const o = row.otp[i] ?? "(none)";
    const b = row.bridge[i] ?? "(none)";
    const mark = i + 1 === row.at ? "!" : o === b ? " " : ">";
    if (o === b) out.push(`  ${mark} ${i + 1}. ${o}`);
    else out.push(`  ${mark} ${i + 1}. OTP:    ${o}`, `       bridge: ${b}`);
  }
  return out;
}

const readmePath = join(repoRoot, "README.md");
/** Per API: the README's markers around its table, and the table's head. */
const readmeTables: Readonly<Record<Api, { start: string; end: string; head: string }>> = {
  "3.9": {
    start: "<!-- dialect table: made from test/conformance/erl/conf_dialect.erl by `npm run conformance -- --write-readme` -->",
    end: "<!-- end of dialect table -->",
    head: "| rule | modern OTP `ssl` | ssl 3.9 (`ts_ssl`) | why |",
  },
  modern: {
    start:
      "<!-- modern dialect table: made from test/conformance/erl/conf_dialect_otp.erl by `npm run conformance -- --modern --write-readme` -->",
    end: "<!-- end of modern dialect table -->",
    head: "| rule | OTP's `ssl` | `ts_ssl_otp` | why |",
  },
};

const escape = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The README's table of an API's dialect rules. */
export function dialectMarkdown(rules: DialectRule[], api: Api = "3.9"): string {
  const { start, end, head } = readmeTables[api];
  const rows = rules.map((r) => `| \`${r.name}\` | ${escape(r.otp)} | ${escape(r.tsSsl)} | ${escape(r.why)} |`);
  return [start, head, "| --- | --- | --- | --- |", ...rows, end].join("\n");
}

/** The API's table as README.md has it now, or undefined when the markers are missing. */
export function readmeDialect(api: Api = "3.9"): string | undefined {
  const { start: START, end: END } = readmeTables[api];
  const text = readFileSync(readmePath, "utf8");
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return undefined;
  return text.slice(start, end + END.length);
}

/** Replaces the README's table of the API (between its markers) with the one made from `rules`. */
export function writeReadmeDialect(rules: DialectRule[], api: Api = "3.9"): void {
  const text = readFileSync(readmePath, "utf8");
  const current = readmeDialect(api);
  if (current === undefined) throw new Error(`README.md has no dialect table markers (${readmeTables[api].start})`);
  // A function, so that `$` in a rule's text is not read as a replacement pattern.
  writeFileSync(readmePath, text.replace(current, () => dialectMarkdown(rules, api)));
}
