import { describe, expect, it } from "vitest";
import { Pid, Ref, Tuple, atom, termEquals, type Term } from "../../etf/terms.js";
import { ControlError, DOP, buildControl, hasPayload, parseSignal, type Signal } from "../../bridge/control.js";

const p1 = new Pid(atom("a@h"), 1, 0, 5);
const p2 = new Pid(atom("b@h"), 2, 0, 6);
const ref = new Ref(atom("a@h"), 5, [1, 2, 3]);
const t = (...e: Term[]) => new Tuple(e);

const signals: Signal[] = [
  { op: "send", from: p1, to: p2, message: atom("m") },
  { op: "reg_send", from: p1, to: atom("name"), message: atom("m") },
  { op: "alias_send", from: p1, to: ref, message: atom("m") },
  { op: "link", from: p1, to: p2 },
  { op: "unlink_id", id: 7, from: p1, to: p2 },
  { op: "unlink_id_ack", id: 18446744073709551615n, from: p1, to: p2 },
  { op: "exit", from: p1, to: p2, reason: atom("boom") },
  { op: "exit2", from: p1, to: p2, reason: atom("kill") },
  { op: "monitor", from: p1, to: p2, ref },
  { op: "monitor", from: p1, to: atom("name"), ref },
  { op: "demonitor", from: p1, to: atom("name"), ref },
  { op: "monitor_exit", from: atom("name"), to: p2, ref, reason: atom("noproc") },
  { op: "monitor_exit", from: p1, to: p2, ref, reason: t(atom("shutdown"), 1) },
  { op: "group_leader", from: p1, to: p2 },
  { op: "spawn_reply", ref, to: p2, flags: 0, result: atom("notsup") },
];

describe("control messages", () => {
  for (const payloadFlags of [true, false]) {
    it(`parse back to the signal they were built from (${payloadFlags ? "SEND_SENDER, PAYLOAD_*" : "SEND, plain EXIT"})`, () => {
      for (const sig of signals) {
        const { control, payload } = buildControl(sig, { sendSender: payloadFlags, exitPayload: payloadFlags });
        expect(hasPayload(control.elements[0] as number)).toBe(payload !== undefined);
        const back = parseSignal(control, payload);
        const expected = sig.op === "send" && !payloadFlags ? { ...sig, from: undefined } : sig;
        expect(back.op).toBe(expected.op);
        for (const [k, v] of Object.entries(expected)) {
          const got = (back as unknown as Record<string, unknown>)[k];
          if (v === undefined) expect(got).toBeUndefined();
          else if (typeof v === "string" || typeof v === "number" || typeof v === "bigint") expect(got).toBe(v);
          else expect(termEquals(got as Term, v as Term), `${sig.op}.${k}`).toBe(true);
        }
      }
    });
  }

  it("uses PAYLOAD_MONITOR_P_EXIT (28), SEND_SENDER (22) and PAYLOAD_EXIT (24) when the peer can take them", () => {
    const f = { sendSender: true, exitPayload: true };
    expect(buildControl(signals[11]!, f).control.elements[0]).toBe(28);
    expect(buildControl(signals[0]!, f).control.elements[0]).toBe(22);
    expect(buildControl(signals[6]!, f).control.elements[0]).toBe(24);
  });

  it("reads trace-token variants, dropping the token", () => {
    const token = t(1, 2, 3);
    expect(parseSignal(t(DOP.SEND_TT, atom(""), p2, token), atom("m"))).toMatchObject({ op: "send", to: p2 });
    expect(parseSignal(t(DOP.REG_SEND_TT, p1, atom(""), atom("n"), token), atom("m"))).toMatchObject({ op: "reg_send" });
    expect(parseSignal(t(DOP.EXIT_TT, p1, p2, token, atom("r")), undefined)).toMatchObject({ op: "exit", reason: atom("r") });
    expect(parseSignal(t(DOP.EXIT2_TT, p1, p2, token, atom("r")), undefined)).toMatchObject({ op: "exit2" });
    expect(parseSignal(t(DOP.PAYLOAD_EXIT_TT, p1, p2, token), atom("r"))).toMatchObject({ op: "exit" });
    expect(parseSignal(t(DOP.ALIAS_SEND_TT, p1, ref, token), atom("m"))).toMatchObject({ op: "alias_send" });
    expect(
      parseSignal(t(DOP.SPAWN_REQUEST, ref, p1, p1, t(atom("m"), atom("f"), 0), []), []),
    ).toMatchObject({ op: "spawn_request" });
  });

  const bad: Array<[string, Term, Term | undefined]> = [
    ["not a tuple", atom("x"), undefined],
    ["an empty tuple", t(), undefined],
    ["an operation that is not an integer", t(atom("link"), p1, p2), undefined],
    ["an unknown operation", t(99), undefined],
    ["the old UNLINK", t(DOP.UNLINK, p1, p2), undefined],
    ["LINK of the wrong arity", t(DOP.LINK, p1), undefined],
    ["LINK with an atom for a pid", t(DOP.LINK, atom("x"), p2), undefined],
    ["SEND without payload", t(DOP.SEND, atom(""), p2), undefined],
    ["REG_SEND to a pid", t(DOP.REG_SEND, p1, atom(""), p2), atom("m")],
    ["MONITOR_P with a tuple target", t(DOP.MONITOR_P, p1, t(), ref), undefined],
    ["UNLINK_ID with id 0", t(DOP.UNLINK_ID, 0, p1, p2), undefined],
    ["UNLINK_ID with a negative id", t(DOP.UNLINK_ID, -1, p1, p2), undefined],
    ["ALIAS_SEND to a pid", t(DOP.ALIAS_SEND, p1, p2), atom("m")],
  ];
  for (const [what, control, payload] of bad) {
    it(`refuses ${what} with a ControlError`, () => {
      expect(() => parseSignal(control, payload)).toThrow(ControlError);
    });
  }
});
