/** The real gateway as a child process with `WORKERS` > 1, and HTTP on a fresh connection (so requests spread over workers). */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { until } from './gateway.js';

export interface LogLine {
  msg: string;
  [k: string]: unknown;
}

export interface ClusterChild {
  proc: ChildProcess;
  port: number;
  /** Parsed stdout lines so far. */
  logs: LogLine[];
  exited: Promise<number | null>;
  /** Wait for a log line that matches. */
  untilLog(pred: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine>;
}

export async function startCluster(env: Record<string, string>): Promise<ClusterChild> {
  const proc = spawn(process.execPath, ['dist/src/main.js'], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ASR_ADAPTER: 'none', TTS_ADAPTER: 'none', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let partial = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l) as LogLine);
      } catch {
        logs.push({ msg: `(not JSON) ${l}` });
      }
    }
  });
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const untilLog = async (pred: (l: LogLine) => boolean, timeoutMs: number, what: string) => {
    try {
      await until(() => logs.some(pred), timeoutMs, what);
    } catch (e) {
      for (const l of logs.slice(-40)) process.stderr.write(`  log: ${JSON.stringify(l).slice(0, 300)}\n`);
      if (err) process.stderr.write(`  stderr: ${err.slice(0, 2000)}\n`);
      throw e;
    }
    return logs.find(pred)!;
  };
  const up = await untilLog((l) => l.msg === 'gateway listening', 30000, 'the gateway to listen');
  return { proc, port: up.port as number, logs, exited, untilLog };
}

/** GET on a new TCP connection (no keep-alive pool): round-robin hands each to the next worker. */
export function freshGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A console client: the SSE events it received, by name. */
export interface SseClient {
  events: Array<{ event: string; data: unknown }>;
  close(): void;
}

export function openSse(port: number, path: string): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const events: SseClient['events'] = [];
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`console answered ${res.statusCode}`));
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
        }
      });
      res.on('error', () => {});
      resolve({ events, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}
