/**
 * Loopback, all real: Flite speaks known sentences as the caller; the gateway's VAD, pocketsphinx ASR, echo bot and
 * Flite answer; the transcripts the gateway produced are scored (word error rate) and the reply is checked for length.
 */
import t from 'tap';
import { startGateway, until, untilLog } from '../helpers/gateway.js';
import { openRawLeg, ContinuousCaller } from '../helpers/raw-leg.js';
import { wer } from '../helpers/transcribe.js';
import { speak } from '../helpers/flite-caller.js';

// pocketsphinx's accuracy depends on the sentence and on what came before it in the stream (its first utterance is
// its weakest): the score is over all sentences, including the first.
const SENTENCES = [
  'the weather is nice today',
  'i would like to speak to an agent',
  'my account number is four five six',
  'can you tell me the opening hours',
  'i want to pay my bill',
];
t.test('synthetic caller sentences are transcribed with WER ≤ 20 % and answered', async (t) => {
  const g = await startGateway(t, { ASR_ADAPTER: 'local', TTS_ADAPTER: 'flite' });
  const leg = await openRawLeg(`ws://127.0.0.1:${g.port}/socket`);
  leg.handshake('audio/l16;rate=16000', { uuid: 'loopback-1' });
  const caller = new ContinuousCaller(leg.ws, 640);
  caller.start();
  t.teardown(() => caller.stop());
  await untilLog(g, (l) => l.msg === 'reply played' && l.replyId === 1, 20000, 'greeting played');
  let errors = 0;
  let words = 0;
  for (const [i, sentence] of SENTENCES.entries()) {
    await caller.say(await speak(sentence));
    await until(() => g.logs.some((l) => l.msg === 'reply played' && l.replyId === i + 2), 10000, `reply ${i + 2}`);
    const transcripts = g.logs.filter((l) => l.msg === 'transcript').map((l) => String(l.text));
    const got = transcripts[i] ?? '';
    const w = wer(sentence, got);
    errors += w * sentence.split(' ').length;
    words += sentence.split(' ').length;
    t.comment(`"${sentence}" → "${got}" (WER ${(w * 100).toFixed(0)} %)`);
    const reply = g.logs.find((l) => l.msg === 'reply played' && l.replyId === i + 2);
    // "You said: <sentence>" spoken by Flite runs at roughly 2.5-4 words per second.
    const expectedWords = sentence.split(' ').length + 2;
    t.ok(
      (reply?.totalMs as number) > expectedWords * 200 && (reply?.totalMs as number) < expectedWords * 600,
      `reply length plausible for ${expectedWords} words: ${reply?.totalMs} ms`,
    );
  }
  // 33 words: one or two words either way move the figure 3–6 points, and the offline recogniser's segmentation depends
  // on real-time arrival: the same build gave 3.0, 6.1, 12.1 and 15.2 % in four runs (2026-12-02). A broken pipeline
  // gives ~100 %; accuracy itself is measured by `npm run bench:asr`, not here.
  t.ok(errors / words <= 0.2, `overall WER ${((errors / words) * 100).toFixed(1)} % ≤ 20 %`);
  caller.stop();
  leg.ws.close();
});
