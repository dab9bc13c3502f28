/**
 * The TTS adapter conformance suite: what every TTS adapter — built-in or a user's own — must do to be driven safely
 * by the gateway. Run it from the command line (`vgw tts-conformance --adapter ./my-tts.mjs`) or call
 * {@link runTtsConformance} from a test. No test framework, no network of its own.
 *
 * Checks: the adapter's shape; at each leg rate, text in → first audio within a bound, every chunk an `Int16Array`
 * at a sane rate, some sound, the iteration ending; two requests at once (two calls) both complete; aborting the
 * request's signal ends the iteration promptly (mid-stream and before the first audio); a provoked provider failure is
 * thrown from the iterator with a code (when the caller can provoke one); no handle (timer, socket, worker, child
 * process) left once the adapter is closed. An adapter that throws, hangs or returns the wrong shape fails checks; it
 * never crashes the suite.
 */
import { closeAndFindLeaks, conformanceCall, handleCounts, TIMED_OUT, why, within, type ConformanceCheck } from '../sdk/conformance-kit.js';
import type { TtsAdapter, TtsChunk } from './types.js';

export type { ConformanceCheck };

export interface TtsConformanceOptions {
  adapter: TtsAdapter;
  /** Text of the main requests. Default: two short sentences. */
  text?: string;
  /** Leg rates the requests claim (the call's `sampleRateHz`). Default 8000 and 16000. */
  ratesHz?: readonly number[];
  /** Longest wait for the first chunk (the gateway's `TTS_FIRST_AUDIO_TIMEOUT_MS`). Default 5000. */
  firstAudioTimeoutMs?: number;
  /** Longest wait for a whole request to end. Default 30000. */
  requestTimeoutMs?: number;
  /** Longest wait for the iteration to end after its signal aborts. Default 2000. */
  abortTimeoutMs?: number;
  /**
   * Make the provider fail the next request (for adapters tested against a fake service): the suite then checks that
   * the failure is thrown from the iterator, promptly, with a well-formed `code`.
   */
  provokeError?: () => void | Promise<void>;
  /** Close the adapter at the end and check for leaked handles. Default true. */
  closeAdapter?: boolean;
}

const DEFAULT_TEXT = 'Hello, this is a test of the speech synthesiser. It speaks two sentences.';
const LONG_TEXT = Array.from({ length: 8 }, (_, i) => `This is sentence number ${i + 1} of a long answer.`).join(' ');
const HANDLE_SETTLE_MS = 5000;
const MIN_RATE_HZ = 4000;
const MAX_RATE_HZ = 192000;

/** Why a chunk breaks the contract, or undefined. */
export function malformedChunk(c: unknown): string | undefined {
  if (!c || typeof c !== 'object') return `chunk is ${c === null ? 'null' : typeof c}`;
  const x = c as Partial<TtsChunk>;
  if (!(x.audio instanceof Int16Array)) return `chunk audio is not an Int16Array (${Object.prototype.toString.call(x.audio)})`;
  if (typeof x.sampleRateHz !== 'number' || !Number.isInteger(x.sampleRateHz) || x.sampleRateHz < MIN_RATE_HZ || x.sampleRateHz > MAX_RATE_HZ) {
    return `chunk sampleRateHz ${String(x.sampleRateHz)} is not an integer in ${MIN_RATE_HZ}–${MAX_RATE_HZ}`;
  }
  return undefined;
}

interface Run {
  chunks: number;
  samples: number;
  /** Samples ≠ 0 (some sound, not only silence). */
  loud: number;
  rates: Set<number>;
  /** Contract breaks, in order. */
  problems: string[];
  ended: boolean;
  threw: unknown;
}

/**
 * Read a request through, bounding each wait: the first chunk by `firstMs`, the whole by `totalMs`. `onChunk` may
 * abort. Never throws; a hang or a throw is a problem in the result.
 */
async function drive(
  a: TtsAdapter,
  req: { text: string; rateHz: number; n: number; signal: AbortSignal },
  firstMs: number,
  totalMs: number,
  onChunk?: (run: Run) => void,
): Promise<Run> {
  const run: Run = { chunks: 0, samples: 0, loud: 0, rates: new Set(), problems: [], ended: false, threw: undefined };
  let iterable: AsyncIterable<TtsChunk>;
  try {
    iterable = a.synthesize({ text: req.text, call: conformanceCall(req.rateHz, req.n, 'tts'), signal: req.signal });
  } catch (err) {
    run.problems.push(`synthesize() threw: ${why(err)} (throw from the iterator instead)`);
    return run;
  }
  let it: AsyncIterator<TtsChunk>;
  try {
    it = iterable[Symbol.asyncIterator]();
    if (!it || typeof it.next !== 'function') throw new Error('no next()');
  } catch {
    run.problems.push('synthesize() did not return an async iterable');
    return run;
  }
  const deadline = Date.now() + totalMs;
  for (;;) {
    const bound = run.chunks === 0 ? Math.min(firstMs, deadline - Date.now()) : deadline - Date.now();
    let r: IteratorResult<TtsChunk> | typeof TIMED_OUT;
    try {
      r = await within(
        Promise.resolve().then(() => it.next()),
        Math.max(0, bound),
      );
    } catch (err) {
      run.threw = err;
      run.problems.push(`the iterator threw: ${why(err)}`);
      return run;
    }
    if (r === TIMED_OUT) {
      run.problems.push(run.chunks === 0 ? `no audio within ${firstMs} ms` : `the request did not end within ${totalMs} ms`);
      void within(
        Promise.resolve().then(() => it.return?.()),
        1000,
      );
      return run;
    }
    if (r.done) {
      run.ended = true;
      return run;
    }
    const bad = malformedChunk(r.value);
    if (bad) {
      run.problems.push(bad);
      void within(
        Promise.resolve().then(() => it.return?.()),
        1000,
      );
      return run;
    }
    run.chunks++;
    run.samples += r.value.audio.length;
    run.rates.add(r.value.sampleRateHz);
    for (let i = 0; i < r.value.audio.length && run.loud < 100; i++) if (r.value.audio[i] !== 0) run.loud++;
    onChunk?.(run);
  }
}

/** Run the suite. Never throws for an adapter's failings: they are failed checks. */
export async function runTtsConformance(o: TtsConformanceOptions): Promise<ConformanceCheck[]> {
  const checks: ConformanceCheck[] = [];
  const check = (name: string, ok: boolean, detail = '') => checks.push({ name, ok, detail });
  const a = o.adapter;
  const text = o.text ?? DEFAULT_TEXT;
  const rates = o.ratesHz ?? [8000, 16000];
  const firstMs = o.firstAudioTimeoutMs ?? 5000;
  const totalMs = o.requestTimeoutMs ?? 30000;
  const abortMs = o.abortTimeoutMs ?? 2000;
  const before = handleCounts();
  let n = 0;
  const controllers: AbortController[] = [];
  const signal = () => {
    const c = new AbortController();
    controllers.push(c);
    return c;
  };

  let shapeOk: boolean;
  try {
    shapeOk =
      !!a &&
      typeof a === 'object' &&
      typeof a.name === 'string' &&
      a.name.length > 0 &&
      typeof a.synthesize === 'function' &&
      (a.close === undefined || typeof a.close === 'function');
  } catch {
    shapeOk = false;
  }
  check('adapter shape: name, synthesize(), optional close()', shapeOk, shapeOk ? a.name : 'missing or mistyped members');
  if (!shapeOk) return checks;

  const summary = (r: Run) => `${r.chunks} chunks, ${r.samples} samples at ${[...r.rates].join('/')} Hz`;

  for (const rate of rates) {
    const name = `${rate} Hz leg: text in, first audio within ${firstMs} ms, Int16Array chunks at a sane rate, some sound, the iteration ends`;
    const c = signal();
    const r = await drive(a, { text, rateHz: rate, n: ++n, signal: c.signal }, firstMs, totalMs);
    c.abort();
    const problems = [...r.problems];
    if (!r.problems.length && r.chunks === 0) problems.push('no audio at all');
    if (!r.problems.length && r.chunks > 0 && r.loud === 0) problems.push('only silence');
    check(name, problems.length === 0, problems.length ? problems.join('; ') : summary(r));
  }

  {
    const name = 'two requests at once (two calls) both complete';
    const c1 = signal();
    const c2 = signal();
    const [r1, r2] = await Promise.all([
      drive(a, { text, rateHz: rates[0]!, n: ++n, signal: c1.signal }, firstMs, totalMs),
      drive(a, { text: 'A second call speaks at the same time.', rateHz: rates[rates.length - 1]!, n: ++n, signal: c2.signal }, firstMs, totalMs),
    ]);
    c1.abort();
    c2.abort();
    const problems = [...r1.problems.map((p) => `first: ${p}`), ...r2.problems.map((p) => `second: ${p}`)];
    if (!problems.length && (!r1.chunks || !r2.chunks)) problems.push('a request gave no audio');
    check(name, problems.length === 0, problems.join('; '));
  }

  {
    const name = `aborting the signal mid-stream ends the iteration within ${abortMs} ms`;
    const c = signal();
    let abortedAt = 0;
    const r = await drive(a, { text: LONG_TEXT, rateHz: rates[0]!, n: ++n, signal: c.signal }, firstMs, totalMs, (run) => {
      if (run.chunks === 1) {
        abortedAt = Date.now();
        c.abort();
      }
    });
    const problems: string[] = [];
    if (!abortedAt) problems.push(...(r.problems.length ? r.problems : ['no audio to abort']));
    else if (!r.ended && r.threw === undefined) problems.push(...r.problems);
    else if (Date.now() - abortedAt > abortMs) problems.push(`ended ${Date.now() - abortedAt} ms after the abort`);
    else if (r.problems.some((p) => p.startsWith('chunk'))) problems.push(...r.problems);
    // Ending by throwing (an AbortError) once aborted is allowed: the gateway ignores a stopped request's error.
    check(
      name,
      problems.length === 0,
      problems.length
        ? problems.join('; ')
        : `${r.chunks} chunk(s) read, then ${r.threw === undefined ? 'ended' : `threw ${why(r.threw)} (allowed after abort)`}`,
    );
  }

  {
    const name = `a request aborted before its first audio ends within ${abortMs} ms`;
    const c = signal();
    const p = drive(a, { text: LONG_TEXT, rateHz: rates[0]!, n: ++n, signal: c.signal }, abortMs, abortMs);
    c.abort();
    const r = await p;
    const timedOut = r.problems.some((x) => /within/.test(x));
    check(
      name,
      !timedOut && !r.problems.some((x) => /synthesize\(\)|async iterable|chunk/.test(x)),
      timedOut ? 'still running after the abort' : r.problems.join('; '),
    );
  }

  if (o.provokeError) {
    const name = 'a provider failure is thrown from the iterator, with a code';
    await o.provokeError();
    const c = signal();
    const r = await drive(a, { text, rateHz: rates[0]!, n: n + 1, signal: c.signal }, firstMs, totalMs);
    c.abort();
    const code = (r.threw as { code?: unknown } | undefined)?.code;
    const problems: string[] = [];
    if (r.threw === undefined) problems.push(r.problems.length ? r.problems.join('; ') : 'nothing was thrown');
    else if (typeof code !== 'string' || !/^[A-Z][A-Z0-9_]{1,63}$/.test(code)) problems.push(`thrown without a well-formed code (${why(r.threw)})`);
    check(name, problems.length === 0, problems.length ? problems.join('; ') : `threw ${why(r.threw)}`);
  }

  for (const c of controllers) c.abort();
  if (o.closeAdapter !== false) {
    const problems = await closeAndFindLeaks(a, before, HANDLE_SETTLE_MS);
    check('close() settles and no handles are left once the adapter is closed', problems.length === 0, problems.join('; '));
  }
  return checks;
}
