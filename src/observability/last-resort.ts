/**
 * The process's last resort: `uncaughtException` and `unhandledRejection` handlers that log, count
 * (`gateway_process_faults_total{type}`) and keep the process up. They are not the mechanism — every adapter call and
 * socket handler is guarded where it happens, so one call's failure ends that call alone — they are the net under it:
 * a fault that reaches them escaped a guard and is a bug to fix, but it must not hang up every live call.
 *
 * A storm cannot flood the log: per type, one line per {@link LastResortOptions.intervalMs} window (the first fault is
 * logged at once, with its stack); faults in the rest of the window are only counted, and one summary line says how
 * many when the window ends. Handlers never throw and never allocate per fault beyond the counter.
 */
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

export type ProcessFaultType = 'uncaughtException' | 'unhandledRejection';

export interface LastResortOptions {
  /** One log line per type per window. Default 10 s. */
  intervalMs?: number;
  /** Before {@link LastResort.attach}: where a line goes (JSON). Default stderr. */
  write?: (line: string) => void;
  now?: () => number;
}

interface TypeState {
  /** When the last line for this type was written (ms), or -Infinity. */
  lastLogMs: number;
  /** Faults since then that were only counted. */
  suppressed: number;
  /** The end-of-window summary, while one is due. */
  timer: NodeJS.Timeout | undefined;
}

function describe(err: unknown): { name: string; message: string; stack?: string } {
  try {
    if (err instanceof Error) return { name: err.name, message: String(err.message).slice(0, 500), stack: err.stack?.split('\n').slice(0, 8).join('\n') };
    return { name: typeof err, message: String(err).slice(0, 500) };
  } catch {
    return { name: 'unknown', message: 'unprintable value' };
  }
}

export class LastResort {
  private readonly intervalMs: number;
  private readonly write: (line: string) => void;
  private readonly now: () => number;
  private metrics: Metrics | undefined;
  private logger: Logger | undefined;
  /** Faults before {@link attach}: added to the metric then. */
  private readonly early: Record<ProcessFaultType, number> = { uncaughtException: 0, unhandledRejection: 0 };
  private readonly state: Record<ProcessFaultType, TypeState> = {
    uncaughtException: { lastLogMs: -Infinity, suppressed: 0, timer: undefined },
    unhandledRejection: { lastLogMs: -Infinity, suppressed: 0, timer: undefined },
  };

  constructor(opts: LastResortOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 10_000;
    this.write = opts.write ?? ((line) => void process.stderr.write(line));
    this.now = opts.now ?? (() => Date.now());
  }

  /** Register the handlers on `proc` (once, as early as possible). */
  install(proc: NodeJS.Process = process): this {
    proc.on('uncaughtException', (err) => this.fault('uncaughtException', err));
    proc.on('unhandledRejection', (reason) => this.fault('unhandledRejection', reason));
    return this;
  }

  /** From now on log through `logger` and count in `metrics` (faults counted so far are added). */
  attach(metrics: Metrics, logger: Logger): void {
    this.metrics = metrics;
    this.logger = logger;
    for (const type of ['uncaughtException', 'unhandledRejection'] as const) {
      if (this.early[type]) metrics.processFaults.inc({ type }, this.early[type]);
      this.early[type] = 0;
    }
  }

  /** One fault that reached the process (the handlers call this). Never throws. */
  fault(type: ProcessFaultType, err: unknown): void {
    try {
      if (this.metrics) this.metrics.processFaults.inc({ type });
      else this.early[type]++;
      const s = this.state[type];
      const t = this.now();
      if (t - s.lastLogMs < this.intervalMs) {
        s.suppressed++;
        if (!s.timer) {
          s.timer = setTimeout(() => this.summary(type), Math.max(0, s.lastLogMs + this.intervalMs - t));
          s.timer.unref();
        }
        return;
      }
      s.lastLogMs = t;
      this.line('error', { type, err: describe(err) }, `last resort: ${type} outside any guard (the process stays up; this is a bug to report)`);
    } catch {
      // the last resort must never become the fault
    }
  }

  private summary(type: ProcessFaultType): void {
    const s = this.state[type];
    s.timer = undefined;
    if (!s.suppressed) return;
    const n = s.suppressed;
    s.suppressed = 0;
    s.lastLogMs = this.now();
    this.line(
      'error',
      { type, suppressed: n, windowMs: this.intervalMs },
      `last resort: ${n} more ${type} in ${Math.round(this.intervalMs / 1000)} s (counted, not logged one by one)`,
    );
  }

  private line(level: 'error', fields: Record<string, unknown>, msg: string): void {
    if (this.logger) this.logger[level](fields, msg);
    else this.write(`${JSON.stringify({ level: 50, time: Date.now(), ...fields, msg })}\n`);
  }
}
