/**
 * Asking a real node: many cases per evaluation, each checked by the node itself, which answers
 * `ok` or, for the first case that failed, what it found.
 */
import { atom, tuple, type Term } from "../../etf/terms.js";
import type { ParseOptions, PacketType } from "../../ts-ssl/packet/types.js";
import type { ErlNode } from "../support/erlang.js";

export interface Mismatch {
  /** Index of the first failing case. */
  index: number;
  /** How many cases failed. */
  count: number;
  /** What the node said about it, printed by the node. */
  text: string;
}

/**
 * Runs `check` (Erlang source of a fun of one argument returning `ok` when the case passes) over
 * `cases` (Erlang source of each case), `batch` cases per evaluation, batches in turn.
 */
export async function firstMismatch(node: ErlNode, check: string, cases: string[], batch = 2000): Promise<Mismatch | undefined> {
  let count = 0;
  let first: Mismatch | undefined;
  for (let start = 0; start < cases.length; start += batch) {
    const items = cases.slice(start, start + batch);
    const { text } = await node.eval(`(fun() ->
      PkCheck = ${check},
      {_, PkBad} = lists:foldl(fun(PkCase, {PkI, PkAcc}) ->
          case PkCheck(PkCase) of ok -> {PkI + 1, PkAcc}; PkR -> {PkI + 1, [{PkI, PkR} | PkAcc]} end
        end, {0, []}, [${items.join(",\n")}]),
      case lists:reverse(PkBad) of [] -> ok; [{PkI, PkR} | _] -> {length(PkBad), PkI, PkR} end
    end)()`);
    if (text === "ok") continue;
    const m = /^\{(\d+),\s*(\d+),/.exec(text);
    if (m === null) throw new Error(`unexpected answer: ${text}`);
    count += Number(m[1]);
    first ??= { index: start + Number(m[2]), count: 0, text };
  }
  return first === undefined ? undefined : { ...first, count };
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
