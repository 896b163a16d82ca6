/**
 * Distribution messages as they travel in connected state (`erl_ext_dist.md`, "Distribution
 * Header"; `erl_dist_protocol.md`, "Protocol between Connected Nodes"):
 *
 *   112 (pass through), 131 Control, [131 Payload]          when neither side uses headers
 *   131, 68, AtomCacheRefs, Control, [Payload]              a whole message
 *   131, 69, SeqId:64, FragId:64, AtomCacheRefs, Control, [Payload...]   first fragment
 *   131, 70, SeqId:64, FragId:64, [Payload...]              later fragments, FragId down to 1
 *
 * OTP expects headers (and refuses pass-through) once DIST_HDR_ATOM_CACHE or FRAGMENTS is
 * negotiated. `DistReader` turns frames into control and payload terms, keeping the connection's
 * atom cache and reassembling interleaved fragmented messages. `writeMessage` writes a message as
 * one frame into an encoder, and `fragment` cuts a large one into fragments (`encodeMessage`
 * does both, for a message on its own).
 */
import { TermReader } from "../etf/decode.js";
import { ByteBuilder } from "../etf/bytes.js";
import type { Encoder } from "../etf/encode.js";
import { CodedError, EtfError } from "../etf/errors.js";
import { VERSION_MAGIC } from "../etf/tags.js";
import { Atom, type Term } from "../etf/terms.js";
import { controlOp, hasPayload, type ControlMessage } from "./control.js";
import { FrameJoiner, frameHead, frameLength, frameTail, type Frame } from "./framing.js";

const DIST_TAG = {
  PASS_THROUGH: 112,
  VERSION: VERSION_MAGIC,
  HEADER: 68, // DIST_HEADER
  FRAG_HEADER: 69, // DIST_FRAG_HEADER, OTP 22
  FRAG_CONT: 70, // DIST_FRAG_CONT, OTP 22
} as const;

const { PASS_THROUGH, VERSION, HEADER, FRAG_HEADER, FRAG_CONT } = DIST_TAG;

/** 8 segments of 256 entries (erl_ext_dist.md). */
export const ATOM_CACHE_SIZE = 2048;

/** Our fragments carry at most this many bytes of message: a large send goes out a piece at a time. */
const FRAGMENT_SIZE = 64 * 1024;

const FRAG_HEADER_SIZE = 2 + 8 + 8;
/** How much of a first fragment is copied to read its header when the frame came in pieces. */
const HEADER_PEEK = 4096;

export interface DistMessage {
  control: Term;
  payload: Term | undefined;
}

export type DistErrorCode = "bad_header" | "bad_fragment" | "too_large" | "bad_term";

export class DistError extends CodedError<DistErrorCode> {}

interface Sequence {
  /** The atoms the first fragment's header set up, for ATOM_CACHE_REF in the whole message. */
  atoms: Atom[];
  /** The message bytes so far (control, then payload), as views of the frames. */
  parts: Uint8Array[];
  size: number;
  /** The FragId the next fragment must carry. */
  next: bigint;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads the atom cache part of a header at `at` (NumberOfAtomCacheRefs onwards), storing new
 * entries in `cache`; returns the atoms by reference index and the offset after them.
 */
export function readAtomCacheRefs(b: Uint8Array, at: number, cache: Array<Atom | undefined>): { atoms: Atom[]; next: number } {
  const atoms: Atom[] = [];
  const next = readAtomRefs(b, at, b.length, cache, atoms);
  return { atoms, next };
}

/**
 * readAtomCacheRefs of a header that ends by `end`, into `atoms` (indexes 0 to
 * NumberOfAtomCacheRefs - 1; what is past them is left as it was), so that a reader can use one
 * array for every message; returns the offset after the references.
 */
function readAtomRefs(b: Uint8Array, at: number, end: number, cache: Array<Atom | undefined>, atoms: Atom[]): number {
  need(at, 1, end);
  const count = b[at++]!;
  if (count === 0) return at;
  const flagBytes = (count >> 1) + 1;
  need(at, flagBytes, end);
  const flags = at;
  at += flagBytes;
  const longAtoms = (halfByte(b, flags, count) & 1) !== 0;
  for (let i = 0; i < count; i++) {
    const f = halfByte(b, flags, i);
    need(at, 1, end);
    const index = ((f & 7) << 8) | b[at++]!;
    if ((f & 8) === 0) {
      const cached = cache[index];
      if (cached === undefined) throw new DistError("bad_header", `atom cache entry ${index} is used before it is set`);
      atoms[i] = cached;
      continue;
    }
    need(at, longAtoms ? 2 : 1, end);
    const len = longAtoms ? (b[at]! << 8) | b[at + 1]! : b[at]!;
    at += longAtoms ? 2 : 1;
    need(at, len, end);
    let name: string;
    try {
      name = utf8.decode(b.subarray(at, at + len));
    } catch {
      throw new DistError("bad_header", `atom cache entry ${index} is not UTF-8`);
    }
    at += len;
    const a = Atom.of(name);
    cache[index] = a;
    atoms[i] = a;
  }
  return at;
}

/** The 4-bit flags of reference `i` (the flags for two references share a byte, low half first). */
function halfByte(b: Uint8Array, flags: number, i: number): number {
  return (b[flags + (i >> 1)]! >> ((i & 1) * 4)) & 0xf;
}

function need(at: number, n: number, end: number): void {
  if (at + n > end) throw new DistError("bad_header", "the atom cache references run past the message");
}

export class DistReader {
  readonly #headers: boolean;
  readonly #maxSize: number;
  readonly #cache: Array<Atom | undefined> = new Array(ATOM_CACHE_SIZE);
  readonly #sequences = new Map<bigint, Sequence>();
  readonly #joiner = new FrameJoiner();
  #buffered = 0;
  /** Terms are read by one reader whose ATOM_CACHE_REFs resolve through `#atoms`. */
  readonly #terms: TermReader;
  /** The atoms the header of each whole message sets up, in one array kept across messages. */
  readonly #headerAtoms: Atom[] = [];
  /** What ATOM_CACHE_REF index i means in the message being decoded: `#atoms[i]`, i < `#atomCount`. */
  #atoms: Atom[] = this.#headerAtoms;
  #atomCount = 0;

  /**
   * `headers`: DIST_HDR_ATOM_CACHE or FRAGMENTS was negotiated. `maxSize` bounds one message
   * and all partly received fragmented messages together.
   */
  constructor(headers: boolean, maxSize: number) {
    this.#headers = headers;
    this.#maxSize = maxSize;
    this.#terms = new TermReader({ maxSize, atomCache: (i) => (i < this.#atomCount ? this.#atoms[i] : undefined) });
  }

  /** Fragmented messages still waiting for fragments. */
  get pending(): number {
    return this.#sequences.size;
  }

  /**
   * One frame (not a tick): the message it completes, or undefined while fragments are due.
   * Throws DistError for anything malformed; the connection may go on with the next frame.
   */
  read(frame: Frame): DistMessage | undefined {
    // Fragments stay in pieces until the message is whole; everything else is decoded from
    // one view.
    if (Array.isArray(frame) && this.#headers && frameLength(frame) >= 2) {
      const head = frameHead(frame, 2);
      if (head[0] === VERSION && head[1] === FRAG_CONT) return this.#more(frame);
      if (head[0] === VERSION && head[1] === FRAG_HEADER) return this.#firstInPieces(frame);
    }
    const bytes = this.#joiner.join(frame);
    return this.readAt(bytes, 0, bytes.length);
  }

  /** read() of the frame that is bytes `[start, end)`, without a view of it for a whole message. */
  readAt(bytes: Uint8Array, start: number, end: number): DistMessage | undefined {
    if (!this.#headers) {
      if (end - start < 1 || bytes[start] !== PASS_THROUGH) throw new DistError("bad_header", `expected pass-through (112), got ${bytes[start]}`);
      return this.#decode(bytes, start + 1, end, true, this.#headerAtoms, 0);
    }
    if (end - start < 2 || bytes[start] !== VERSION) throw new DistError("bad_header", "not a distribution header");
    switch (bytes[start + 1]) {
      case HEADER: {
        const next = readAtomRefs(bytes, start + 2, end, this.#cache, this.#headerAtoms);
        return this.#decode(bytes, next, end, false, this.#headerAtoms, bytes[start + 2]!);
      }
      case FRAG_HEADER:
        return this.#first(view(bytes, start, end));
      case FRAG_CONT:
        return this.#more(view(bytes, start, end));
      default:
        throw new DistError("bad_header", `unknown distribution header tag ${bytes[start + 1]}`);
    }
  }

  #first(bytes: Uint8Array): DistMessage | undefined {
    if (bytes.length < FRAG_HEADER_SIZE) throw new DistError("bad_fragment", "a fragment header cut short");
    const { atoms, next } = readAtomCacheRefs(bytes, FRAG_HEADER_SIZE, this.#cache);
    const fragId = readU64(bytes, 10);
    if (fragId === 1n) return this.#decode(bytes, next, bytes.length, false, atoms, atoms.length);
    this.#start(readU64(bytes, 2), fragId, atoms, [bytes.subarray(next)]);
    return undefined;
  }

  /**
   * A first fragment that came in pieces: only its header is made contiguous (a small copy),
   * the message bytes stay views until the message is whole.
   */
  #firstInPieces(frame: Uint8Array[]): DistMessage | undefined {
    const total = frameLength(frame);
    if (total < FRAG_HEADER_SIZE) throw new DistError("bad_fragment", "a fragment header cut short");
    const head = frameHead(frame, Math.min(total, HEADER_PEEK));
    let parsed: { atoms: Atom[]; next: number };
    try {
      parsed = readAtomCacheRefs(head, FRAG_HEADER_SIZE, this.#cache);
    } catch (e) {
      // A header with long atom cache references: read it from the whole frame.
      if (head.length === total) throw e;
      return this.#first(this.#joiner.join(frame));
    }
    const fragId = readU64(head, 10);
    if (fragId === 1n) return this.#first(this.#joiner.join(frame));
    this.#start(readU64(head, 2), fragId, parsed.atoms, frameTail(frame, parsed.next));
    return undefined;
  }

  #start(seq: bigint, fragId: bigint, atoms: Atom[], parts: Uint8Array[]): void {
    if (fragId === 0n) throw new DistError("bad_fragment", "fragment number 0");
    if (this.#sequences.has(seq)) throw new DistError("bad_fragment", `sequence ${seq} started twice`);
    let size = 0;
    for (const p of parts) size += p.length;
    this.#reserve(size);
    this.#sequences.set(seq, { atoms, parts, size, next: fragId - 1n });
  }

  #more(frame: Frame): DistMessage | undefined {
    if (frameLength(frame) < FRAG_HEADER_SIZE) throw new DistError("bad_fragment", "a fragment header cut short");
    const head = frameHead(frame, FRAG_HEADER_SIZE);
    const seq = readU64(head, 2);
    const fragId = readU64(head, 10);
    const s = this.#sequences.get(seq);
    if (s === undefined) throw new DistError("bad_fragment", `a fragment of unknown sequence ${seq}`);
    if (fragId !== s.next) {
      this.#drop(seq, s);
      throw new DistError("bad_fragment", `sequence ${seq}: fragment ${fragId} where ${s.next} was due`);
    }
    const parts = frameTail(frame, FRAG_HEADER_SIZE);
    let size = 0;
    for (const p of parts) size += p.length;
    try {
      this.#reserve(size);
    } catch (e) {
      this.#drop(seq, s);
      throw e;
    }
    s.parts.push(...parts);
    s.size += size;
    s.next--;
    if (s.next > 0n) return undefined;
    this.#drop(seq, s);
    // The one copy of a fragmented message: its pieces joined for the decoder.
    const whole = this.#joiner.join(s.parts);
    return this.#decode(whole, 0, whole.length, false, s.atoms, s.atoms.length);
  }

  #reserve(n: number): void {
    if (this.#buffered + n > this.#maxSize) {
      throw new DistError("too_large", `fragmented messages over ${this.#maxSize} bytes`);
    }
    this.#buffered += n;
  }

  #drop(seq: bigint, s: Sequence): void {
    this.#sequences.delete(seq);
    this.#buffered -= s.size;
  }

  /**
   * The control term at `at` and the payload after it when the operation has one, the message
   * ending by `end`; ATOM_CACHE_REF index i is `atoms[i]` for i < `count`. Each term after a
   * version byte in pass-through.
   */
  #decode(bytes: Uint8Array, at: number, end: number, versionBytes: boolean, atoms: Atom[], count: number): DistMessage {
    const terms = this.#terms;
    this.#atoms = atoms;
    this.#atomCount = count;
    try {
      terms.start(bytes, at, end);
      const control = terms.next(versionBytes);
      const op = controlOp(control);
      const payload = op !== undefined && hasPayload(op) ? terms.next(versionBytes) : undefined;
      return { control, payload };
    } catch (e) {
      if (e instanceof EtfError) throw new DistError("bad_term", e.message, { cause: e });
      throw e;
    } finally {
      terms.finish();
    }
  }
}

/** Bytes `[start, end)` of `bytes`: itself when that is all of it. */
function view(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
}

function readU64(b: Uint8Array, at: number): bigint {
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return v.readBigUInt64BE(at);
}

/** What the negotiated flags say about writing messages. */
export interface WriteMode {
  /** DIST_HDR_ATOM_CACHE or FRAGMENTS: headers instead of pass-through. */
  headers: boolean;
  /** FRAGMENTS: messages over `FRAGMENT_SIZE` go out in fragments. */
  fragments: boolean;
}

/**
 * A message as the frames to write, each a list of chunks with its 4-byte length first. Large
 * binaries stay the caller's memory (the encoder's chunk threshold); fragments are views of the
 * encoded message, so nothing is copied twice. `nextSeq` gives a fresh non-zero sequence id.
 */
export function encodeMessage(
  enc: Encoder,
  msg: ControlMessage,
  mode: WriteMode,
  nextSeq: () => bigint,
  fragmentSize = FRAGMENT_SIZE,
): Uint8Array[][] {
  const start = enc.length;
  const controlEnd = writeMessage(enc, msg, mode);
  const size = enc.length - start;
  const all = enc.finishChunks();
  const chunks = start > 0 ? sliceChunks(all, start, start + size) : all;
  return isFragmented(size, mode, fragmentSize) ? fragment(chunks, size, controlEnd, nextSeq(), fragmentSize) : [chunks];
}

/**
 * Writes `msg` as one whole frame (length, header, control, payload) after what the encoder
 * holds, without handing it over; returns where the control term ends, from the frame's start.
 * A message the caller then finds `isFragmented` is cut up by `fragment`.
 */
export function writeMessage(enc: Encoder, msg: ControlMessage, mode: WriteMode): number {
  const mark = enc.reserveU32();
  if (mode.headers) enc.u8(VERSION).u8(HEADER).u8(0).term(msg.control);
  else enc.u8(PASS_THROUGH).external(msg.control);
  const controlEnd = enc.length - mark;
  if (msg.payload !== undefined) {
    if (mode.headers) enc.term(msg.payload);
    else enc.external(msg.payload);
  }
  enc.patchU32(mark, enc.length - mark - 4);
  return controlEnd;
}

/** Whether a whole frame of `size` bytes, length included, goes out in fragments. */
export function isFragmented(size: number, mode: WriteMode, fragmentSize = FRAGMENT_SIZE): boolean {
  return mode.headers && mode.fragments && size - WHOLE_HEADER_SIZE > fragmentSize;
}

/** Length, VERSION, HEADER and NumberOfAtomCacheRefs (0) before a whole message's control term. */
const WHOLE_HEADER_SIZE = 4 + 3;

/** Where fragment headers are built: each is a view of its slab, handed over with the frame. */
const fragmentHeaders = new ByteBuilder();

/**
 * A whole frame from writeMessage (its chunks, `size` bytes, the control term ending at
 * `controlEnd`) as fragments of sequence `seq`: views of it behind headers of their own.
 */
export function fragment(chunks: readonly Uint8Array[], size: number, controlEnd: number, seq: bigint, fragmentSize = FRAGMENT_SIZE): Uint8Array[][] {
  const bodyStart = WHOLE_HEADER_SIZE;
  // The control message must be whole in the first fragment.
  const firstSize = Math.max(fragmentSize, controlEnd - bodyStart);
  const rest = size - bodyStart - firstSize;
  const count = 1 + Math.ceil(rest / fragmentSize);
  const frames: Uint8Array[][] = [];
  let from = bodyStart;
  for (let fragId = count; fragId >= 1; fragId--) {
    const first = fragId === count;
    const n = Math.min(first ? firstSize : fragmentSize, size - from);
    const header = fragmentHeaders.u32(FRAG_HEADER_SIZE + (first ? 1 : 0) + n);
    header.u8(VERSION).u8(first ? FRAG_HEADER : FRAG_CONT).u64(seq).u64(BigInt(fragId));
    if (first) header.u8(0); // no atom cache references
    frames.push([header.finish(), ...sliceChunks(chunks, from, from + n)]);
    from += n;
  }
  return frames;
}

/** Views of bytes `[from, to)` of a chunk list. */
export function sliceChunks(chunks: readonly Uint8Array[], from: number, to: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let base = 0;
  for (const c of chunks) {
    const end = base + c.length;
    if (end > from && base < to) out.push(c.subarray(Math.max(0, from - base), Math.min(c.length, to - base)));
    base = end;
    if (base >= to) break;
  }
  return out;
}
