/**
 * One distribution connection in connected state: 4-byte framed messages over a socket, ticks
 * both ways, and the send side's queueing.
 *
 * Ticks: we send one every quarter of the tick time when we have written nothing else, and
 * answer the peer's when we have written nothing since its last one.
 *
 * Sending: each message is encoded once into the connection's encoder and queued as frames.
 * Writes are gathered and go out once per event-loop turn (one `writev` of coalesced chunks),
 * and what a read of the socket is answered with at once, at the end of that read.
 * A message over 64 KiB goes out in fragments, interleaved with other senders' messages, a
 * bounded amount per turn, so one large send never holds up the rest; a sender's later messages
 * wait behind its own fragmented one, which keeps each sender's messages in order.
 *
 * Receiving: frames become messages (reassembling fragments), then signals for the node. A
 * message that does not decode is logged and dropped; the connection goes on. A frame over the
 * size limit ends the connection, as nothing after it can be trusted.
 */
import type { Socket } from "node:net";
import { Encoder } from "../etf/encode.js";
import { formatTerm } from "../etf/format.js";
import type { Atom } from "../etf/terms.js";
import { ControlError, buildControl, parseSignal, type Signal, type WriteFlags } from "./control.js";
import {
  DistError,
  DistReader,
  fragment,
  isFragmented,
  sliceChunks,
  writeMessage,
  type DistMessage,
  type WriteMode,
} from "./dist-message.js";
import { DFLAG } from "./flags.js";
import { FrameError, FrameReader } from "./framing.js";
import type { Logger } from "./log.js";

export interface ConnectionOptions {
  /** `net_ticktime` in milliseconds: a peer silent for that long is gone. */
  netTickTimeMs: number;
  /** The largest message accepted, whole or reassembled. */
  maxMessageSize: number;
  /** Bytes queued (ours and the socket's) above which the connection counts as backed up. */
  highWaterMark: number;
  log: Logger;
}

export interface ConnectionHandler {
  signal(sig: Signal, from: Connection): void;
  /** The signals of one read of the socket have all been given to `signal`. */
  readDone(): void;
  /** The connection ended; called once. */
  down(conn: Connection, reason: string): void;
}

/** A sender's fragmented message being written, and what that sender queued behind it. */
interface Stream {
  frames: Uint8Array[][];
  at: number;
  backlog: Uint8Array[][][];
}

const TICK = Buffer.alloc(4);
/** Fragment bytes written per turn before small messages get their chance again. */
const FRAGMENT_BUDGET = 256 * 1024;
/** Binaries this large are written from the sender's memory rather than copied. */
const CHUNK_THRESHOLD = 16 * 1024;
/**
 * A batch in the encoder this large is handed over, so that growing it never copies much: the
 * encoder moves what it holds when its buffer runs out.
 */
const BATCH_LIMIT = 16 * 1024;

export class Connection {
  readonly #socket: Socket;
  readonly #handler: ConnectionHandler;
  readonly #log: Logger;
  readonly #reader: FrameReader;
  readonly #dist: DistReader;
  readonly #encoder = new Encoder({ chunkThreshold: CHUNK_THRESHOLD });
  readonly #mode: WriteMode;
  readonly #writeFlags: WriteFlags;
  /** The peer takes messages to aliases (DFLAG ALIAS). */
  readonly #aliases: boolean;
  readonly #highWaterMark: number;
  readonly #ticker: NodeJS.Timeout;

  #ready: Uint8Array[] = [];
  readonly #streams = new Map<number, Stream>();
  #queued = 0;
  #flushScheduled = false;
  #waitingForDrain = false;
  #drainWaiters: Array<() => void> = [];
  /** The sequence id of our last fragmented message. */
  #seq = 0n;

  #readSinceTick = true;
  #wroteSinceTick = false;
  #wroteSincePeerTick = false;
  #silentTicks = 0;
  #closed = false;

  constructor(
    socket: Socket,
    readonly peer: Atom,
    readonly peerCreation: number,
    readonly flags: bigint,
    options: ConnectionOptions,
    handler: ConnectionHandler,
    /** Bytes that arrived with the end of the handshake. */
    early?: Uint8Array,
  ) {
    this.#socket = socket;
    this.#handler = handler;
    this.#log = options.log;
    this.#highWaterMark = options.highWaterMark;
    const headers = (flags & (DFLAG.DIST_HDR_ATOM_CACHE | DFLAG.FRAGMENTS)) !== 0n;
    this.#mode = { headers, fragments: (flags & DFLAG.FRAGMENTS) !== 0n };
    this.#writeFlags = {
      sendSender: (flags & DFLAG.SEND_SENDER) !== 0n,
      exitPayload: (flags & DFLAG.EXIT_PAYLOAD) !== 0n,
    };
    this.#aliases = (flags & DFLAG.ALIAS) !== 0n;
    // A frame holds at most one whole message plus its header and atom cache references.
    this.#reader = new FrameReader(4, options.maxMessageSize + 64 * 1024);
    this.#dist = new DistReader(headers, options.maxMessageSize);

    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.#onData(chunk);
      this.#handler.readDone();
      // What the read was answered with at once (replies of handlers that answer at once) goes
      // out now rather than at the end of the turn, ahead of the stream's own work for the read;
      // fragments keep their budget per turn.
      if (!this.#waitingForDrain) this.#flush(0);
    });
    socket.on("drain", () => this.#onDrain());
    socket.on("error", (err) => this.#log.debug(`connection to ${peer}: ${err.message}`));
    socket.on("close", () => this.#down("connection_closed"));
    this.#ticker = setInterval(() => this.#tick(), Math.max(1, Math.floor(options.netTickTimeMs / 4)));
    this.#ticker.unref();
    if (early !== undefined && early.length > 0) this.#onData(early);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a signal to a process on the peer; `sender` keeps one sender's signals in order. */
  send(sender: number, sig: Signal): void {
    if (this.#closed) return;
    if (sig.op === "alias_send" && !this.#aliases) {
      this.#log.debug(`dropping a message to an alias on ${this.peer}, which does not support aliases`);
      return;
    }
    const enc = this.#encoder;
    const start = enc.length;
    let controlEnd: number;
    try {
      controlEnd = writeMessage(enc, buildControl(sig, this.#writeFlags), this.#mode);
    } catch (e) {
      // Only this message is dropped: the batch before it was committed.
      enc.reset();
      this.#log.warning(`dropping a ${sig.op} signal to ${this.peer}: ${(e as Error).message}`);
      return;
    }
    const size = enc.length - start;
    this.#queued += size;
    const stream = this.#streams.size > 0 ? this.#streams.get(sender) : undefined;
    const cut = isFragmented(size, this.#mode);
    if (stream === undefined && !cut) {
      // The usual case: the message joins the batch in the encoder, written with it this turn.
      enc.commit();
      if (enc.length >= BATCH_LIMIT) this.#takeBatch();
    } else {
      // Out of the batch: the batch before it goes first, then it waits its turn as frames.
      const all = enc.finishChunks();
      if (start > 0) for (const c of sliceChunks(all, 0, start)) this.#ready.push(c);
      const own = start > 0 ? sliceChunks(all, start, start + size) : all;
      const frames = cut ? fragment(own, size, controlEnd, ++this.#seq) : [own];
      if (stream !== undefined) stream.backlog.push(frames);
      else this.#streams.set(sender, { frames, at: 0, backlog: [] });
    }
    this.#scheduleFlush();
  }

  /** Moves the encoder's batch to the chunks ready to write. */
  #takeBatch(): void {
    for (const c of this.#encoder.finishChunks()) this.#ready.push(c);
  }

  /** More queued than the high-water mark: producers for this peer should pause. */
  get backedUp(): boolean {
    return this.#queued + this.#socket.writableLength > this.#highWaterMark;
  }

  whenDrained(): Promise<void> {
    if (!this.backedUp || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Ends the connection; with `flush`, what is queued is written first. */
  close(reason: string, flush = false): void {
    if (this.#closed) return;
    if (flush) {
      this.#flush(Infinity, true);
      this.#socket.end();
    } else {
      this.#socket.destroy();
    }
    this.#down(reason);
  }

  #down(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#ticker);
    this.#ready = [];
    this.#encoder.finishChunks();
    this.#streams.clear();
    this.#queued = 0;
    this.#releaseDrainWaiters();
    this.#handler.down(this, reason);
  }

  // ---- receiving ----

  #onData(chunk: Uint8Array): void {
    this.#readSinceTick = true;
    try {
      this.#reader.read(chunk, this.#onWhole, this.#onPieces);
    } catch (e) {
      if (!(e instanceof FrameError)) throw e;
      this.#log.warning(`connection to ${this.peer}: ${e.message}; disconnecting`);
      this.close("frame_too_large");
    }
  }

  readonly #onWhole = (bytes: Uint8Array, start: number, end: number): void => {
    if (this.#closed) return;
    if (start === end) {
      // A tick. Answer it unless we wrote since the last one: a peer with a shorter tick time
      // than ours must still hear from us within its own.
      if (!this.#wroteSincePeerTick) this.#socket.write(TICK);
      this.#wroteSincePeerTick = false;
      return;
    }
    this.#receive(bytes, start, end);
  };

  readonly #onPieces = (parts: Uint8Array[]): void => {
    if (!this.#closed) this.#receive(parts, 0, 0);
  };

  /** A frame that is not a tick: `frame` itself in pieces, or bytes `[start, end)` of it. */
  #receive(frame: Uint8Array | Uint8Array[], start: number, end: number): void {
    let msg: DistMessage | undefined;
    try {
      msg = Array.isArray(frame) ? this.#dist.read(frame) : this.#dist.readAt(frame, start, end);
      if (msg === undefined) return;
      this.#handler.signal(parseSignal(msg.control, msg.payload), this);
    } catch (e) {
      if (!(e instanceof DistError || e instanceof ControlError)) throw e;
      const what = msg === undefined ? "" : ` (${formatTerm(msg.control, { maxLength: 200 })})`;
      this.#log.warning(`dropping a message from ${this.peer}: ${e.message}${what}`);
    }
  }

  #tick(): void {
    if (this.#closed) return;
    if (this.#readSinceTick) this.#silentTicks = 0;
    else if (++this.#silentTicks >= 4) {
      this.#log.warning(`${this.peer} not responding; removing the connection (net_tick_timeout)`);
      this.close("net_tick_timeout");
      return;
    }
    this.#readSinceTick = false;
    if (!this.#wroteSinceTick) this.#socket.write(TICK);
    this.#wroteSinceTick = false;
  }

  // ---- sending ----

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#waitingForDrain) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush(FRAGMENT_BUDGET);
    });
  }

  #onDrain(): void {
    this.#waitingForDrain = false;
    this.#flush(FRAGMENT_BUDGET);
  }

  /**
   * Writes what is ready, then up to `budget` bytes of fragments, round robin over senders,
   * while the socket takes them (`all`: regardless, as the connection closes).
   */
  #flush(budget: number, all = false): void {
    if (this.#closed) return;
    if (this.#encoder.length > 0) this.#takeBatch();
    const out = this.#ready;
    this.#ready = [];
    while (this.#streams.size > 0 && budget > 0 && (all || this.#socket.writableLength < this.#highWaterMark)) {
      for (const [sender, s] of this.#streams) {
        const frame = s.frames[s.at++]!;
        out.push(...frame);
        for (const c of frame) budget -= c.length;
        if (s.at < s.frames.length) continue;
        // That message is done: the sender's whole messages behind it follow it out, up to
        // its next fragmented one.
        let next: Uint8Array[][] | undefined;
        while ((next = s.backlog.shift()) !== undefined && next.length === 1) out.push(...next[0]!);
        if (next === undefined) this.#streams.delete(sender);
        else {
          s.frames = next;
          s.at = 0;
        }
      }
    }
    if (out.length > 0) this.#write(out);
    if (this.#streams.size > 0) {
      if (this.#socket.writableLength >= this.#highWaterMark) this.#waitingForDrain = true;
      else this.#scheduleFlush();
    }
    if (!this.backedUp) this.#releaseDrainWaiters();
  }

  /** One gathered write; chunks that lie back to back in memory go out as one. */
  #write(chunks: Uint8Array[]): void {
    const socket = this.#socket;
    this.#wroteSinceTick = true;
    this.#wroteSincePeerTick = true;
    if (chunks.length === 1) {
      this.#queued -= chunks[0]!.byteLength;
      socket.write(chunks[0]!);
      return;
    }
    socket.cork();
    let run = chunks[0]!;
    for (let i = 1; i < chunks.length; i++) {
      const c = chunks[i]!;
      if (c.buffer === run.buffer && c.byteOffset === run.byteOffset + run.byteLength) {
        run = new Uint8Array(run.buffer, run.byteOffset, run.byteLength + c.byteLength);
      } else {
        this.#queued -= run.byteLength;
        socket.write(run);
        run = c;
      }
    }
    this.#queued -= run.byteLength;
    socket.write(run);
    socket.uncork();
  }

  #releaseDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }
}
