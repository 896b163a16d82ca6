/**
 * The bridge's logger: four levels, one line per event. The default writes to stderr; tests
 * pass a `MemoryLogger` and read what was said.
 */

export type LogLevel = "debug" | "info" | "warning" | "error";

const rank: Record<LogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3 };

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

/** A logger that formats each event and hands the line to `write` when its level is high enough. */
class LineLogger implements Logger {
  constructor(
    private readonly minimum: number,
    private readonly write: (level: LogLevel, line: string) => void,
  ) {}

  #emit(level: LogLevel, message: string): void {
    if (rank[level] >= this.minimum) this.write(level, message);
  }

  debug(message: string): void {
    this.#emit("debug", message);
  }
  info(message: string): void {
    this.#emit("info", message);
  }
  warning(message: string): void {
    this.#emit("warning", message);
  }
  error(message: string): void {
    this.#emit("error", message);
  }
}

/** Writes `<ISO time> <level> <message>` lines to stderr, from `level` up. */
export function stderrLogger(level: LogLevel = "info"): Logger {
  return new LineLogger(rank[level], (lvl, message) => {
    process.stderr.write(`${new Date().toISOString()} ${lvl} ${message}\n`);
  });
}

/** The level a setting names (`TS_SSL_LOG`), or undefined when it names none. */
export function levelFromEnv(value: string | undefined): LogLevel | undefined {
  return value !== undefined && value in rank ? (value as LogLevel) : undefined;
}

export interface LogEntry {
  level: LogLevel;
  message: string;
}

/** Keeps every event in memory (all levels), for tests that check what the bridge said. */
export class MemoryLogger extends LineLogger {
  readonly entries: LogEntry[] = [];

  constructor() {
    const entries: LogEntry[] = [];
    super(0, (level, message) => entries.push({ level, message }));
    this.entries = entries;
  }

  /** The entries whose message matches `pattern`. */
  matching(pattern: RegExp): LogEntry[] {
    return this.entries.filter((e) => pattern.test(e.message));
  }

  text(): string {
    return this.entries.map((e) => `${e.level} ${e.message}`).join("\n");
  }
}

/** Says nothing. */
export const silentLogger: Logger = new LineLogger(Infinity, () => {});
