/**
 * pino JSON logger. One root per process; each call gets a child (uuid, conversation uuid) once, never per frame.
 *
 * Without a destination the log goes to stdout through pino's asynchronous SonicBoom, so logging never blocks the
 * event loop, and with a bounded buffer, so a slow or stuck reader never grows memory: past `LOG_BUFFER_MAX_BYTES`
 * lines are dropped and counted ({@link LogOutput.droppedLines}, `gateway_log_lines_dropped_total`). On exit, pino
 * flushes what is buffered synchronously; that flush is bounded too (`EXIT_FLUSH_MS`), so a stuck reader cannot keep
 * the process from exiting.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from '../config/config.js';

export type { Logger };

/** Bytes of log the stdout buffer may hold while the reader is behind (~20,000 typical lines); past it, lines are dropped. */
export const LOG_BUFFER_MAX_BYTES = 4 * 1024 * 1024;
/** How long a synchronous flush (on exit) may wait for a stuck reader before it gives up. */
export const EXIT_FLUSH_MS = 1000;

/** The stdout output of a logger made by {@link createLogger} without a destination. */
export interface LogOutput {
  /** Lines dropped because the buffer was full (stdout too slow). */
  readonly droppedLines: number;
  /** Synchronous flushes (on exit) that gave up with lines still buffered. */
  readonly flushesAbandoned: number;
  /** Called with the number of lines dropped, as they are dropped (e.g. to count them in a metric). */
  onDrop: ((lines: number) => void) | undefined;
}

const outputs = new WeakMap<Logger, LogOutput>();

/** The stdout output behind a root logger from {@link createLogger}, or undefined when it was given a destination. */
export function logOutputOf(logger: Logger): LogOutput | undefined {
  return outputs.get(logger);
}

/**
 * Count the logger's dropped lines in `counter` (those dropped so far, then each as it happens). No-op for a logger
 * with its own destination.
 */
export function countLogDrops(logger: Logger, counter: { inc(n: number): void }): void {
  const out = outputs.get(logger);
  if (!out) return;
  if (out.droppedLines > 0) counter.inc(out.droppedLines);
  out.onDrop = (n) => counter.inc(n);
}

/**
 * The process's root logger. `bindings` go on every line (with `WORKERS` > 1: `worker`, the cluster worker id, and
 * `pid`, so a line says which process wrote it).
 */
export function createLogger(level: LogLevel, destination?: DestinationStream, bindings?: Record<string, unknown>): Logger {
  const out = destination === undefined ? stdoutOutput() : undefined;
  const logger = pino(
    {
      level,
      base: { svc: 'vonage-gateway', ...bindings },
      // Never log credentials, should a caller or adapter pass them in a log object.
      redact: { paths: ['authorization', 'headers.authorization', 'req.headers.authorization', '*.token', '*.apiKey'], censor: '[redacted]' },
    },
    destination ?? out?.stream,
  );
  if (out) outputs.set(logger, out.output);
  return logger;
}

interface StdoutOutput {
  stream: DestinationStream;
  output: LogOutput;
}

function stdoutOutput(): StdoutOutput {
  // Touching process.stdout makes fd 1 non-blocking when it is a pipe (libuv opens it so): a write to a full pipe then
  // fails with EAGAIN (SonicBoom retries later) instead of parking a thread, or the whole process on exit, forever.
  void process.stdout;
  /** While a synchronous flush runs: when it must give up. 0 = not flushing (async writes retry EAGAIN forever). */
  let flushDeadline = 0;
  const output = { droppedLines: 0, flushesAbandoned: 0, onDrop: undefined as ((lines: number) => void) | undefined };
  const stream = pino.destination({
    dest: 1,
    sync: false,
    maxLength: LOG_BUFFER_MAX_BYTES,
    retryEAGAIN: () => flushDeadline === 0 || performance.now() < flushDeadline,
  });
  // Any write error (EPIPE: nobody reads stdout any more) must not become an uncaught 'error' event.
  stream.on('error', () => {});
  stream.on('drop', () => {
    output.droppedLines++;
    try {
      output.onDrop?.(1);
    } catch {
      // counting must never break logging
    }
  });
  // pino flushes with flushSync() on exit (and may elsewhere): bound it, so a stuck reader cannot hang the exit.
  const flushSync = stream.flushSync.bind(stream);
  stream.flushSync = () => {
    flushDeadline = performance.now() + EXIT_FLUSH_MS;
    try {
      flushSync();
    } catch {
      output.flushesAbandoned++;
    } finally {
      flushDeadline = 0;
    }
  };
  return { stream, output };
}
