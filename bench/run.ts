/**
 * `npm run bench [part ...]`: every benchmark part, each printing the bridge beside native OTP
 * measured in the same run. A part is a module `bench/<part>.ts` exporting `run(): Promise<void>`.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const parts = ["etf", "dist", "ssl"];
const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);

for (const part of wanted.length > 0 ? wanted : parts) {
  const file = join(here, `${part}.js`);
  if (!existsSync(file)) {
    console.log(`\n== ${part}: no benchmark yet`);
    continue;
  }
  console.log(`\n== ${part}`);
  const mod = (await import(file)) as { run(): Promise<void> };
  await mod.run();
}
