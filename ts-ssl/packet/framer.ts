/**
 * A socket's packet framing, both directions, as a gen_tcp socket with the same `packet`,
 * `packet_size`, `line_delimiter`, `header` and `mode` options frames data (OTP 25.2.3).
 *
 * Receive: `Framer` holds the decrypted bytes not yet delivered and cuts packets from them on
 * demand. Where a gen_tcp socket differs from `erlang:decode_packet/3`, the Framer follows the
 * socket. Each point was found by probing gen_tcp on OTP 25.2.3 and is checked against a
 * listener/connection pair in a real node by test/packet/gen-tcp.test.ts:
 * - http: the parse state carries over from packet to packet (start line, then headers until
 *   `http_eoh`, then the next start line); decode_packet starts afresh on every call. setopts
 *   does not reset it: a socket switched from `http` to `raw` and back mid-head goes on with
 *   headers; `httph*` leaves it among the headers even when no packet came. getopts still says
 *   `http`: the "switch to httph" of inet(3) is this state.
 * - receive buffer: inet reads a packet whose length it cannot yet tell (line, http, an
 *   unfinished asn1 header) into a buffer of `{buffer, N}` bytes (1460), and decode_packet's
 *   `line_length` is that size. So lines come cut at 1460 bytes even when packet_size is larger
 *   and the delimiter comes later; an http line (or a header line and the byte after it) that
 *   does not fit is emsgsize, unless packet_size is larger, when the buffer grows to it once.
 *   decode_packet, given the whole binary, would wait for the delimiter or find it too far.
 * - raw: a packet is everything buffered; list mode delivers a charlist, where decode_packet only
 *   knows binaries. `header` and `mode` apply to every binary packet.
 * - a packet the socket cannot frame is `{error, emsgsize}` (decode_packet: `{error, invalid}`);
 *   gen_tcp then closes the socket, which is the socket layer's part.
 * - when the peer closes, gen_tcp delivers the raw bytes still buffered (active mode gets them as
 *   they come; `recv(S, 0)` gets them); a partial packet of any other type is dropped, and so is
 *   a raw tail shorter than a pending `recv(S, N)`, which gets `{error, closed}`.
 * Not reproduced: a buffer that grew to packet_size for a long http line stays that large while
 * bytes read with that line remain in it, so a `line` packet cut from them after a setopts comes
 * cut at packet_size, not 1460 (probed on OTP 25.2.3). Which bytes inet had read by then depends
 * on TCP timing, so no framing of the bytes alone can match it. Likewise `{packet_size, 1}` with
 * an http type: whether gen_tcp answers a `\r\n` line end with `http_eoh` or `emsgsize` depends
 * on whether both bytes come in one of its reads.
 *
 * Send: `framePacket`. Only 1, 2 and 4 add anything (the length field); every other type sends
 * the data as is, as gen_tcp does, and an empty send writes nothing.
 */
import { strict as assert } from "node:assert";
import { ByteQueue } from "../../bridge/framing.js";
import type { Term } from "../../etf/terms.js";
import { deliver } from "./deliver.js";
import { largestBody, lengthField } from "./length.js";
import { framePacketAt } from "./parse.js";
import { FramingError, type FramingOptions } from "./types.js";

export { FramingError, defaultFramingOptions, type FramingOptions, type PacketType } from "./types.js";

/**
 * gen_tcp's default `{buffer, N}` on Linux (OTP 25; `inet:getopts(S, [buffer])` on a fresh
 * socket): the receive buffer for packets of unknown length (see above). ssl 3.9's loopback
 * socket kept the default, and ssl has no `buffer` option for a user to change it.
 */
export const GEN_TCP_BUFFER = 1460;

export class Framer {
  #options!: FramingOptions;
  readonly #queue = new ByteQueue();
  /** The http parse state: true = among the headers. */
  #inHeaders = false;
  /** No packet can be cut before this many bytes are buffered. */
  #wanted = 1;

  constructor(options: FramingOptions) {
    this.setOptions(options);
  }

  /** Decrypted bytes from TLS, kept as they are (not copied). */
  push(chunk: Uint8Array): void {
    this.#queue.push(chunk);
  }

  get buffered(): number {
    return this.#queue.length;
  }

  /** The options in force, for `framePacket` on the same socket. */
  get options(): Readonly<FramingOptions> {
    return this.#options;
  }

  /**
   * The next complete packet as the Term gen_tcp would deliver (Data of `{ssl, S, Data}` or
   * `{ok, Data}`): binary, charlist, `[B1, ..., BN | Binary]`, or an http term. undefined = more
   * bytes are needed. Throws FramingError `emsgsize` when the bytes cannot be framed.
   */
  next(): Term | undefined {
    const queue = this.#queue;
    if (queue.length < this.#wanted) return undefined;
    const { packet: type, packetSize, lineDelimiter } = this.#options;
    if (type === "raw") return this.take(0);
    if (type === "httph" || type === "httph_bin") this.#inHeaders = true;
    // inet reads a packet whose length it cannot tell yet into a buffer of `buffer` bytes, and
    // truncates lines at that size; a full buffer with no packet in it grows to packet_size if
    // that is larger, else the packet is emsgsize. A packet whose header tells its length gets
    // a buffer of that length.
    let limit = GEN_TCP_BUFFER;
    // Most packets lie in the first chunk: look there first, gather more only when needed.
    let view = queue.first().subarray(0, limit);
    for (;;) {
      const parse = { packetSize, lineLength: limit, lineDelimiter };
      const framed = framePacketAt(type, view, parse, this.#inHeaders);
      switch (framed.kind) {
        case "more":
          if (framed.size !== undefined) {
            if (framed.size > queue.length) {
              this.#wanted = framed.size;
              return undefined;
            }
            view = queue.peek(framed.size);
            continue;
          }
          if (view.length === limit) {
            if (packetSize <= limit) throw FramingError.emsgsize();
            limit = packetSize;
          } else if (view.length === queue.length) {
            this.#wanted = queue.length + 1;
            return undefined;
          }
          view = queue.peek(Math.min(queue.length, limit));
          continue;
        case "invalid":
          throw FramingError.emsgsize();
        case "frame":
          queue.skip(framed.size);
          this.#wanted = 1;
          return deliver(framed.body, this.#options);
        case "http":
          queue.skip(framed.size);
          this.#wanted = 1;
          this.#inHeaders = framed.inHeaders;
          return framed.packet;
      }
    }
  }

  /**
   * `recv(S, Length)`: with Length > 0 (raw only, else FramingError `einval`) exactly that many
   * bytes, or undefined until they are buffered; with 0, the next packet as `next()` cuts it.
   */
  take(length: number): Term | undefined {
    assert(Number.isInteger(length) && length >= 0, "recv length");
    const raw = this.#options.packet === "raw";
    if (length === 0) {
      if (!raw) return this.next();
      length = this.#queue.length;
      if (length === 0) return undefined;
    } else if (!raw) {
      throw FramingError.einval();
    }
    if (this.#queue.length < length) return undefined;
    return deliver(this.#queue.take(length), this.#options);
  }

  /** What gen_tcp delivers of the buffered bytes when the peer closes: raw, the rest; otherwise nothing. */
  drainOnClose(): Term | undefined {
    if (this.#options.packet !== "raw" || this.#queue.length === 0) return undefined;
    return deliver(this.#queue.take(this.#queue.length), this.#options);
  }

  /** Takes out what is buffered, undelivered: the stream could not be framed, or is no longer read. */
  discard(): Uint8Array {
    this.#wanted = 1;
    return this.#queue.take(this.#queue.length);
  }

  /** setopts: the new options apply from the next packet on, to bytes already buffered too. */
  setOptions(options: FramingOptions): void {
    assert(Number.isInteger(options.packetSize) && options.packetSize >= 0, "packet_size");
    assert(Number.isInteger(options.header) && options.header >= 0, "header");
    assert(Number.isInteger(options.lineDelimiter) && options.lineDelimiter >= 0 && options.lineDelimiter <= 255, "line_delimiter");
    this.#options = { ...options };
    this.#wanted = 1;
  }
}

/**
 * The bytes to write for one `send(S, Data)`: `data` itself (not copied), after its length field
 * for packet 1, 2 and 4. Throws FramingError `{badarg, {packet_to_large, Size, Max}}` when the
 * length does not fit the field.
 */
export function framePacket(data: Uint8Array, options: FramingOptions): Uint8Array[] {
  const type = options.packet;
  if (type === 1 || type === 2 || type === 4) {
    const field = lengthField(type, data.length);
    return data.length === 0 ? [field] : [field, data];
  }
  return data.length === 0 ? [] : [data];
}

/** The largest `data` that `framePacket` frames under `options` (Infinity: any). */
export function largestPacket(options: FramingOptions): number {
  const type = options.packet;
  return type === 1 || type === 2 || type === 4 ? largestBody(type) : Infinity;
}
