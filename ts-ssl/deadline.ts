/**
 * The `Timeout` of an API call (`connect/4`, `transport_accept/2`, `ssl_accept/2`, `accept/2`,
 * `recv/3`) as an AbortSignal that the waiting call listens to.
 *
 * Erlang takes any timeout up to 2^32 - 1 ms (about 49.7 days), as gen_tcp does; Node's timers
 * (AbortSignal.timeout too) clamp a delay past 2^31 - 1 ms to 1 ms, so that such a call would
 * time out at once. A longer timeout is waited in steps Node can time.
 */
import type { Timeout } from "./args.js";
import { reason, SslError } from "./errors.js";

/** The longest delay Node's timers keep (a signed 32-bit millisecond count). */
const LONGEST_TIMER = 2 ** 31 - 1;

export interface Deadline {
  /** Aborts, with SslError `timeout` as its reason, when the time is up; none for `infinity`. */
  readonly signal: AbortSignal | undefined;
  /** Stops the clock: the call is over. */
  cancel(): void;
}

export function deadline(t: Timeout): Deadline {
  if (t === "infinity") return { signal: undefined, cancel: () => {} };
  const controller = new AbortController();
  const end = performance.now() + t;
  let timer: NodeJS.Timeout | undefined;
  const step = () => {
    const left = end - performance.now();
    if (left <= 0) {
      controller.abort(new SslError(reason.timeout));
      return;
    }
    // unref: a call that waits never keeps the bridge's process alive by itself.
    timer = setTimeout(step, Math.min(Math.ceil(left), LONGEST_TIMER)).unref();
  };
  step();
  return { signal: controller.signal, cancel: () => clearTimeout(timer) };
}

/** Runs a call under `t`'s deadline, and stops the clock however the call ends. */
export async function within<T>(t: Timeout, call: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  const d = deadline(t);
  try {
    return await call(d.signal);
  } finally {
    d.cancel();
  }
}
