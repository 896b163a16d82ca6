/**
 * Asking a real node: many cases per evaluation, sent as one compressed external term made by
 * our encoder, each checked by the node itself, which answers `ok` or, for the first case that
 * failed, what it found (decoded by our decoder).
 */
import { decode } from "../../etf/decode.js";
import { encode } from "../../etf/encode.js";
import { formatTerm } from "../../etf/format.js";
import { Tuple, atom, tuple, type Term } from "../../etf/terms.js";
import type { ParseOptions, PacketType } from "../../ts-ssl/packet/types.js";
import type { ErlNode } from "../support/erlang.js";

export interface Mismatch {
  /** Index of the first failing case. */
  index: number;
  /** How many cases failed. */
  count: number;
  /** What the check said about it. */
  found: Term;
}

/**
 * Runs `check` (Erlang source of a fun of one argument returning `ok` when the case passes) over
 * `cases`, `batch` cases per evaluation, batches in turn.
 */
export async function firstMismatch(node: ErlNode, check: string, cases: Term[], batch = 2000): Promise<Mismatch | undefined> {
  let count = 0;
  let first: Mismatch | undefined;
  for (let start = 0; start < cases.length; start += batch) {
    const payload = encode(cases.slice(start, start + batch), { compressed: true }).toString("base64");
    const { etf } = await node.eval(`(fun() ->
      PkCheck = ${check},
      PkCases = binary_to_term(base64:decode(<<"${payload}">>)),
      {_, PkBad} = lists:foldl(fun(PkCase, {PkI, PkAcc}) ->
          case PkCheck(PkCase) of ok -> {PkI + 1, PkAcc}; PkR -> {PkI + 1, [{PkI, PkR} | PkAcc]} end
        end, {0, []}, PkCases),
      case lists:reverse(PkBad) of [] -> ok; [{PkI, PkR} | _] -> {length(PkBad), PkI, PkR} end
    end)()`);
    const answer = decode(etf);
    if (answer === atom("ok")) continue;
    if (!(answer instanceof Tuple) || answer.size !== 3) throw new Error(`unexpected answer: ${formatTerm(answer)}`);
    const [n, i, found] = answer.elements as [number, number, Term];
    count += n;
    first ??= { index: start + i, count: 0, found };
  }
  return first === undefined ? undefined : { ...first, count };
}

/** For failure messages: a term as Erlang prints it. */
export function show(t: Term): string {
  return formatTerm(t, { maxLength: 4000 });
}

/** `erlang:decode_packet/3`'s options list for these parse options (line_delimiter only for `line`, as the BIF wants). */
export function decodeOptions(type: PacketType, o: ParseOptions): Term {
  const list: Term[] = [];
  if (o.packetSize !== undefined) list.push(pair("packet_size", o.packetSize));
  if (o.lineLength !== undefined) list.push(pair("line_length", o.lineLength));
  if (o.lineDelimiter !== undefined && type === "line") list.push(pair("line_delimiter", o.lineDelimiter));
  return list;
}

function pair(name: string, value: number): Term {
  return tuple(atom(name), value);
}

/** The Erlang atom or integer for a packet type. */
export function packetTypeTerm(type: PacketType): Term {
  return typeof type === "number" ? type : atom(type);
}
