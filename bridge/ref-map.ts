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

export class RefMap<V> {
  // Buckets by a hash of the id words; a bucket almost always holds one entry.
  readonly #buckets = new Map<number, Array<[Ref, V]>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(ref: Ref): V | undefined {
    const bucket = this.#buckets.get(hash(ref));
    if (bucket === undefined) return undefined;
    for (const [k, v] of bucket) if (sameRef(k, ref)) return v;
    return undefined;
  }

  set(ref: Ref, value: V): void {
    const h = hash(ref);
    const bucket = this.#buckets.get(h);
    if (bucket === undefined) {
      this.#buckets.set(h, [[ref, value]]);
      this.#size++;
      return;
    }
    for (const entry of bucket) {
      if (sameRef(entry[0], ref)) {
        entry[1] = value;
        return;
      }
    }
    bucket.push([ref, value]);
    this.#size++;
  }

  /** Removes `ref`; the value it had, if any. */
  take(ref: Ref): V | undefined {
    const h = hash(ref);
    const bucket = this.#buckets.get(h);
    if (bucket === undefined) return undefined;
    for (let i = 0; i < bucket.length; i++) {
      const [k, v] = bucket[i]!;
      if (!sameRef(k, ref)) continue;
      if (bucket.length === 1) this.#buckets.delete(h);
      else bucket.splice(i, 1);
      this.#size--;
      return v;
    }
    return undefined;
  }

  *values(): IterableIterator<V> {
    for (const bucket of this.#buckets.values()) for (const [, v] of bucket) yield v;
  }

  clear(): void {
    this.#buckets.clear();
    this.#size = 0;
  }
}

function hash(ref: Ref): number {
  const ids = ref.ids;
  let h = ref.creation | 0;
  for (let i = 0; i < ids.length; i++) h = (Math.imul(h, 31) + ids[i]!) | 0;
  return h;
}
