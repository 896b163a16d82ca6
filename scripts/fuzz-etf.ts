/**
 * `npm run fuzz [-- --seconds N] [--seed S] [--erl]`: the codec's fuzzer, for longer runs than
 * the test suite affords.
 *
 * Until the time is up (60 s by default) it decodes random byte strings, byte strings that start
 * with a real tag, and valid terms with a few bytes changed, and round-trips random terms; any
 * exception other than EtfError, and any term that does not survive encode/decode, is a
 * failure. With --erl, every mutated input also goes to a real `erl` node, which must accept
 * exactly the inputs we accept and read them as the same term. Prints what each kind of input
 * produced (error codes included) and, on a failure, the input and the seed to replay it.
 */
import fc from "fast-check";
import { stopAll } from "../test/support/erlang.js";
import { hasBigMap, mutated, randomTerm, term } from "../test/etf/arbitraries.js";
import { hex } from "../test/etf/helpers.js";
import { Oracle } from "../test/etf/oracle.js";
import { EtfError, INTERNAL_TAGS, decode, decodeAt, encode, formatTerm, termEquals, type Term } from "../etf/index.js";

interface Options {
  seconds: number;
  seed: number;
  erl: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { seconds: 60, seed: Date.now() % 2 ** 31, erl: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--seconds") o.seconds = Number(argv[++i]);
    else if (a === "--seed") o.seed = Number(argv[++i]);
    else if (a === "--erl") o.erl = true;
    else throw new Error(`unknown argument ${a} (use --seconds N, --seed S, --erl)`);
  }
  return o;
}

class Failure extends Error {}

const internal = new Set<number>(Object.values(INTERNAL_TAGS));

/** Decodes like binary_to_term/1 (trailing bytes ignored): a term, or the EtfError's code. */
function attempt(b: Uint8Array): Term | EtfError {
  try {
    return decodeAt(b, 0).term;
  } catch (e) {
    if (e instanceof EtfError) return e;
    throw new Failure(`${String(e)}\n  input ${hex(b)}`);
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  console.log(`fuzzing the ETF codec for ${o.seconds} s, seed ${o.seed}${o.erl ? ", against erl" : ""}`);
  const oracle = o.erl ? await Oracle.start() : undefined;
  const outcomes = new Map<string, number>();
  const count = (kind: string, r: Term | EtfError) => {
    const key = `${kind}: ${r instanceof EtfError ? r.code : "term"}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  };
  const deadline = Date.now() + o.seconds * 1000;
  let round = 0;
  let cases = 0;
  try {
    while (Date.now() < deadline) {
      const seed = o.seed + round++;
      for (const b of fc.sample(fc.uint8Array({ maxLength: 64 }), { numRuns: 2000, seed })) {
        count("random", attempt(b));
        count("random after 131", attempt(Buffer.concat([Buffer.from([131]), b])));
      }
      for (const b of fc.sample(randomTerm, { numRuns: 2000, seed })) count("tag-led", attempt(b));
      const inputs = fc.sample(mutated(), { numRuns: 2000, seed });
      for (const b of inputs) count("mutated", attempt(b));
      for (const t of fc.sample(term({ bigMaps: true, funs: true }), { numRuns: 500, seed })) {
        const back = decode(encode(t));
        if (!termEquals(back, t)) throw new Failure(`round trip changed ${formatTerm(t)} into ${formatTerm(back)} (seed ${seed})`);
        count("round trip", back);
      }
      cases += 8500;
      if (oracle !== undefined) {
        // No local funs for the node: OTP 25 can crash on some mangled NEW_FUN_EXT it accepted.
        const batch = fc.sample(mutated({}), { numRuns: 500, seed });
        const theirs = await oracle.decodeEach(batch);
        batch.forEach((b, i) => {
          const ours = attempt(b);
          if (ours instanceof EtfError && ours.tag !== undefined && internal.has(ours.tag)) return;
          const t = theirs[i];
          const same =
            ours instanceof EtfError
              ? t === undefined
              : t !== undefined && (hasBigMap(ours) ? termEquals(decode(t), ours) : hex(encode(ours)) === hex(t));
          if (!same) {
            const mine = ours instanceof EtfError ? ours.message : formatTerm(ours);
            throw new Failure(`erl disagrees (seed ${seed}) on ${hex(b)}: ours ${mine}, erl ${t === undefined ? "badarg" : formatTerm(decode(t))}`);
          }
          count("against erl", ours);
        });
        cases += batch.length;
      }
    }
  } catch (e) {
    if (e instanceof Failure) {
      console.error(`FAILED after ${cases} cases (rerun with --seed ${o.seed}): ${e.message}`);
      process.exitCode = 1;
      return;
    }
    throw e;
  } finally {
    await stopAll();
  }
  for (const [k, n] of [...outcomes.entries()].sort()) console.log(`  ${k.padEnd(36)} ${n}`);
  console.log(`${cases} cases, no failure`);
}

await main();
