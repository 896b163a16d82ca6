/**
 * A real `erl` node with `etf_oracle` loaded: batches of terms or byte strings go over in one
 * evaluation and come back answered element by element; `bench` times the emulator's own codec.
 */
import { join } from "node:path";
import { Epmd, ErlNode, erlcShared, randomCookie, repoRoot } from "../support/erlang.js";
import { Float, Tuple, decode, encode, type Term } from "../../etf/index.js";

const ebin = join(repoRoot, "_build", "test_support", "etf");

/** Bytes as an Erlang binary literal. */
function erlBinary(b: Uint8Array): string {
  return `<<${Array.from(b).join(",")}>>`;
}

export class Oracle {
  private constructor(readonly node: ErlNode) {}

  static async start(): Promise<Oracle> {
    erlcShared(join(repoRoot, "test", "etf", "etf_oracle.erl"), ebin);
    const epmd = await Epmd.start();
    return new Oracle(await ErlNode.start({ epmdPort: epmd.port, cookie: randomCookie(), codePaths: [ebin] }));
  }

  async #call(fn: string, arg: Term): Promise<Term[]> {
    const { etf } = await this.node.eval(`etf_oracle:${fn}(binary_to_term(${erlBinary(encode(arg))}))`);
    return decode(etf) as Term[];
  }

  /** For each input: the node's canonical re-encoding of binary_to_term(input), or undefined if it refused. */
  async decodeEach(inputs: Uint8Array[]): Promise<Array<Buffer | undefined>> {
    const out = await this.#call("decode_each", inputs);
    return out.map((r) => (r instanceof Tuple ? Buffer.from(r.at(1) as Uint8Array) : undefined));
  }

  /** For each pair: [term order, map-key order] as the node sees them. */
  async compareEach(pairs: Array<[Term, Term]>): Promise<Array<[number, number]>> {
    const out = await this.#call("compare_each", pairs.map(([a, b]) => new Tuple([a, b])));
    return out.map((r) => [(r as Tuple).at(0) as number, (r as Tuple).at(1) as number]);
  }

  /** Binds `bytes` to a variable on the node (for `bench`, so that each round need not resend them). */
  async bind(name: string, bytes: Uint8Array): Promise<void> {
    await this.node.eval(`${name} = ${erlBinary(bytes)}, ok`);
  }

  /**
   * How many binary_to_term/1 calls of the bytes bound to `name`, and how many term_to_binary/2
   * calls of the term they hold, take about `ms` milliseconds each.
   */
  async calibrate(name: string, ms: number): Promise<{ decodeCalls: number; encodeCalls: number }> {
    const { etf } = await this.node.eval(`etf_oracle:calibrate(${name}, ${ms})`);
    const r = decode(etf) as Tuple;
    return { decodeCalls: Number(r.at(0)), encodeCalls: Number(r.at(1)) };
  }

  /**
   * Nanoseconds per binary_to_term/1 and per term_to_binary/2 of the bytes bound to `name`, over
   * exactly `decodeCalls` and `encodeCalls` calls, each loop first run a quarter as long untimed.
   */
  async bench(name: string, decodeCalls: number, encodeCalls: number): Promise<{ decodeNs: number; encodeNs: number }> {
    const { etf } = await this.node.eval(`etf_oracle:bench(${name}, ${decodeCalls}, ${encodeCalls})`);
    const r = decode(etf) as Tuple;
    return { decodeNs: (r.at(0) as Float).value, encodeNs: (r.at(1) as Float).value };
  }

  /** For each term: [~w, single-line ~p]. */
  async formatEach(terms: Term[]): Promise<Array<[string, string]>> {
    const out = await this.#call("format_each", terms);
    const text = (x: Term | undefined) => Buffer.from(x as Uint8Array).toString("utf8");
    return out.map((r) => [text((r as Tuple).at(0)), text((r as Tuple).at(1))]);
  }
}
