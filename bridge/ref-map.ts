/**
 * A map keyed by references (Erlang equality: node, creation and id words), without building a
 * string per lookup: monitors and aliases are looked up for every call the bridge serves.
 */
import type { Ref } from "../etf/terms.js";

export function sameRef(a: Ref, b: Ref): boolean {
  if (a === b) return true;
  if (a.node !== b.node || a.creation !== b.creation || a.ids.length !== b.ids.length) return false;
  for (let i = 0; i < a.ids.length; i++) if (a.ids[i] !== b.ids[i]) return false;
  return true;
}

/** An entry, chained to the next one whose reference has the same hash (rare). */
interface Entry<V> {
  ref: Ref;
  value: V;
  next: Entry<V> | undefined;
}

export class RefMap<V> {
  // Chains by a hash of the id words; a chain almost always holds one entry, one object.
  readonly #chains = new Map<number, Entry<V>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(ref: Ref): V | undefined {
    for (let e = this.#chains.get(hash(ref)); e !== undefined; e = e.next) if (sameRef(e.ref, ref)) return e.value;
    return undefined;
  }

  set(ref: Ref, value: V): void {
    const h = hash(ref);
    const first = this.#chains.get(h);
    for (let e = first; e !== undefined; e = e.next) {
      if (sameRef(e.ref, ref)) {
        e.value = value;
        return;
      }
    }
    this.#chains.set(h, { ref, value, next: first });
    this.#size++;
  }

  /** Removes `ref`; the value it had, if any. */
  take(ref: Ref): V | undefined {
    const h = hash(ref);
    let before: Entry<V> | undefined;
    for (let e = this.#chains.get(h); e !== undefined; before = e, e = e.next) {
      if (!sameRef(e.ref, ref)) continue;
      if (before !== undefined) before.next = e.next;
      else if (e.next !== undefined) this.#chains.set(h, e.next);
      else this.#chains.delete(h);
      this.#size--;
      return e.value;
    }
    return undefined;
  }

  *values(): IterableIterator<V> {
    for (const first of this.#chains.values()) for (let e: Entry<V> | undefined = first; e !== undefined; e = e.next) yield e.value;
  }

  clear(): void {
    this.#chains.clear();
    this.#size = 0;
  }
}

function hash(ref: Ref): number {
  const ids = ref.ids;
  let h = ref.creation | 0;
  for (let i = 0; i < ids.length; i++) h = (Math.imul(h, 31) + ids[i]!) | 0;
  return h;
}
