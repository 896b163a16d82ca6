/**
 * `{packet, line}`: a packet ends with the line delimiter (`{line_delimiter, C}`, default `$\n`),
 * which is delivered with it.
 *
 * Two limits, as inet applies them: a line longer than `packet_size` is invalid; a line longer
 * than the truncation length comes cut at that length and the rest of it is the next packet.
 * `decode_packet/3` truncates at `{line_length, N}`; a gen_tcp socket at its `buffer` size (see
 * framer.ts), so a long line never waits for its end.
 */
import { frame, invalid, needMore, type Framed, type ParseOptions } from "./types.js";

const NEWLINE = 10;

export function parseLine(bytes: Uint8Array, options: ParseOptions): Framed {
  const packetSize = options.packetSize ?? 0;
  const lineLength = options.lineLength ?? 0;
  const end = bytes.indexOf(options.lineDelimiter ?? NEWLINE);
  if (end < 0) {
    if (packetSize !== 0 && bytes.length > packetSize) return invalid;
    if (lineLength !== 0 && bytes.length >= lineLength) return frame(lineLength, bytes.subarray(0, lineLength));
    return needMore;
  }
  const size = end + 1;
  if (packetSize !== 0 && size > packetSize) return invalid;
  if (lineLength !== 0 && size > lineLength) return frame(lineLength, bytes.subarray(0, lineLength));
  return frame(size, bytes.subarray(0, size));
}
