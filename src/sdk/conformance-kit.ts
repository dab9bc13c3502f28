/**
 * What the TTS and bot conformance suites share: the check record, the handle census, and bounded waits that never
 * leave a timer or an unobserved rejection behind (an adapter that hangs or rejects late must not hurt the suite).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CallInfo } from '../call/call-info.js';

export interface ConformanceCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export const TIMED_OUT: unique symbol = Symbol('timed out');

/** `p`, or {@link TIMED_OUT} after `ms`. A late rejection of `p` is observed (and dropped), never unhandled. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  p.catch(() => {});
  try {
    return await Promise.race([p, new Promise<typeof TIMED_OUT>((r) => (timer = setTimeout(() => r(TIMED_OUT), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** An error's message, whatever was thrown. */
export function why(err: unknown): string {
  try {
    const e = err as { message?: unknown; code?: unknown } | null;
    const msg = e && typeof e === 'object' && typeof e.message === 'string' ? e.message : String(err);
    return e && typeof e === 'object' && typeof e.code === 'string' ? `${e.code}: ${msg}` : msg;
  } catch {
    return 'unprintable error';
  }
}

export function handleCounts(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

/** Handles (timers, sockets, child processes, …) open now beyond `before`, after waiting up to `settleMs` for them. */
export async function leakedHandles(before: Map<string, number>, settleMs: number): Promise<string[]> {
  const extra = (): string[] => {
    const out: string[] = [];
    for (const [k, n] of handleCounts()) {
      const was = before.get(k) ?? 0;
      if (n > was) out.push(`${k} +${n - was}`);
    }
    return out;
  };
  const end = Date.now() + settleMs;
  let e = extra();
  while (e.length && Date.now() < end) {
    await sleep(50);
    e = extra();
  }
  return e;
}

export function conformanceCall(rateHz: number, n: number, kind: string): CallInfo {
  return Object.freeze({
    callId: `${kind}-conformance-${rateHz}-${n}`,
    conversationUuid: undefined,
    from: '447700900000',
    to: '447700900001',
    sampleRateHz: rateHz,
    language: 'en-US',
    metadata: {},
  });
}

/** Human-readable report. */
export function formatChecks(adapterName: string, checks: readonly ConformanceCheck[]): string {
  const lines = checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
  const failed = checks.filter((c) => !c.ok).length;
  lines.push(`${adapterName}: ${checks.length - failed}/${checks.length} checks passed`);
  return lines.join('\n') + '\n';
}

/**
 * The last check of every suite: the adapter's `close()` settles within 5 s without throwing, and no handle (timer,
 * socket, child process) opened since `before` is left after `settleMs`. Returns the problems (empty = passed).
 */
export async function closeAndFindLeaks(adapter: { close?(): unknown }, before: Map<string, number>, settleMs: number): Promise<string[]> {
  let closeErr: string | undefined;
  try {
    const r = await within(
      Promise.resolve().then(() => adapter.close?.()),
      5000,
    );
    if (r === TIMED_OUT) closeErr = 'close() did not settle within 5000 ms';
  } catch (err) {
    closeErr = `close() threw: ${why(err)}`;
  }
  const extra = await leakedHandles(before, settleMs);
  return [closeErr, extra.length ? `left open: ${extra.join(', ')}` : undefined].filter((x): x is string => !!x);
}
