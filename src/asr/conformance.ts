/**
 * The ASR adapter conformance suite: what every adapter — built-in or a user's own — must do to be driven safely by
 * the gateway. Run it from the command line against any adapter (`vgw asr-conformance --adapter ./my-asr.mjs`), or
 * call {@link runAsrConformance} from a test. It needs no test framework and no network of its own.
 *
 * Checks: the adapter object's shape; at each sample rate, real speech frames in → at least one final out, every
 * event well-formed, `write()` never throwing (also after close), `close()` idempotent and ending `events`; aborting
 * the call's signal mid-stream ends `events`; provider errors surfaced as `error` events, never thrown (when the
 * caller can provoke one); and no handle (socket, timer, child process) left once the adapter is closed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { StreamResampler, loadResampler } from '../audio/resampler.js';
import type { CallInfo } from '../call/call-info.js';
import { SUPPORTED_RATES } from '../config/config.js';
import type { AsrAdapter, AsrEvent, AsrStream } from './types.js';

export interface AsrConformanceOptions {
  adapter: AsrAdapter;
  /** Recorded speech (mono 16-bit PCM at any rate); resampled to each rate tested. */
  speech: { samples: Int16Array; sampleRateHz: number };
  /** Rates to test; default: the adapter's declared rates that the gateway supports (all three if none declared). */
  ratesHz?: readonly number[];
  /** Longest wait for a final after the speech and trailing silence were written. Default 20 s. */
  finalTimeoutMs?: number;
  /** Silence written after the speech, ms. Default 1000. */
  trailingSilenceMs?: number;
  /** Write frames at 20 ms intervals (for engines that need real time) instead of as fast as possible. */
  realTime?: boolean;
  /** A final's text must match this, when given. */
  expectText?: RegExp;
  language?: string;
  /**
   * Make the provider fail the next stream it serves (for adapters tested against a fake service). When given, the
   * suite checks that the failure arrives as an `error` event and never as an exception.
   */
  provokeError?: () => void | Promise<void>;
  /** Close the adapter at the end and check for leaked handles. Default true. */
  closeAdapter?: boolean;
}

export interface ConformanceCheck {
  name: string;
  ok: boolean;
  detail: string;
}

const EVENT_END_TIMEOUT_MS = 5000;
const HANDLE_SETTLE_MS = 5000;

/** Collects a stream's events as they come; lets the suite wait for one with a bound. */
class EventLog {
  readonly events: AsrEvent[] = [];
  readonly problems: string[] = [];
  ended = false;
  private wake: (() => void) | undefined;
  readonly done: Promise<void>;

  constructor(stream: AsrStream) {
    this.done = (async () => {
      try {
        for await (const e of stream.events) {
          const bad = malformed(e);
          if (bad) this.problems.push(bad);
          this.events.push(e);
          this.wake?.();
        }
      } catch (err) {
        this.problems.push(`events threw: ${(err as Error)?.message ?? String(err)}`);
      }
      this.ended = true;
      this.wake?.();
    })();
  }

  async waitFor(pred: (e: AsrEvent) => boolean, timeoutMs: number): Promise<AsrEvent | undefined> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find(pred);
      if (hit || this.ended) return hit;
      const left = end - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  async waitEnd(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.done, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    return this.ended;
  }
}

/** Why an event breaks the contract, or undefined. */
export function malformed(e: unknown): string | undefined {
  if (!e || typeof e !== 'object') return `event is ${typeof e}`;
  const x = e as Record<string, unknown>;
  const str = (k: string) => typeof x[k] === 'string';
  const num = (k: string) => x[k] === undefined || (typeof x[k] === 'number' && Number.isFinite(x[k]));
  switch (x.type) {
    case 'interim':
      return str('text') ? undefined : 'interim without text';
    case 'final':
      if (!str('text')) return 'final without text';
      if (!num('startMs') || !num('endMs') || !num('confidence')) return 'final with a non-numeric offset or confidence';
      return undefined;
    case 'error':
      return str('code') && str('message') && typeof x.recoverable === 'boolean' ? undefined : 'error without code, message or recoverable';
    case 'restart':
      return str('reason') && typeof x.replayedMs === 'number' ? undefined : 'restart without reason or replayedMs';
    case 'failover':
      return str('from') && str('to') && str('reason') ? undefined : 'failover without from, to or reason';
    default:
      return `unknown event type ${JSON.stringify(x.type)}`;
  }
}

function handleCounts(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

function extraHandles(before: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [k, n] of handleCounts()) {
    const was = before.get(k) ?? 0;
    if (n > was) out.push(`${k} +${n - was}`);
  }
  return out;
}

function framesAt(speech: AsrConformanceOptions['speech'], rateHz: number, trailingSilenceMs: number): Buffer[] {
  let pcm = speech.samples;
  if (speech.sampleRateHz !== rateHz) {
    const r = new StreamResampler(speech.sampleRateHz, rateHz);
    pcm = r.process(speech.samples);
    r.close();
  }
  const frameSamples = rateHz / 50;
  const total = Math.ceil(pcm.length / frameSamples) * frameSamples + Math.round((trailingSilenceMs / 20) * frameSamples);
  const all = Buffer.alloc(total * 2);
  Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength).copy(all);
  const frames: Buffer[] = [];
  for (let off = 0; off < all.length; off += frameSamples * 2) frames.push(all.subarray(off, off + frameSamples * 2));
  return frames;
}

function callInfo(rateHz: number, language: string, n: number): CallInfo {
  return Object.freeze({
    callId: `conformance-${rateHz}-${n}`,
    conversationUuid: undefined,
    from: '447700900000',
    to: '447700900001',
    sampleRateHz: rateHz,
    language,
    metadata: {},
  });
}

/** Run the suite. Never throws for an adapter's failings: they are failed checks. */
export async function runAsrConformance(o: AsrConformanceOptions): Promise<ConformanceCheck[]> {
  await loadResampler();
  const checks: ConformanceCheck[] = [];
  const check = (name: string, ok: boolean, detail = '') => checks.push({ name, ok, detail });
  const a = o.adapter;
  const language = o.language ?? 'en-US';
  const finalTimeoutMs = o.finalTimeoutMs ?? 20000;
  const before = handleCounts();
  let n = 0;

  const shapeOk =
    !!a &&
    typeof a.name === 'string' &&
    a.name.length > 0 &&
    typeof a.start === 'function' &&
    !!a.capabilities &&
    typeof a.capabilities.interim === 'boolean' &&
    Array.isArray(a.capabilities.sampleRatesHz);
  check('adapter shape: name, capabilities {interim, sampleRatesHz}, start()', shapeOk, shapeOk ? a.name : 'missing or mistyped members');
  if (!shapeOk) return checks;

  const declared = a.capabilities.sampleRatesHz.filter((r) => (SUPPORTED_RATES as readonly number[]).includes(r));
  // The gateway hands every adapter frames at the leg rate, whatever it declares natively: test all rates by default.
  const rates = o.ratesHz ?? SUPPORTED_RATES;
  check(
    'declared sample rates are ones the gateway uses',
    declared.length === a.capabilities.sampleRatesHz.length,
    `declared ${a.capabilities.sampleRatesHz.join(', ')}`,
  );

  async function open(rateHz: number): Promise<{ stream: AsrStream; ctl: AbortController; log: EventLog } | string> {
    const ctl = new AbortController();
    try {
      const stream = await a.start({ call: callInfo(rateHz, language, ++n), signal: ctl.signal });
      return { stream, ctl, log: new EventLog(stream) };
    } catch (err) {
      ctl.abort();
      return `start() rejected: ${(err as Error)?.message ?? String(err)}`;
    }
  }

  async function write(stream: AsrStream, frames: Buffer[], from = 0, to = frames.length): Promise<string | undefined> {
    const t0 = performance.now();
    for (let i = from; i < to; i++) {
      try {
        stream.write(frames[i]!, performance.now());
      } catch (err) {
        return `write() threw: ${(err as Error)?.message ?? String(err)}`;
      }
      if (o.realTime) {
        const due = t0 + (i - from + 1) * 20 - performance.now();
        if (due > 0) await sleep(due);
      } else if (i % 10 === 9) await sleep(0);
    }
    return undefined;
  }

  for (const rate of rates) {
    const name = `${rate} Hz: speech in, final out, events well-formed, close ends events`;
    const s = await open(rate);
    if (typeof s === 'string') {
      check(name, false, s);
      continue;
    }
    const frames = framesAt(o.speech, rate, o.trailingSilenceMs ?? 1000);
    const threw = await write(s.stream, frames);
    try {
      s.stream.endOfSpeech?.();
    } catch (err) {
      check(name, false, `endOfSpeech() threw: ${(err as Error).message}`);
    }
    const final = (await s.log.waitFor((e) => e.type === 'final' && typeof e.text === 'string' && e.text.trim().length > 0, finalTimeoutMs)) as
      Extract<AsrEvent, { type: 'final' }> | undefined;
    let closeErr: string | undefined;
    try {
      s.stream.close();
      s.stream.close();
      s.stream.write(frames[0]!, performance.now());
    } catch (err) {
      closeErr = `close()/write after close threw: ${(err as Error).message}`;
    }
    const ended = await s.log.waitEnd(EVENT_END_TIMEOUT_MS);
    s.ctl.abort();
    const textOk = !final || !o.expectText || o.expectText.test(final.text);
    const problems = [
      threw,
      closeErr,
      ...s.log.problems,
      final ? undefined : `no final within ${finalTimeoutMs} ms`,
      textOk ? undefined : `final "${final?.text}" does not match ${o.expectText}`,
      ended ? undefined : 'events did not end after close()',
    ].filter(Boolean);
    check(name, problems.length === 0, problems.length ? problems.join('; ') : `final: "${final?.text}"`);
  }

  {
    const rate = rates[0]!;
    const name = `${rate} Hz: aborting the call's signal mid-stream ends events`;
    const s = await open(rate);
    if (typeof s === 'string') check(name, false, s);
    else {
      const frames = framesAt(o.speech, rate, 0);
      const threw = await write(s.stream, frames, 0, Math.floor(frames.length / 2));
      s.ctl.abort();
      let after: string | undefined;
      try {
        s.stream.write(frames[0]!, performance.now());
      } catch (err) {
        after = `write() after abort threw: ${(err as Error).message}`;
      }
      const ended = await s.log.waitEnd(EVENT_END_TIMEOUT_MS);
      s.stream.close();
      const problems = [threw, after, ...s.log.problems, ended ? undefined : 'events did not end after abort'].filter(Boolean);
      check(name, problems.length === 0, problems.join('; '));
    }
  }

  if (o.provokeError) {
    const rate = rates[0]!;
    const name = `${rate} Hz: a provider failure arrives as an error event, never an exception`;
    await o.provokeError();
    const s = await open(rate);
    if (typeof s === 'string') check(name, false, `start() rejected instead of reporting an error event (${s})`);
    else {
      const frames = framesAt(o.speech, rate, o.trailingSilenceMs ?? 1000);
      const threw = await write(s.stream, frames);
      const err = await s.log.waitFor((e) => e.type === 'error', finalTimeoutMs);
      s.stream.close();
      await s.log.waitEnd(EVENT_END_TIMEOUT_MS);
      s.ctl.abort();
      const problems = [threw, ...s.log.problems, err ? undefined : 'no error event'].filter(Boolean);
      check(name, problems.length === 0, problems.length ? problems.join('; ') : `error ${(err as Extract<AsrEvent, { type: 'error' }>).code}`);
    }
  }

  if (o.closeAdapter !== false) {
    await a.close?.();
    const end = Date.now() + HANDLE_SETTLE_MS;
    let extra = extraHandles(before);
    while (extra.length && Date.now() < end) {
      await sleep(50);
      extra = extraHandles(before);
    }
    check('no handles left after the streams and the adapter are closed', extra.length === 0, extra.join(', '));
  }
  return checks;
}

/** Human-readable report. */
export function formatConformance(adapterName: string, checks: readonly ConformanceCheck[]): string {
  const lines = checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
  const failed = checks.filter((c) => !c.ok).length;
  lines.push(`${adapterName}: ${checks.length - failed}/${checks.length} checks passed`);
  return lines.join('\n') + '\n';
}
