import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Ref, atom } from "../../etf/terms.js";
import { RefMap, sameRef } from "../../bridge/ref-map.js";

describe("RefMap", () => {
  it("finds references by Erlang equality, not identity", () => {
    const m = new RefMap<number>();
    m.set(new Ref(atom("a@h"), 1, [1, 2, 3]), 1);
    expect(m.get(new Ref(atom("a@h"), 1, [1, 2, 3]))).toBe(1);
    expect(m.get(new Ref(atom("b@h"), 1, [1, 2, 3]))).toBeUndefined();
    expect(m.get(new Ref(atom("a@h"), 2, [1, 2, 3]))).toBeUndefined();
    expect(m.get(new Ref(atom("a@h"), 1, [1, 2, 3, 4]))).toBeUndefined();
    m.set(new Ref(atom("a@h"), 1, [1, 2, 3]), 2);
    expect(m.size).toBe(1);
    expect(m.take(new Ref(atom("a@h"), 1, [1, 2, 3]))).toBe(2);
    expect(m.size).toBe(0);
  });

  it("keeps references apart that share a hash (same ids, other nodes)", () => {
    const m = new RefMap<string>();
    const nodes = ["a@h", "b@h", "c@h"];
    for (const n of nodes) m.set(new Ref(atom(n), 7, [9, 9, 9]), n);
    expect(m.size).toBe(3);
    for (const n of nodes) expect(m.get(new Ref(atom(n), 7, [9, 9, 9]))).toBe(n);
    expect(m.take(new Ref(atom("b@h"), 7, [9, 9, 9]))).toBe("b@h");
    expect([...m.values()].sort()).toEqual(["a@h", "c@h"]);
  });

  it("behaves as a Map keyed by the reference's fields (property)", () => {
    const ref = fc
      .tuple(fc.constantFrom("a@h", "b@h"), fc.integer({ min: 0, max: 3 }), fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 5 }))
      .map(([n, c, ids]) => new Ref(atom(n), c, ids));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("set", "take"), ref, fc.nat())), (ops) => {
        const m = new RefMap<number>();
        const model = new Map<string, number>();
        const key = (r: Ref) => `${r.node.name}|${r.creation}|${r.ids.join(",")}`;
        for (const [op, r, v] of ops) {
          if (op === "set") {
            m.set(r, v);
            model.set(key(r), v);
          } else {
            expect(m.take(r)).toBe(model.get(key(r)));
            model.delete(key(r));
          }
          expect(m.size).toBe(model.size);
          expect(m.get(r)).toBe(model.get(key(r)));
        }
      }),
    );
    expect(sameRef(new Ref(atom("a@h"), 1, [1]), new Ref(atom("a@h"), 1, [1]))).toBe(true);
  });
});
