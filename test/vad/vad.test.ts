/** VAD on real speech at every leg rate, silence and noise never start speech; the endpointer's rules. */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { loadVad } from '../../src/vad/fvad.js';
import { CallVad, VadEvent } from '../../src/vad/vad.js';
import { Endpointer } from '../../src/vad/endpointer.js';
import { loadResampler, StreamResampler } from '../../src/audio/resampler.js';

const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/cards/001.wav').subarray(44);

function toRate(pcm: Buffer, rate: number): Buffer {
  if (rate === 16000) return pcm;
  const r = new StreamResampler(16000, rate);
  const s = new Int16Array(pcm.length / 2);
  Buffer.from(s.buffer).set(pcm.subarray(0, s.length * 2));
  const out = r.process(s);
  r.close();
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

function run(vad: CallVad, pcm: Buffer, fb: number): VadEvent[] {
  const ev: VadEvent[] = [];
  for (let off = 0; off + fb <= pcm.length; off += fb) {
    const e = vad.push(pcm.subarray(off, off + fb));
    if (e !== VadEvent.None) ev.push(e);
  }
  return ev;
}

t.before(async () => {
  await Promise.all([loadVad(), loadResampler()]);
});

for (const rate of [8000, 16000, 24000]) {
  t.test(`real speech at ${rate} Hz starts and ends one utterance`, async (t) => {
    const fb = rate / 25;
    const vad = new CallVad({ sampleRateHz: rate, mode: 2, minSpeechMs: 120, silenceMs: 600 });
    const pcm = Buffer.concat([toRate(SPEECH, rate), Buffer.alloc(fb * 50)]);
    t.same(run(vad, pcm, fb), [VadEvent.SpeechStart, VadEvent.SpeechEnd]);
    t.ok(vad.endpointer.utteranceMs > 500 && vad.endpointer.utteranceMs < 1100, `utterance ${vad.endpointer.utteranceMs} ms`);
    vad.close();
  });
}

t.test('silence and low noise never start speech', async (t) => {
  const vad = new CallVad({ sampleRateHz: 16000, mode: 2, minSpeechMs: 120, silenceMs: 600 });
  t.same(run(vad, Buffer.alloc(640 * 100), 640), []);
  const noise = Buffer.alloc(640 * 100);
  for (let i = 0; i < noise.length; i += 2) noise.writeInt16LE(Math.round((Math.random() - 0.5) * 200), i);
  t.same(run(vad, noise, 640), []);
  vad.close();
});

t.test('endpointer: minimum speech, one tolerated gap in the onset, end after the silence', async (t) => {
  const ep = new Endpointer({ frameMs: 20, minSpeechMs: 100, silenceMs: 200 });
  const feed = (pattern: string) => [...pattern].map((c) => ep.push(c === '#')).filter((e) => e !== VadEvent.None);
  t.same(feed('####.'), [], '80 ms of voice is not speech yet');
  t.same(feed('#'), [VadEvent.SpeechStart], 'one unvoiced frame in the onset is tolerated: 100 ms reached');
  t.same(feed('#########'), []);
  t.equal(ep.speechMs, 280);
  t.same(feed('.........'), []);
  t.same(feed('.'), [VadEvent.SpeechEnd], '200 ms of silence ends it');
  t.equal(ep.utteranceMs, 280, 'utterance excludes the closing silence');
  ep.reset();
  t.same(feed('##..##..##'), [], 'two gaps in the onset restart it');
});

t.test('frames at an odd byte offset (sliced from a socket buffer) work at every rate (found by the fuzz test)', async (t) => {
  for (const rate of [8000, 16000, 24000]) {
    const fb = rate / 25;
    const vad = new CallVad({ sampleRateHz: rate, mode: 2, minSpeechMs: 120, silenceMs: 600 });
    const pcm = toRate(SPEECH, rate);
    const shifted = Buffer.alloc(pcm.length + 1);
    pcm.copy(shifted, 1);
    const odd = shifted.subarray(1);
    t.equal(odd.byteOffset % 2, 1);
    t.same(run(vad, odd, fb).slice(0, 1), [VadEvent.SpeechStart], `${rate} Hz: odd-offset frames classified`);
    vad.close();
  }
});
