/**
 * `npm run soak [-- --minutes N]`: the soak of test/reliability/soak.ts for N minutes (10 by
 * default, 1 to 120): 1,000 concurrent echo loops from 4 erl nodes through a bridge started as
 * `npm start` starts it, a line of progress every 10 s and a summary. Exits 0 when the run had
 * no error and the bridge's RSS and fds stayed flat after the warm-up, 1 otherwise.
 */
import { soak } from "../test/reliability/soak.js";

function minutes(argv: string[]): number {
  let m = 10;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = a === "--minutes" ? argv[++i] : a.startsWith("--minutes=") ? a.slice("--minutes=".length) : undefined;
    if (v === undefined) {
      console.error(`soak: unknown argument ${JSON.stringify(a)} (expected --minutes N)`);
      process.exit(2);
    }
    m = Number(v);
  }
  if (!Number.isInteger(m) || m < 1 || m > 120) {
    console.error("soak: --minutes takes a whole number of minutes from 1 to 120");
    process.exit(2);
  }
  return m;
}

const result = await soak({ minutes: minutes(process.argv.slice(2)) });
process.exit(result.ok ? 0 : 1);
