/**
 * A process on a bridge node (or any `Node`) whose mailbox a test reads: `take` waits for the
 * first message that matches, `ended` for the process's end.
 */
import type { Node, Process } from "../../bridge/api.js";
import { atom, type Pid, type Term } from "../../etf/terms.js";

export class Mailbox {
  readonly process: Process;
  /** Messages not taken yet, oldest first. */
  readonly messages: Term[] = [];
  #waiters: Array<() => void> = [];
  exitReason: Term | undefined;

  constructor(node: Node, options: { register?: string; trapExit?: boolean } = {}) {
    this.process = node.spawn(
      {
        message: (msg) => {
          this.messages.push(msg);
          this.#wake();
        },
        terminated: (reason) => {
          this.exitReason = reason;
          this.#wake();
        },
      },
      {
        ...(options.register !== undefined ? { register: atom(options.register) } : {}),
        trapExit: options.trapExit ?? false,
      },
    );
  }

  get pid(): Pid {
    return this.process.pid;
  }

  /** Takes the first message matching `match` (waiting for it), or rejects after `timeoutMs`. */
  async take(match: (t: Term) => boolean = () => true, timeoutMs = 10_000): Promise<Term> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const i = this.messages.findIndex(match);
      if (i >= 0) return this.messages.splice(i, 1)[0]!;
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no matching message within ${timeoutMs} ms; have ${this.messages.length}`);
      await this.#change(left);
    }
  }

  /** Waits until the process has ended; its reason. */
  async ended(timeoutMs = 10_000): Promise<Term> {
    const until = Date.now() + timeoutMs;
    while (this.exitReason === undefined) {
      const left = until - Date.now();
      if (left <= 0) throw new Error("the process did not end");
      await this.#change(left);
    }
    return this.exitReason;
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Resolves at the next message or end of the process, or after `ms`. */
  #change(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.#waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
