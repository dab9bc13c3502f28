/**
 * The gateway under fuzz, in its own process (`fixtures/fuzz-gateway.ts`, run with `--expose-gc`): a crash shows as
 * the process exiting, and the heap can be measured after a forced GC. Shared by the fuzz tests.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { Test } from 'tap';
import WebSocket from 'ws';

export interface FuzzStats {
  /** Frames counted for the asked call (−1: no such call). */
  framesIn: number;
  live: number;
  /** The first error-level log lines. */
  errors: string[];
  /** Warnings and errors saying a fault got past a guard (ticker, socket or HTTP handler, the process). */
  escaped: string[];
  logLines: number;
  heapUsed: number;
  rss: number;
}

export class FuzzChild {
  readonly proc: ChildProcess;
  exited: string | undefined;
  port = 0;
  private seq = 0;
  private readonly waiting = new Map<number, (s: FuzzStats) => void>();

  constructor(env: Record<string, string>) {
    const script = fileURLToPath(new URL('../fixtures/fuzz-gateway.js', import.meta.url));
    this.proc = fork(script, [], { execArgv: ['--expose-gc'], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('exit', (code, signal) => (this.exited = `exit ${code} ${signal ?? ''}`));
    this.proc.on('message', (m: { id?: number; port?: number } & FuzzStats) => {
      if (m.port) this.port = m.port;
      if (m.id !== undefined) {
        this.waiting.get(m.id)?.(m);
        this.waiting.delete(m.id);
      }
    });
  }

  /** Stats (of the call `uuid`, when given); `gc` forces two GCs first. Rejects when the process is gone. */
  ask(cmd: 'stats' | 'gc', uuid?: string): Promise<FuzzStats> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      if (this.exited || !this.proc.connected) return reject(new Error(`gateway process died (${this.exited})`));
      const timer = setTimeout(() => reject(new Error(`gateway did not answer ${cmd}`)), 10000);
      this.waiting.set(id, (s) => (clearTimeout(timer), resolve(s)));
      this.proc.send({ id, cmd, uuid }, (err) => err && reject(err));
    });
  }
}

/**
 * Batches of fuzz cases: each property run is a batch of `batch[0]..batch[1]` cases run in parallel, then a health
 * check of the gateway; a case reports a failure by pushing to `fails`. Counts every case and names each batch run.
 */
export function fuzzBatches(t: Test, seed: number, fails: string[], healthy: (label: string) => Promise<unknown>) {
  let cases = 0;
  return {
    get cases(): number {
      return cases;
    },
    async run<T>(name: string, arb: fc.Arbitrary<T>, batch: [number, number], numRuns: number, one: (x: T) => Promise<void>): Promise<void> {
      const started = performance.now();
      let n = 0;
      await fc
        .assert(
          fc.asyncProperty(fc.array(arb, { minLength: batch[0], maxLength: batch[1] }), async (xs) => {
            const was = fails.length;
            await Promise.all(xs.map(one));
            n += xs.length;
            await healthy(name);
            return fails.length === was;
          }),
          { seed, numRuns, endOnFailure: true },
        )
        .catch((err: Error) => fails.push(`${name}: ${err.message.split('\n').slice(0, 6).join(' | ')}`));
      cases += n;
      t.pass(`${name}: ${n} cases in ${Math.round(performance.now() - started)} ms`);
    },
  };
}

/** The fuzz's good call: a leg that sends `frame` every 20 ms (drift-corrected) until stopped, and counts what it sent. */
export class GoodCall {
  sent = 0;
  /** The close code, once closed (by either side). */
  closedCode: number | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(readonly ws: WebSocket) {}

  static async open(port: number, handshake: Record<string, unknown>, frame: Uint8Array): Promise<GoodCall> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/socket`, { perMessageDeflate: false });
    const call = new GoodCall(ws);
    ws.on('close', (c) => (call.closedCode = c));
    ws.on('error', () => {});
    await new Promise<void>((r) => ws.once('open', () => r()));
    ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': 'audio/l16;rate=16000', ...handshake }));
    const t0 = performance.now();
    const tick = () => {
      const due = Math.floor((performance.now() - t0) / 20);
      while (call.sent <= due && ws.readyState === WebSocket.OPEN) {
        ws.send(frame);
        call.sent++;
      }
      call.timer = setTimeout(tick, 20);
    };
    tick();
    return call;
  }

  /** Stop sending (the leg stays open). */
  stop(): void {
    clearTimeout(this.timer);
  }

  terminate(): void {
    this.stop();
    this.ws.terminate();
  }
}
