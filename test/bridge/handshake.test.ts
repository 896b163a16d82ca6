import { describe, expect, it } from "vitest";
import { DFLAG, OUR_FLAGS, REQUIRED_FLAGS } from "../../bridge/flags.js";
import {
  HandshakeError,
  acceptHandshake,
  buildChallenge,
  buildChallengeAck,
  buildChallengeReply,
  buildComplement,
  buildName,
  buildOldName,
  buildStatus,
  connectHandshake,
  digest,
  parseChallenge,
  parseChallengeAck,
  parseName,
  parseStatus,
  type AcceptOptions,
  type Admission,
  type ConnectOptions,
  type HandshakeTransport,
  type Step,
} from "../../bridge/handshake.js";

/** Two ends of an in-memory message pipe. */
function pipe(): [HandshakeTransport & { sent: Uint8Array[] }, HandshakeTransport & { sent: Uint8Array[] }] {
  const inbox: Uint8Array[][] = [[], []];
  const waiting: Array<((m: Uint8Array) => void) | undefined> = [undefined, undefined];
  const end = (me: 0 | 1) => {
    const other = (1 - me) as 0 | 1;
    const sent: Uint8Array[] = [];
    return {
      sent,
      send(m: Uint8Array) {
        sent.push(m);
        const w = waiting[other];
        if (w) {
          waiting[other] = undefined;
          w(m);
        } else inbox[other].push(m);
      },
      recv(step: Step) {
        const m = inbox[me].shift();
        if (m) return Promise.resolve(m);
        return new Promise<Uint8Array>((resolve, reject) => {
          waiting[me] = resolve;
          setTimeout(() => reject(new HandshakeError(step, "timeout", "nothing came")), 200);
        });
      },
    };
  };
  return [end(0), end(1)];
}

/** A transport that plays back scripted messages and records what it is sent. */
function scripted(messages: Uint8Array[]): HandshakeTransport & { sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  return {
    sent,
    send: (m) => sent.push(m),
    recv: (step) => {
      const m = messages.shift();
      return m ? Promise.resolve(m) : Promise.reject(new HandshakeError(step, "closed", "closed"));
    },
  };
}

const acceptor = (over: Partial<AcceptOptions> = {}): AcceptOptions => ({
  name: "bridge@host",
  creation: 0x11223344,
  flags: OUR_FLAGS,
  required: REQUIRED_FLAGS,
  cookie: () => "SECRET",
  admit: () => "ok",
  nameMe: (host) => ({ name: `dyn@${host}`, creation: 7 }),
  ...over,
});

const connector = (over: Partial<ConnectOptions> = {}): ConnectOptions => ({
  name: "caller@host",
  creation: 0x55667788,
  flags: OUR_FLAGS,
  required: REQUIRED_FLAGS,
  peer: "bridge@host",
  cookie: "SECRET",
  ...over,
});

async function settle<T>(p: Promise<T>): Promise<T | HandshakeError> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof HandshakeError) return e;
    throw e;
  }
}

describe("the handshake, both sides in memory", () => {
  it("connects with the same cookie and agrees on flags and creations", async () => {
    const [a, b] = pipe();
    const [ra, rb] = await Promise.all([connectHandshake(a, connector()), acceptHandshake(b, acceptor())]);
    expect(ra).toEqual({ peer: "bridge@host", peerCreation: 0x11223344, flags: OUR_FLAGS, replacesAlive: false });
    expect(rb).toEqual({ peer: "caller@host", peerCreation: 0x55667788, flags: OUR_FLAGS, replacesAlive: false });
    expect(a.sent.map((m) => String.fromCharCode(m[0]!))).toEqual(["N", "r"]);
    expect(b.sent.map((m) => String.fromCharCode(m[0]!))).toEqual(["s", "N", "a"]);
  });

  it("negotiates the intersection of flags", async () => {
    const [a, b] = pipe();
    const theirs = REQUIRED_FLAGS | DFLAG.FRAGMENTS;
    const [ra] = await Promise.all([connectHandshake(a, connector()), acceptHandshake(b, acceptor({ flags: theirs }))]);
    expect(ra.flags).toBe(theirs);
  });

  it("refuses a wrong cookie on the accepting side, at recv_challenge_reply", async () => {
    const [a, b] = pipe();
    const [ra, rb] = await Promise.all([
      settle(connectHandshake(a, connector({ cookie: "WRONG" }))),
      settle(acceptHandshake(b, acceptor())),
    ]);
    expect(rb).toBeInstanceOf(HandshakeError);
    expect(rb).toMatchObject({ step: "recv_challenge_reply", code: "bad_cookie", peer: "caller@host" });
    expect(ra).toBeInstanceOf(HandshakeError);
  });

  it("refuses a wrong cookie on the connecting side, at recv_challenge_ack", async () => {
    const t = scripted([
      buildStatus("ok"),
      buildChallenge(OUR_FLAGS, 42, 1, "bridge@host"),
      buildChallengeAck(digest(42, "SECRET")),
    ]);
    expect(await settle(connectHandshake(t, connector()))).toMatchObject({ step: "recv_challenge_ack", code: "bad_cookie" });
    // What we did send was right: our reply carries the digest of the peer's challenge.
    expect(Buffer.from(t.sent[1]!.subarray(5))).toEqual(digest(42, "SECRET"));
  });

  it("tells a peer lacking mandatory flags not_allowed and names the flags", async () => {
    const [a, b] = pipe();
    const poor = REQUIRED_FLAGS & ~(DFLAG.UNLINK_ID | DFLAG.MAP_TAG);
    const [ra, rb] = await Promise.all([
      settle(connectHandshake(a, connector({ flags: poor, required: 0n }))),
      settle(acceptHandshake(b, acceptor())),
    ]);
    expect(rb).toMatchObject({ step: "check_dflags", code: "missing_flags", missing: ["MAP_TAG", "UNLINK_ID"] });
    expect(ra).toMatchObject({ step: "recv_status", code: "not_allowed" });
    expect(parseStatus(b.sent[0]!, "send_status")).toBe("not_allowed");
  });

  it("aborts as the caller when the peer lacks mandatory flags", async () => {
    const [a, b] = pipe();
    const poor = REQUIRED_FLAGS & ~DFLAG.BIG_CREATION;
    const [ra] = await Promise.all([
      settle(connectHandshake(a, connector())),
      settle(acceptHandshake(b, acceptor({ flags: poor, required: 0n }))),
    ]);
    expect(ra).toMatchObject({ step: "check_dflags", code: "missing_flags", missing: ["BIG_CREATION"] });
  });

  it("accepts the digest bit alone for OTP 25's mandatory flags", async () => {
    const [a, b] = pipe();
    const digestOnly = DFLAG.MANDATORY_25_DIGEST | DFLAG.UNLINK_ID;
    const [, rb] = await Promise.all([
      connectHandshake(a, connector({ flags: digestOnly, required: 0n })),
      acceptHandshake(b, acceptor()),
    ]);
    expect(rb.flags & REQUIRED_FLAGS).toBe(REQUIRED_FLAGS);
  });

  for (const status of ["nok", "not_allowed"] as Admission[]) {
    it(`stops both sides on status ${status}`, async () => {
      const [a, b] = pipe();
      const [ra, rb] = await Promise.all([
        settle(connectHandshake(a, connector())),
        settle(acceptHandshake(b, acceptor({ admit: () => status }))),
      ]);
      expect(ra).toMatchObject({ step: "recv_status", code: status });
      expect(rb).toMatchObject({ step: "send_status", code: status });
    });
  }

  it("goes on after `alive` when the caller answers true", async () => {
    const [a, b] = pipe();
    const [ra, rb] = await Promise.all([connectHandshake(a, connector()), acceptHandshake(b, acceptor({ admit: () => "alive" }))]);
    expect(ra.peer).toBe("bridge@host");
    expect(rb.replacesAlive).toBe(true);
    expect(parseStatus(a.sent[1]!, "recv_status")).toBe("true");
  });

  it("refuses a challenge from another node than the one called", async () => {
    const [a, b] = pipe();
    const [ra] = await Promise.all([
      settle(connectHandshake(a, connector({ peer: "other@host" }))),
      settle(acceptHandshake(b, acceptor())),
    ]);
    expect(ra).toMatchObject({ step: "recv_challenge", code: "bad_name" });
  });

  it("gives a dynamic name to a peer that asks for one (NAME_ME)", async () => {
    const t = scripted([buildName(OUR_FLAGS | DFLAG.NAME_ME, 0, "somehost")]);
    const r = await settle(acceptHandshake(t, acceptor()));
    expect(r).toMatchObject({ code: "closed" });
    expect(Buffer.from(t.sent[0]!).subarray(0, 7).toString()).toBe("snamed:");
    expect(Buffer.from(t.sent[0]!).toString("latin1", 9, 9 + 12)).toBe("dyn@somehost");
    // Our flags say NAME_ME back, or OTP's do_setnode finds the name static and gives up.
    expect(parseChallenge(t.sent[1]!).flags & DFLAG.NAME_ME).toBe(DFLAG.NAME_ME);
  });
});

describe("the accepting side against scripted peers", () => {
  it("reads the complement `c` after an old `n` name before checking the reply", async () => {
    const t = scripted([
      buildOldName(OUR_FLAGS & 0xffffffffn, "old@host"),
      buildComplement(OUR_FLAGS, 99),
      buildChallengeReply(5, digest(0, "x")),
    ]);
    // The digest is over the acceptor's random challenge, so this scripted reply is refused:
    // what matters is that the complement was read first and the reply then checked.
    expect(await settle(acceptHandshake(t, acceptor()))).toMatchObject({
      step: "recv_challenge_reply",
      code: "bad_cookie",
      peer: "old@host",
    });
    expect(parseChallenge(t.sent[1]!).name).toBe("bridge@host");
  });

  it("completes with a correct reply after `n` + `c`, taking the complement's creation and high flags", async () => {
    const low = OUR_FLAGS & 0xffffffffn;
    const messages: Uint8Array[] = [buildOldName(low, "old@host")];
    const sent: Uint8Array[] = [];
    let wake: (() => void) | undefined;
    const t: HandshakeTransport = {
      send: (m) => {
        sent.push(m);
        if (m[0] === 0x4e) {
          const ch = parseChallenge(m);
          messages.push(buildComplement(OUR_FLAGS, 99), buildChallengeReply(1234, digest(ch.challenge, "SECRET")));
          wake?.();
        }
      },
      recv: async (step) => {
        while (messages.length === 0) await new Promise<void>((r) => (wake = r));
        const m = messages.shift();
        if (!m) throw new HandshakeError(step, "closed", "closed");
        return m;
      },
    };
    const r = await acceptHandshake(t, acceptor());
    expect(r).toMatchObject({ peer: "old@host", peerCreation: 99, flags: OUR_FLAGS });
    expect(Buffer.from(parseChallengeAck(sent[2]!).digest)).toEqual(digest(1234, "SECRET"));
  });

  it("refuses an `n` without HANDSHAKE_23", async () => {
    const t = scripted([buildOldName(REQUIRED_FLAGS & ~DFLAG.HANDSHAKE_23, "old@host")]);
    expect(await settle(acceptHandshake(t, acceptor()))).toMatchObject({ step: "recv_name", code: "missing_flags" });
  });

  const garbage: Array<[string, Uint8Array]> = [
    ["an empty message", new Uint8Array(0)],
    ["an unknown tag", Buffer.from("Xhello")],
    ["a short N", Buffer.from([0x4e, 1, 2, 3])],
    ["an N whose name runs past the end", (() => {
      const m = buildName(OUR_FLAGS, 1, "a@b");
      m.writeUInt16BE(500, 13);
      return m;
    })()],
    ["an N with a name that is not a node name", buildName(OUR_FLAGS, 1, "nohost")],
    ["an N with two @", buildName(OUR_FLAGS, 1, "a@b@c")],
    ["an n of version 6", (() => {
      const m = buildOldName(OUR_FLAGS, "a@b");
      m.writeUInt16BE(6, 1);
      return m;
    })()],
  ];
  for (const [what, bytes] of garbage) {
    it(`refuses ${what} with a typed error`, async () => {
      const r = await settle(acceptHandshake(scripted([bytes]), acceptor()));
      expect(r).toBeInstanceOf(HandshakeError);
      expect((r as HandshakeError).step).toBe("recv_name");
    });
  }

  it("refuses a challenge reply of the wrong size", async () => {
    const r = await settle(
      acceptHandshake(scripted([buildName(OUR_FLAGS, 1, "a@b"), Buffer.from([0x72, 0, 0, 0, 1, 2, 3])]), acceptor()),
    );
    expect(r).toMatchObject({ step: "recv_challenge_reply", code: "malformed" });
  });

  it("never throws anything but a HandshakeError on random input", async () => {
    for (let i = 0; i < 2000; i++) {
      const len = Math.floor(Math.random() * 40);
      const bytes = Buffer.from(Array.from({ length: len }, () => Math.floor(Math.random() * 256)));
      if (i % 3 === 0 && len > 0) bytes[0] = 0x4e;
      const r = await settle(acceptHandshake(scripted([bytes, bytes]), acceptor()));
      expect(r).toBeInstanceOf(HandshakeError);
    }
  });
});

describe("the connecting side against scripted peers", () => {
  it("sends N with our flags, creation and name", async () => {
    const t = scripted([buildStatus("ok")]);
    await settle(connectHandshake(t, connector()));
    const sent = parseName(t.sent[0]!);
    expect(sent).toEqual({ flags: OUR_FLAGS, creation: 0x55667788, name: "caller@host", old: false });
  });

  it("refuses an unknown status", async () => {
    const r = await settle(connectHandshake(scripted([buildStatus("maybe")]), connector()));
    expect(r).toMatchObject({ step: "recv_status", code: "unexpected" });
  });

  it("refuses garbage in place of the challenge", async () => {
    const r = await settle(connectHandshake(scripted([buildStatus("ok"), Buffer.from("N")]), connector()));
    expect(r).toMatchObject({ step: "recv_challenge", code: "malformed" });
  });
});
