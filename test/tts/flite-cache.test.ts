/**
 * The Flite adapter's sentence cache with real synthesis: a burst of calls asking for the same greeting makes one
 * synthesis, every call gets the one synthesised audio (shared, not copied), a caller's barge-in does not take the audio from the others,
 * and TTS_CACHE_MB=0 turns it off.
 */
import t from 'tap';
import { createFliteTts, type FliteTts } from '../../src/tts/flite.js';
import { loadConfig } from '../../src/config/config.js';
import { testCall as call, vendorAdapter } from '../helpers/vendor.js';

const GREETING = 'Thanks for calling. How can I help you today?';

async function speak(tts: FliteTts, who: string, signal = new AbortController().signal): Promise<Int16Array[]> {
  const out: Int16Array[] = [];
  for await (const c of tts.synthesize({ text: GREETING, call: call(who), signal })) out.push(c.audio);
  return out;
}

t.test('twenty calls greeted at once: each sentence synthesised once, every call gets all of it', async (t) => {
  const tts = await vendorAdapter(createFliteTts, { TTS_WORKERS: '1' });
  t.teardown(() => tts.close?.());
  const all = await Promise.all(Array.from({ length: 20 }, (_, i) => speak(tts, `call-${i}`)));
  const first = all[0]!;
  t.equal(first.length, 2, 'two sentences');
  for (const chunks of all)
    t.same(
      chunks.map((c) => c.length),
      first.map((c) => c.length),
      'the same audio',
    );
  t.match(tts.cacheStats(), { misses: 2, joined: 38, entries: 2 });
  // The calls share the cached audio (the gateway only reads it; test/egress/reply-writer.test.ts checks that).
  t.equal(all[1]![0]!.buffer, first[0]!.buffer, 'shared, not copied per call');
  // Later calls are answered from the cache.
  await speak(tts, 'late');
  t.match(tts.cacheStats(), { misses: 2, hits: 2 });
});

t.test("one caller's barge-in leaves the others' audio alone", async (t) => {
  const tts = await vendorAdapter(createFliteTts, { TTS_WORKERS: '1' });
  t.teardown(() => tts.close?.());
  // The only thread is busy: the greeting's synthesis waits in the queue, where an abort would remove it.
  const busy = (async () => {
    for await (const c of tts.synthesize({
      text: 'A long sentence for another caller keeps the only thread busy for a while.',
      call: call('other'),
      signal: new AbortController().signal,
    }))
      t.ok(c.audio.length > 0);
  })();
  const ctl = new AbortController();
  const interrupted = speak(tts, 'barges-in', ctl.signal);
  const bystander = speak(tts, 'bystander');
  ctl.abort();
  t.same(await interrupted, [], 'the interrupted call gets nothing more');
  t.equal((await bystander).length, 2, 'the bystander hears both sentences');
  await busy;
});

t.test('TTS_CACHE_MB=0: no cache', async (t) => {
  const tts = await vendorAdapter(createFliteTts, { TTS_WORKERS: '1', TTS_CACHE_MB: '0' });
  t.teardown(() => tts.close?.());
  t.equal((await speak(tts, 'a')).length, 2);
  t.equal(tts.cacheStats(), undefined);
  t.throws(() => loadConfig({ TTS_CACHE_MB: '-1' }), /TTS_CACHE_MB/);
});
