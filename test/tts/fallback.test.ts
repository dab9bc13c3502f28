/**
 * FallbackTts's first-audio bound: an adapter that yields nothing within `firstAudioTimeoutMs` counts as failing before
 * audio (its request is aborted, the next adapter speaks); a synchronous throw from `synthesize` too; once audio has
 * flowed, a slow adapter is not cut by the bound.
 */
import t from 'tap';
import { FallbackTts, TtsFirstAudioTimeout } from '../../src/tts/fallback.js';
import { createLogger } from '../../src/observability/logger.js';
import type { TtsAdapter, TtsChunk, TtsRequest } from '../../src/tts/types.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { must } from '../helpers/must.js';

const call: CallInfo = { callId: 'c1', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: 16000, language: 'en-US', metadata: {} };
const log = createLogger('error', { write: () => {} });
// The fallback's timers are unref'd (they never hold a process open); this test's process has nothing else to wait on.
const keepAlive = setInterval(() => {}, 1000);
t.teardown(() => clearInterval(keepAlive));
const chunk = (v: number): TtsChunk => ({ audio: new Int16Array(160).fill(v), sampleRateHz: 16000 });

function hung(seen: AbortSignal[]): TtsAdapter {
  return {
    name: 'hung',
    synthesize: (req: TtsRequest) => {
      seen.push(req.signal);
      return { [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<TtsChunk>>(() => {}) }) };
    },
  };
}
const good: TtsAdapter = {
  name: 'good',
  async *synthesize() {
    yield chunk(1);
    yield chunk(2);
  },
};

async function collect(tts: TtsAdapter): Promise<number[]> {
  const out: number[] = [];
  for await (const c of tts.synthesize({ text: 'hi', call, signal: new AbortController().signal })) out.push(must(c.audio[0]));
  return out;
}

t.test('no first audio in time: the request is aborted and the next adapter speaks', async (t) => {
  const signals: AbortSignal[] = [];
  const tts = new FallbackTts([hung(signals), good], log, { firstAudioTimeoutMs: 50 });
  t.same(await collect(tts), [1, 2]);
  t.equal(tts.stats.fallbacks, 1);
  t.same(tts.stats.byAdapter, { hung: 1 });
  t.ok(must(signals[0]).aborted, "the hung adapter's request was aborted");
});

t.test('every adapter hangs: the last timeout is thrown (never a wait forever)', async (t) => {
  const tts = new FallbackTts([hung([]), hung([])], log, { firstAudioTimeoutMs: 30 });
  const err = await collect(tts).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(err instanceof TtsFirstAudioTimeout, 'a TtsFirstAudioTimeout');
  t.match(err, { code: 'TTS_FIRST_AUDIO_TIMEOUT' });
  t.equal(tts.stats.exhausted, 1);
});

t.test('a synthesize() that throws synchronously falls back too', async (t) => {
  const bad: TtsAdapter = {
    name: 'bad',
    synthesize: () => {
      throw new Error('nope');
    },
  };
  const tts = new FallbackTts([bad, good], log, { firstAudioTimeoutMs: 50 });
  t.same(await collect(tts), [1, 2]);
});

t.test('after the first audio, a slow adapter is not cut by the first-audio bound', async (t) => {
  const slow: TtsAdapter = {
    name: 'slow',
    async *synthesize() {
      yield chunk(7);
      await new Promise((r) => setTimeout(r, 120));
      yield chunk(8);
    },
  };
  const tts = new FallbackTts([slow, good], log, { firstAudioTimeoutMs: 50 });
  t.same(await collect(tts), [7, 8]);
  t.equal(tts.stats.fallbacks, 0);
});
