/**
 * The socket's receive and close rules (ts-ssl/socket-machine.ts) without a network: one test per
 * rule, then random event sequences checked against a small model of gen_tcp's rules.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { atom, formatTerm, isTagged, ok, tuple, type Term, type Tuple } from "../../etf/index.js";
import type { EndWords } from "../../ts-ssl/endpoint.js";
import { SslError } from "../../ts-ssl/errors.js";
import { ACTIVE_MAX, type Active } from "../../ts-ssl/options.js";
import { defaultFramingOptions, type FramingOptions } from "../../ts-ssl/packet/framer.js";
import { SocketMachine, type SocketAction, type SocketEvent } from "../../ts-ssl/socket-machine.js";

const words39: EndWords = { reason: (r) => r, invalidPacket: () => atom("emsgsize"), closedAfterError: true };
const wordsOtp: EndWords = {
  reason: (r) => tuple(atom("tls_alert"), r),
  invalidPacket: (buffered) => tuple(atom("invalid_packet"), buffered),
  closedAfterError: false,
};
const raw: FramingOptions = { ...defaultFramingOptions, mode: "binary" };
const packet1: FramingOptions = { ...raw, packet: 1 };
const econnreset = atom("econnreset");
const request = tuple(atom("recv"), 0);

function machine(active: Active, framing = raw, words = words39, readAhead?: number): SocketMachine {
  const m = new SocketMachine(framing, active, () => words, readAhead);
  m.handle({ type: "started" });
  return m;
}

const bytes = (...b: number[]) => new Uint8Array(b);
const data = (...b: number[]): SocketEvent => ({ type: "data", chunk: bytes(...b) });
const recv = (id: number, length = 0): SocketEvent => ({ type: "recv", id, length, request });
const active = (a: Active, framing = raw): SocketEvent => ({ type: "setopts", framing, active: a });
const end = (r?: Term, ...rest: Uint8Array[]): SocketEvent => ({ type: "end", reason: r, rest });

/** The actions as short strings, for readable expectations. */
function show(actions: SocketAction[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case "to_owner":
        return a.message.kind === "ssl"
          ? `ssl ${formatTerm(a.message.data)}`
          : a.message.kind === "ssl_error"
            ? `ssl_error ${formatTerm(a.message.reason)}`
            : a.message.kind;
      case "reply":
        return `reply ${a.id} ${formatTerm(a.reply)}`;
      case "read":
        return a.on ? "resume" : "pause";
      case "watch_owner_drain":
      case "destroy":
        return a.type;
    }
  });
}

describe("active modes", () => {
  it("{active, true} delivers every packet as it is framed", () => {
    const m = machine(true, packet1);
    expect(show(m.handle(data(2, 1, 2, 1)))).toEqual(["ssl <<1,2>>"]);
    expect(show(m.handle(data(3)))).toEqual(["ssl <<3>>"]);
  });

  it("{active, once} delivers one packet, then is passive with no message, and reads ahead", () => {
    const m = machine("once", packet1, words39, 3);
    expect(show(m.handle(data(1, 5, 1, 6)))).toEqual(["ssl <<5>>"]);
    expect(m.active).toBe(false);
    expect(show(m.handle(data(1, 7)))).toEqual(["pause"]);
    expect(show(m.handle(active("once", packet1)))).toEqual(["ssl <<6>>", "resume"]);
    expect(show(m.handle(active("once", packet1)))).toEqual(["ssl <<7>>"]);
  });

  it("{active, N} counts down to {ssl_passive, S}; setopts adds to the count; N <= 0 is passive at once", () => {
    const m = machine(2, packet1);
    expect(show(m.handle(active(1, packet1)))).toEqual([]);
    expect(m.active).toBe(3);
    expect(show(m.handle(data(1, 1, 1, 2, 1, 3, 1, 4)))).toEqual(["ssl <<1>>", "ssl <<2>>", "ssl <<3>>", "ssl_passive"]);
    expect(show(m.handle(active(-5, packet1)))).toEqual(["ssl_passive"]);
    expect(m.active).toBe(false);
    expect(show(m.handle(active(1, packet1)))).toEqual(["ssl <<4>>", "ssl_passive"]);
  });

  it("refuses a count over 32767 with einval and changes nothing", () => {
    const m = machine(ACTIVE_MAX - 1);
    expect(() => m.handle({ type: "setopts", framing: packet1, active: 2 })).toThrow(SslError);
    expect(m.active).toBe(ACTIVE_MAX - 1);
    expect(m.framing.packet).toBe("raw");
  });
});

describe("passive mode", () => {
  it("answers recvs in their order", () => {
    const m = machine(false);
    expect(show(m.handle(recv(1)))).toEqual([]);
    expect(show(m.handle(recv(2, 3)))).toEqual([]);
    expect(show(m.handle(data(1, 2)))).toEqual(["reply 1 {ok,<<1,2>>}"]);
    expect(show(m.handle(data(3, 4)))).toEqual([]);
    expect(show(m.handle(data(5)))).toEqual(["reply 2 {ok,<<3,4,5>>}"]);
  });

  it("reads ahead while nobody asks until the bound is buffered, and on once a recv takes some", () => {
    const m = new SocketMachine(raw, false, () => words39, 4);
    expect(show(m.handle({ type: "started" }))).toEqual(["resume"]);
    expect(show(m.handle(data(1, 2)))).toEqual([]);
    expect(show(m.handle(data(3, 4, 5)))).toEqual(["pause"]);
    expect(show(m.handle(recv(1, 1)))).toEqual(["reply 1 {ok,<<1>>}"]);
    expect(show(m.handle(recv(2, 1)))).toEqual(["reply 2 {ok,<<2>>}", "resume"]);
    expect(show(m.handle(data(6)))).toEqual(["pause"]);
  });

  it("a waiting recv reads past the bound: a packet may be larger than what is read ahead", () => {
    const m = machine(false, packet1, words39, 2);
    expect(show(m.handle(data(5, 1, 2)))).toEqual(["pause"]);
    expect(show(m.handle(recv(1)))).toEqual(["resume"]);
    expect(show(m.handle(data(3, 4, 5)))).toEqual(["reply 1 {ok,<<1,2,3,4,5>>}"]);
  });

  it("what was read ahead before the peer closed is delivered, then closed", () => {
    const m = machine(false, packet1);
    m.handle(data(1, 1, 2, 2));
    expect(show(m.handle(end(undefined, bytes(2))))).toEqual([]);
    expect(show(m.handle(recv(1)))).toEqual(["reply 1 {ok,<<1>>}"]);
    expect(show(m.handle(recv(2)))).toEqual(["reply 2 {ok,<<2,2>>}"]);
    expect(show(m.handle(recv(3)))).toEqual(["reply 3 {error,closed}"]);
  });

  it("a timed out recv goes with {error, timeout}; a recv whose caller exited takes no packet", () => {
    const m = machine(false);
    m.handle(recv(1));
    m.handle(recv(2));
    m.handle(recv(3));
    expect(show(m.handle({ type: "recv_timeout", id: 1 }))).toEqual(["reply 1 {error,timeout}"]);
    expect(show(m.handle({ type: "caller_gone", id: 2 }))).toEqual(["reply 2 {error,closed}"]);
    expect(show(m.handle(data(5)))).toEqual(["reply 3 {ok,<<5>>}"]);
    expect(show(m.handle({ type: "recv_timeout", id: 3 }))).toEqual([]);
  });

  it("refuses recv in active mode (badcall), and recv(S, N > 0) on a packet type (einval)", () => {
    expect(() => machine(true).handle(recv(1))).toThrow(SslError);
    const m = machine(false, packet1);
    expect(() => m.handle(recv(1, 2))).toThrow(SslError);
    expect(show(m.handle(recv(2)))).toEqual([]);
    expect(show(m.handle(data(1, 3)))).toEqual(["reply 2 {ok,<<3>>}"]);
  });

  it("a recv(S, N) that a setopts to a packet type overtook waits; recv(S, 0) gets the packet", () => {
    const m = machine(false);
    m.handle(recv(1, 5));
    m.handle(data(1, 6));
    expect(show(m.handle({ type: "setopts", framing: packet1, active: undefined }))).toEqual([]);
    expect(show(m.handle({ type: "recv_timeout", id: 1 }))).toEqual(["reply 1 {error,timeout}"]);
    expect(show(m.handle(recv(2)))).toEqual(["reply 2 {ok,<<6>>}"]);
  });
});

describe("the end", () => {
  it("active: the raw rest, then {ssl_closed, S} once; recv then says closed", () => {
    const m = machine(true);
    expect(show(m.handle(end(undefined, bytes(1), bytes(2))))).toEqual(["ssl <<1,2>>", "ssl_closed"]);
    expect(show(m.handle(active(true)))).toEqual([]);
    expect(show(m.handle(recv(1)))).toEqual(["reply 1 {error,closed}"]);
  });

  it("passive: recv(S, 0) gets the raw rest, then closed; a recv for more than there is gets closed and the rest goes", () => {
    const m = machine(false);
    m.handle(data(1, 2));
    expect(show(m.handle(end()))).toEqual([]);
    expect(show(m.handle(recv(1)))).toEqual(["reply 1 {ok,<<1,2>>}"]);
    expect(show(m.handle(recv(2)))).toEqual(["reply 2 {error,closed}"]);
    const short = machine(false);
    short.handle(data(1, 2));
    short.handle(end());
    expect(show(short.handle(recv(1, 5)))).toEqual(["reply 1 {error,closed}"]);
    expect(show(short.handle(recv(2)))).toEqual(["reply 2 {error,closed}"]);
  });

  it("no {ssl_passive, S} after {ssl_closed, S}", () => {
    const m = machine(true);
    expect(show(m.handle(end()))).toEqual(["ssl_closed"]);
    expect(show(m.handle(active(0)))).toEqual([]);
    expect(m.active).toBe(false);
  });

  it("packet mode: an incomplete packet is dropped at the end, as gen_tcp drops it", () => {
    const m = machine(true, packet1);
    expect(show(m.handle(end(undefined, bytes(3, 1))))).toEqual(["ssl_closed"]);
  });

  it("a failure is told once: {ssl_error, S, R} then {ssl_closed, S} in 3.9's words, no ssl_closed in OTP's", () => {
    expect(show(machine(true).handle(end(econnreset, bytes(5))))).toEqual(["ssl <<5>>", "ssl_error econnreset", "ssl_closed"]);
    expect(show(machine(true, raw, wordsOtp).handle(end(econnreset)))).toEqual(["ssl_error {tls_alert,econnreset}"]);
  });

  it("passive: the first recv gets the failure's reason, later ones closed", () => {
    const m = machine(false);
    m.handle(end(econnreset));
    expect(show(m.handle(recv(1)))).toEqual(["reply 1 {error,econnreset}"]);
    expect(show(m.handle(recv(2)))).toEqual(["reply 2 {error,closed}"]);
  });

  it("a stream that cannot be framed destroys the connection and is told as emsgsize", () => {
    const m = machine(true, { ...packet1, packetSize: 2 });
    expect(show(m.handle(data(1, 1, 3, 1, 1, 1)))).toEqual(["ssl <<1>>", "destroy", "ssl_error emsgsize", "ssl_closed"]);
    expect(show(m.handle(end(econnreset)))).toEqual([]);
  });

  it("in OTP's words, with the bytes that could not be framed: {ssl_error, S, {invalid_packet, Bytes}} alone, or recv's error once", () => {
    const m = machine(true, { ...packet1, packetSize: 2 }, wordsOtp);
    expect(show(m.handle(data(1, 1, 3, 1, 1, 1)))).toEqual(["ssl <<1>>", "destroy", "ssl_error {invalid_packet,<<3,1,1,1>>}"]);
    const passive = machine(false, { ...packet1, packetSize: 2 }, wordsOtp);
    passive.handle(data(3, 1, 1));
    passive.handle(data(1));
    expect(show(passive.handle(recv(1)))).toEqual(["destroy", "reply 1 {error,{invalid_packet,<<3,1,1,1>>}}"]);
    expect(show(passive.handle(recv(2)))).toEqual(["reply 2 {error,closed}"]);
  });

  it("close answers waiting recvs and sends with closed, and acts on nothing after", () => {
    const m = machine(false);
    m.handle(recv(1));
    m.handle({ type: "send_blocked", id: 2 });
    expect(show(m.handle({ type: "close" }))).toEqual(["reply 1 {error,closed}", "reply 2 {error,closed}"]);
    expect(show(m.handle(data(1)))).toEqual([]);
  });

  it("shutdown(S, read) answers recvs closed, drops what is buffered and stops reading", () => {
    const m = machine(false);
    m.handle(recv(1, 4));
    m.handle(data(1));
    expect(show(m.handle({ type: "shutdown_read" }))).toEqual(["reply 1 {error,closed}", "pause"]);
    expect(show(m.handle(data(2)))).toEqual([]);
    expect(show(m.handle(recv(2)))).toEqual(["reply 2 {error,closed}"]);
  });
});

describe("flow control", () => {
  it("a backed-up owner's connection stops reading until it drains; the drain is watched once", () => {
    const m = machine(true);
    expect(m.pacedByOwner).toBe(true);
    expect(show(m.handle({ type: "owner_backed_up" }))).toEqual(["watch_owner_drain", "pause"]);
    expect(m.pacedByOwner).toBe(false);
    expect(show(m.handle({ type: "owner_backed_up" }))).toEqual([]);
    expect(show(m.handle({ type: "owner_drained" }))).toEqual(["resume"]);
  });

  it("a new owner is asked afresh; {active, once} reads on whatever the connection", () => {
    const m = machine(true);
    m.handle({ type: "owner_backed_up" });
    expect(show(m.handle({ type: "owner_changed" }))).toEqual(["resume"]);
    m.handle({ type: "owner_backed_up" });
    expect(show(m.handle(active("once")))).toEqual(["resume"]);
    expect(m.pacedByOwner).toBe(false);
  });

  it("a send waiting for drain gets ok on drain, closed when the connection ends first", () => {
    const m = machine(true);
    m.handle({ type: "send_blocked", id: 1 });
    m.handle({ type: "send_blocked", id: 2 });
    expect(show(m.handle({ type: "send_drained", id: 1 }))).toEqual(["reply 1 ok"]);
    expect(show(m.handle(end(econnreset)))).toEqual(["reply 2 {error,closed}", "ssl_error econnreset", "ssl_closed"]);
    expect(show(m.handle({ type: "send_drained", id: 2 }))).toEqual([]);
    expect(show(m.handle({ type: "send_blocked", id: 3 }))).toEqual(["reply 3 {error,closed}"]);
  });

  it("reads nothing before the handshake is done", () => {
    const m = new SocketMachine(raw, true, () => words39);
    expect(show(m.handle(active(false)))).toEqual([]);
    expect(show(m.handle(recv(1)))).toEqual([]);
    expect(show(m.handle({ type: "started" }))).toEqual(["resume"]);
  });
});

// ---- random event sequences against a model of gen_tcp's rules

type Step =
  | { readonly kind: "data"; readonly size: number }
  | { readonly kind: "recv"; readonly length: number }
  | { readonly kind: "timeout"; readonly pick: number }
  | { readonly kind: "gone"; readonly pick: number }
  | { readonly kind: "active"; readonly active: Active }
  | { readonly kind: "backed_up" }
  | { readonly kind: "drained" }
  | { readonly kind: "owner_changed" }
  | { readonly kind: "send"; readonly drains: boolean }
  | { readonly kind: "end"; readonly failure: boolean; readonly rest: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("data" as const), size: fc.integer({ min: 1, max: 6 }) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant("recv" as const), length: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5 })) }), weight: 4 },
  fc.record({ kind: fc.constant("timeout" as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant("gone" as const), pick: fc.nat() }),
  {
    arbitrary: fc.record({
      kind: fc.constant("active" as const),
      active: fc.oneof(fc.boolean(), fc.constant("once" as const), fc.integer({ min: -3, max: 4 })),
    }),
    weight: 3,
  },
  fc.record({ kind: fc.constant("backed_up" as const) }),
  fc.record({ kind: fc.constant("drained" as const) }),
  fc.record({ kind: fc.constant("owner_changed" as const) }),
  fc.record({ kind: fc.constant("send" as const), drains: fc.boolean() }),
  fc.record({ kind: fc.constant("end" as const), failure: fc.boolean(), rest: fc.integer({ min: 0, max: 4 }) }),
);

/** Events that answer a recv without reading for it. */
const withdrawals: readonly SocketEvent["type"][] = ["recv_timeout", "caller_gone", "close"];

/** What the model knows of a run, updated from each event and checked against each action. */
class Model {
  active: Active;
  /** Every byte the peer sent, in order; the first `consumed` reached someone (or were dropped at the end). */
  readonly sent: number[] = [];
  consumed = 0;
  /** Packets (packet 1) cut from `sent`, and how many were delivered. */
  packetsDelivered = 0;
  readonly waiting: number[] = [];
  /** The reply each call got. */
  readonly answered = new Map<number, Term>();
  readonly sends = new Set<number>();
  passiveOwed = 0;
  closedSent = false;
  reasonsTold = 0;
  ended: "clean" | "failure" | undefined;
  framingFailed = false;
  backedUp = false;
  drainWatched = false;
  reading = false;

  constructor(
    active: Active,
    readonly framing: FramingOptions,
    readonly words: EndWords,
    readonly readAhead: number,
  ) {
    this.active = active;
  }

  /** Bytes the peer sent that no one has been given yet (a packet's included until it is whole). */
  unread(): number {
    if (this.framing.packet === "raw") return this.sent.length - this.consumed;
    const { packets } = this.packets();
    return this.sent.length - packets.slice(0, this.packetsDelivered).reduce((n, p) => n + 1 + p.length, 0);
  }

  /** The packets of `sent` as packet 1 frames them: complete ones, and whether one is too large. */
  packets(): { packets: number[][]; tooLarge: boolean } {
    const packets: number[][] = [];
    for (let i = 0; i < this.sent.length; ) {
      const n = this.sent[i]!;
      if (this.framing.packetSize > 0 && n > this.framing.packetSize) return { packets, tooLarge: true };
      if (i + 1 + n > this.sent.length) break;
      packets.push(this.sent.slice(i + 1, i + 1 + n));
      i += 1 + n;
    }
    return { packets, tooLarge: false };
  }

  /** One packet or raw chunk given to the owner or a recv: in order, nothing lost or twice. */
  take(payload: Uint8Array): void {
    const got = [...payload];
    if (this.framing.packet === "raw") {
      expect(got.length).toBeGreaterThan(0);
      expect(got).toEqual(this.sent.slice(this.consumed, this.consumed + got.length));
      this.consumed += got.length;
    } else {
      expect(got).toEqual(this.packets().packets[this.packetsDelivered]);
      this.packetsDelivered += 1;
    }
  }

  isFailureReason(r: Term): boolean {
    return r !== atom("closed") && r !== atom("timeout");
  }

  apply(event: SocketEvent, actions: SocketAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "to_owner": {
          const msg = a.message;
          expect(this.closedSent).toBe(false);
          if (msg.kind === "ssl") {
            expect(this.passiveOwed).toBe(0);
            expect(this.active).not.toBe(false);
            this.take(msg.data as Uint8Array);
            if (this.active === "once") this.active = false;
            else if (typeof this.active === "number") {
              this.active -= 1;
              if (this.active === 0) {
                this.active = false;
                this.passiveOwed += 1;
              }
            }
          } else if (msg.kind === "ssl_passive") {
            expect(this.closedSent).toBe(false);
            expect(this.passiveOwed).toBe(1);
            this.passiveOwed = 0;
          } else if (msg.kind === "ssl_error") {
            expect(this.ended === "failure" || this.framingFailed).toBe(true);
            this.reasonsTold += 1;
            if (!this.words.closedAfterError) this.closedSent = true;
          } else {
            this.closedSent = true;
          }
          break;
        }
        case "reply": {
          expect(this.answered.has(a.id)).toBe(false);
          this.answered.set(a.id, a.reply);
          if (this.sends.delete(a.id)) break;
          const i = this.waiting.indexOf(a.id);
          if (i >= 0) this.waiting.splice(i, 1);
          const reply = a.reply as Tuple;
          if (reply.elements[0] === ok) this.take(reply.elements[1] as Uint8Array);
          else if (this.isFailureReason(reply.elements[1]!)) this.reasonsTold += 1;
          // After the end a recv for more than is left gets an error, and what was left goes (gen_tcp).
          if (reply.elements[0] !== ok && this.ended !== undefined && this.framing.packet === "raw" && !withdrawals.includes(event.type)) {
            this.consumed = this.sent.length;
          }
          break;
        }
        case "read":
          expect(a.on).not.toBe(this.reading);
          this.reading = a.on;
          break;
        case "watch_owner_drain":
          expect(this.drainWatched).toBe(false);
          this.drainWatched = true;
          break;
        case "destroy":
          expect(this.framingFailed).toBe(false);
          this.framingFailed = true;
          break;
      }
    }
    expect(this.passiveOwed).toBe(0);
    expect(this.reasonsTold).toBeLessThanOrEqual(1);
  }

  /** Whether TLS should be read now, by the rules (while the connection is up). */
  wantsToRead(): boolean {
    if (this.active === false) return this.waiting.length > 0 || this.unread() < this.readAhead;
    return this.active === "once" || !this.backedUp;
  }
}

function runSteps(steps: Step[], start: Active, framing: FramingOptions, words: EndWords, readAhead: number): void {
  const m = new SocketMachine(framing, start, () => words, readAhead);
  const model = new Model(start, framing, words, readAhead);
  let nextId = 1;
  const fire = (e: SocketEvent) => model.apply(e, m.handle(e));
  fire({ type: "started" });
  /** The peer's next bytes: a valid packet 1 stream is made of small length-prefixed packets. */
  const produce = (size: number): Uint8Array => {
    const out: number[] = [];
    for (let i = 0; i < size; i++) out.push((model.sent.length + out.length) % 251 === 0 ? 3 : (model.sent.length * 7 + i * 13) % 4);
    model.sent.push(...out);
    return new Uint8Array(out);
  };
  for (const s of steps) {
    if (model.ended !== undefined && s.kind === "end") continue;
    switch (s.kind) {
      case "data":
        if (model.ended === undefined && !model.framingFailed) fire({ type: "data", chunk: produce(s.size) });
        break;
      case "recv": {
        const id = nextId++;
        const refusal =
          model.closedSent ? undefined : model.active !== false ? "badcall" : s.length > 0 && framing.packet !== "raw" ? "einval" : undefined;
        if (refusal !== undefined) {
          expect(() => m.handle({ type: "recv", id, length: s.length, request })).toThrow(SslError);
          break;
        }
        model.waiting.push(id);
        const before = model.consumed;
        fire({ type: "recv", id, length: s.length, request });
        if (s.length > 0 && isTagged(model.answered.get(id), ok, 2)) expect(model.consumed - before).toBe(s.length);
        break;
      }
      case "timeout":
      case "gone": {
        const id = model.waiting[s.pick % Math.max(1, model.waiting.length)];
        if (id !== undefined) fire({ type: s.kind === "timeout" ? "recv_timeout" : "caller_gone", id });
        break;
      }
      case "active":
        if (typeof s.active === "number") {
          const sum = (typeof model.active === "number" ? model.active : 0) + s.active;
          model.active = sum <= 0 ? false : sum;
          if (sum <= 0 && !model.closedSent) model.passiveOwed += 1;
        } else model.active = s.active;
        fire({ type: "setopts", framing, active: s.active });
        break;
      case "backed_up":
        // As the socket does: only while it reads for an owner that keeps up.
        if (m.pacedByOwner) {
          model.backedUp = true;
          fire({ type: "owner_backed_up" });
        }
        break;
      case "drained":
        if (model.drainWatched) {
          model.drainWatched = false;
          model.backedUp = false;
          fire({ type: "owner_drained" });
        }
        break;
      case "owner_changed":
        model.backedUp = false;
        model.drainWatched = false;
        fire({ type: "owner_changed" });
        break;
      case "send": {
        const id = nextId++;
        model.sends.add(id);
        fire({ type: "send_blocked", id });
        if (s.drains) fire({ type: "send_drained", id });
        break;
      }
      case "end": {
        model.ended = s.failure ? "failure" : "clean";
        const rest = model.framingFailed ? [] : [produce(s.rest)];
        fire({ type: "end", reason: s.failure ? econnreset : undefined, rest });
        break;
      }
    }
    if (model.ended === undefined && !model.framingFailed) expect(model.reading).toBe(model.wantsToRead());
    expect(m.active).toEqual(model.active);
  }
  // Whoever is left wants everything: the peer ends if it has not, and the owner goes active.
  if (model.ended === undefined && !model.framingFailed) {
    model.ended = "clean";
    fire({ type: "end", reason: undefined, rest: [] });
  }
  model.active = true;
  fire({ type: "setopts", framing, active: true });
  const { packets, tooLarge } = model.packets();
  if (framing.packet === "raw") expect(model.consumed).toBe(model.sent.length);
  else expect(model.packetsDelivered).toBe(packets.length);
  expect(model.framingFailed).toBe(tooLarge);
  expect(model.reasonsTold).toBe(model.ended === "failure" || tooLarge ? 1 : 0);
  expect(model.closedSent).toBe(true);
  // Closing answers every call still waiting, once.
  fire({ type: "close" });
  for (let id = 1; id < nextId; id++) if (model.waiting.includes(id) || model.sends.has(id)) throw new Error(`call ${id} never answered`);
}

describe("random event sequences against gen_tcp's rules", () => {
  const start = fc.oneof(fc.boolean(), fc.constant("once" as const), fc.integer({ min: 1, max: 4 }));
  const words = fc.constantFrom(words39, wordsOtp);
  // Small bounds, so that the peer's few bytes reach them.
  const readAhead = fc.integer({ min: 1, max: 12 });

  it("raw: every byte reaches the owner or a recv once, in order; the end is told once; active N counts; passive reads ahead to the bound", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), start, words, readAhead, (steps, a, w, r) => runSteps(steps, a, raw, w, r)),
      { numRuns: 500 },
    );
  });

  it("packet 1: whole packets in order, none twice; a packet over packet_size ends the socket with emsgsize, told once", () => {
    const framing = fc.constantFrom(packet1, { ...packet1, packetSize: 2 });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), start, words, framing, readAhead, (steps, a, w, f, r) => runSteps(steps, a, f, w, r)),
      { numRuns: 500 },
    );
  });
});
