/** Starts a real gateway on 127.0.0.1:0 for a test, with logs captured in memory, and closes it at teardown. */
import type { Test } from 'tap';
import { buildGateway, type Gateway } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface TestGateway {
  gw: Gateway;
  url: string;
  port: number;
  logs: LogLine[];
  /** Prometheus text from /metrics. */
  metrics(): Promise<string>;
}

export async function startGateway(t: Test, env: Record<string, string> = {}): Promise<TestGateway> {
  const logs: LogLine[] = [];
  // Offline ASR and TTS are off unless a test asks for them, so each test states the pipeline it exercises.
  const full = { HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'debug', ASR_ADAPTER: 'none', TTS_ADAPTER: 'none', ...env };
  const config = loadConfig(full);
  const logger = createLogger(config.logLevel, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const gw = await buildGateway({ config, logger, env: full });
  const port = await gw.listen();
  t.teardown(() => gw.close());
  const url = `http://127.0.0.1:${port}`;
  return { gw, url, port, logs, metrics: async () => (await fetch(`${url}/metrics`)).text() };
}

/** Value of a Prometheus sample line (`name{labels} value`), or 0 when absent. */
export function metricValue(text: string, sample: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(sample + ' ')) return Number(line.slice(sample.length + 1));
  }
  return 0;
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

/** Wait (polling, bounded) until `cond()` is true. */
export async function until(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
