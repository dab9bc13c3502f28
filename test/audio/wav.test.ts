import t from 'tap';
import { readFileSync } from 'node:fs';
import { encodeWav, readWav } from '../../src/audio/wav.js';
import { VonagePlayout } from '../../src/sim/playout.js';

t.test('round trip, stereo mix-down, extra chunks, real file', async (t) => {
  const s = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
  const back = readWav(encodeWav(s, 8000));
  t.equal(back.sampleRateHz, 8000);
  t.same([...back.samples], [...s]);
  const st = readWav(encodeWav(Int16Array.from([100, 300, -100, -300]), 16000, 2));
  t.equal(st.channels, 2);
  t.same([...st.samples], [200, -200]);
  // A LIST chunk (odd size, padded) between fmt and data.
  const plain = encodeWav(s, 16000);
  const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.alloc(1)]);
  const withList = Buffer.concat([plain.subarray(0, 36), list, plain.subarray(36)]);
  t.same([...readWav(withList).samples], [...s]);
  const real = readWav(readFileSync('/usr/share/pocketsphinx/test/data/cards/001.wav'));
  t.equal(real.sampleRateHz, 16000);
  t.ok(real.samples.length > 16000);
});

t.test('bad input throws a clear error', async (t) => {
  t.throws(() => readWav(Buffer.from('hello world, not a wav')), /RIFF/);
  const w = encodeWav(Int16Array.from([1, 2, 3]), 8000);
  t.throws(() => readWav(w.subarray(0, 30)), /fmt/);
  const eight = Buffer.from(w);
  eight.writeUInt16LE(8, 34);
  t.throws(() => readWav(eight), /16-bit PCM only/);
});

t.test('emulated Vonage playout: notify after the audio before it, clear drops audio and pending notifies', async (t) => {
  const sent: string[] = [];
  const notified: unknown[] = [];
  const p = new VonagePlayout(4, { sendText: (x) => sent.push(x), onNotify: (x) => notified.push(x) });
  p.notify({ id: 0 });
  t.same(notified, [{ id: 0 }], 'a notify on an empty queue fires at once');
  p.audio(Buffer.from([1, 0, 2, 0]));
  p.audio(Buffer.from([3, 0, 4, 0]));
  p.notify({ id: 1 });
  p.tick();
  t.equal(notified.length, 1, 'not before the audio has played');
  p.tick();
  t.same(notified, [{ id: 0 }, { id: 1 }]);
  p.audio(Buffer.from([5, 0, 6, 0]));
  p.notify({ id: 2 });
  p.clear();
  t.equal(p.queuedFrames, 0);
  t.match(sent[sent.length - 1], /websocket:cleared/);
  p.tick();
  t.equal(notified.length, 2, 'the cleared notify never fires');
  t.same([...p.heardAudio()], [1, 2, 3, 4, 0, 0]);
});
