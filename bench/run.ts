/**
 * `npm run bench [part ...]`: every benchmark part, each printing the bridge beside native OTP
 * measured in the same run. A part is a module `bench/<part>.ts` exporting `run(): Promise<void>`.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const parts = ["etf", "dist", "ssl"];
const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);

const unknown = wanted.filter((p) => !parts.includes(p));
if (unknown.length > 0) {
  console.error(`unknown benchmark part: ${unknown.join(", ")} (the parts: ${parts.join(", ")})`);
  process.exit(2);
}

const rounds = process.env.BENCH_ROUNDS;
if (rounds !== undefined && !/^[1-9]\d*$/.test(rounds)) {
  console.error(`BENCH_ROUNDS must be a whole number of rounds, 1 or more (not "${rounds}")`);
  process.exit(2);
}

for (const part of wanted.length > 0 ? wanted : parts) {
  console.log(`\n== ${part}`);
  const mod = (await import(join(here, `${part}.js`))) as { run(): Promise<void> };
  await mod.run();
}
