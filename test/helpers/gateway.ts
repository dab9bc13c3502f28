/**
 * Starts a real gateway on 127.0.0.1:0 for a test, with its logs and its calls' observer events captured in memory,
 * and closes it at teardown. Assert on the events (what a call did: transcripts, replies, apologies, its end), the
 * metrics or the HTTP answers; log lines only where the line itself is the feature (what an operator reads, "logged
 * once" bounds).
 */
import type { Test } from 'tap';
import { buildGateway, type Gateway } from '../../src/app.js';
import type { CallObserver, CallObserverEvent } from '../../src/call/observer.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** One observer event of one call (src/call/observer.ts), with the call's id and when it was recorded (wall clock ms). */
export type CallEvent = CallObserverEvent & { call: string; at: number };

/** Records every call's observer events (always active, so every session reports them). */
export function recordEvents(events: CallEvent[]): CallObserver {
  return { active: true, event: (c, e) => void events.push({ ...e, call: c.info.callId, at: Date.now() }) };
}

export interface TestGateway {
  gw: Gateway;
  url: string;
  port: number;
  logs: LogLine[];
  /** Every call's observer events, in order. */
  events: CallEvent[];
  /** Prometheus text from /metrics. */
  metrics(): Promise<string>;
}

/**
 * Tests run offline recognisers at the test process's own priority (`LOCAL_ASR_NICE=0`): tap runs two test files at
 * once, and a CPU-bound neighbour file starves a recogniser at the default niceness 10 (seen: no final within 15–20 s
 * under load, and a red CI run). The default itself is tested in test/asr/local-priority.test.ts.
 */
export const TEST_ASR_ENV = { LOCAL_ASR_NICE: '0' } as const;

export async function startGateway(t: Test, env: Record<string, string> = {}): Promise<TestGateway> {
  const logs: LogLine[] = [];
  const events: CallEvent[] = [];
  // Offline ASR and TTS are off unless a test asks for them, so each test states the pipeline it exercises.
  const full = { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'debug', ASR_ADAPTER: 'none', TTS_ADAPTER: 'none', ...TEST_ASR_ENV, ...env };
  const config = loadConfig(full);
  const logger = createLogger(config.logLevel, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const gw = await buildGateway({ config, logger, env: full, observer: recordEvents(events) });
  const port = await gw.listen();
  t.teardown(() => gw.close());
  const url = `http://127.0.0.1:${port}`;
  return { gw, url, port, logs, events, metrics: async () => (await fetch(`${url}/metrics`)).text() };
}

/** Value of a Prometheus sample line (`name{labels} value`), or 0 when absent. */
export function metricValue(text: string, sample: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(sample + ' ')) return Number(line.slice(sample.length + 1));
  }
  return 0;
}

/** The sum of a metric's samples whose line starts with `prefix` (e.g. `gateway_adapter_errors_total{stage="tts"`). */
export function metricSum(text: string, prefix: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith(prefix)) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
}

/** Wait (polling /metrics, bounded) until `pred` holds for the Prometheus text. */
export async function untilMetrics(g: { metrics(): Promise<string> }, pred: (text: string) => boolean, timeoutMs: number, what: string): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const text = await g.metrics();
    if (pred(text)) return text;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Wait until a log line matches; on timeout, print the gateway's log lines to help diagnose. */
export async function untilLog(g: TestGateway, pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
  try {
    await until(() => g.logs.some(pred), timeoutMs, what);
  } catch (err) {
    for (const l of g.logs) process.stderr.write(`  log: ${JSON.stringify(l).slice(0, 300)}\n`);
    throw err;
  }
  return g.logs.find(pred) as LogLine;
}

/** The events of one type (optionally of one call), typed. */
export function eventsOf<K extends CallEvent['type']>(g: { events: CallEvent[] }, type: K, call?: string): Array<Extract<CallEvent, { type: K }>> {
  return g.events.filter((e): e is Extract<CallEvent, { type: K }> => e.type === type && (call === undefined || e.call === call));
}

/** Wait until an event of `type` matches `pred`; on timeout, print the events seen to help diagnose. */
export async function untilEvent<K extends CallEvent['type']>(
  g: { events: CallEvent[] },
  type: K,
  pred: (e: Extract<CallEvent, { type: K }>) => boolean,
  timeoutMs: number,
  what: string,
): Promise<Extract<CallEvent, { type: K }>> {
  const find = () => eventsOf(g, type).find(pred);
  try {
    await until(() => find() !== undefined, timeoutMs, what);
  } catch (err) {
    for (const e of g.events) if (e.type !== 'timing') process.stderr.write(`  event: ${JSON.stringify(e).slice(0, 300)}\n`);
    throw err;
  }
  return find() as Extract<CallEvent, { type: K }>;
}

/** Wait (polling, bounded) until `cond()` is true. */
export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
