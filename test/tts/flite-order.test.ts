/**
 * The offline TTS asks for a reply's next sentence as due when the one before it will have played, so a call whose
 * reply has not started yet goes first (src/tts/flite.ts with the pool's earliest-due order). One synthesis thread:
 * reply A's second sentence is queued while another call's long sentence is synthesised; call B's reply, asked for
 * after it, must still come back before A's second sentence (plain FIFO gave A's second first).
 */
import t from 'tap';
import { createFliteTts } from '../../src/tts/flite.js';
import { testCall as call, vendorAdapter } from '../helpers/vendor.js';
import type { TtsAdapter } from '../../src/tts/types.js';

t.test('a reply not yet started goes before the next sentence of a reply already playing', async (t) => {
  const tts = await vendorAdapter(createFliteTts, { TTS_WORKERS: '1', TTS_WORKER_NICE: '0' });
  t.teardown(() => tts.close?.());
  const events: string[] = [];
  const speak = async (who: string, text: string, tts: TtsAdapter) => {
    let n = 0;
    for await (const c of tts.synthesize({ text, call: call(who), signal: new AbortController().signal })) {
      t.ok(c.audio.length > 0);
      events.push(`${who}${++n}`);
      if (who === 'A' && n === 1) started.resolve();
    }
  };
  let resolveStarted!: () => void;
  const started = { promise: new Promise<void>((r) => (resolveStarted = r)), resolve: () => resolveStarted() };
  const a = speak('A', 'Hello. This is the second sentence of the first reply.', tts);
  // Asked right after A: queued behind A's first sentence, it runs while A's second sentence waits in the queue.
  const c = speak('C', 'This is a rather long sentence that another caller hears, so that the only thread stays busy for a while.', tts);
  await started.promise; // A's first sentence is back: its second is queued now, behind C's
  const b = speak('B', 'Welcome.', tts);
  await Promise.all([a, b, c]);
  t.ok(events.indexOf('B1') < events.indexOf('A2'), `B's first audio before A's second sentence (${events.join(' ')})`);
});
