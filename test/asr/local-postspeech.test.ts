/**
 * LOCAL_ASR_POSTSPEECH_MS: the offline recogniser's own end-of-utterance silence (`-vad_postspeech`). Read back from
 * the real recogniser's command line in /proc; and the gateway's end-of-speech flush pads at least that much quiet, so
 * a long setting still gives the final at the end of speech with no more audio coming (the line gone quiet).
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadResampler } from '../../src/audio/resampler.js';
import { createPocketsphinxAsr, findPocketsphinx } from '../../src/asr/pocketsphinx.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { adapterContext } from '../../src/adapters.js';
import { TEST_ASR_ENV } from '../helpers/gateway.js';

const GOFORWARD = '/usr/share/pocketsphinx/test/data/goforward.raw';
const skip = !findPocketsphinx() ? 'pocketsphinx not installed' : !existsSync(GOFORWARD) ? 'pocketsphinx-testdata not installed' : false;
await loadResampler();

const seen = new Set<number>();
/** The command line of this process's newest child recogniser (one not returned before). */
async function recogniserArgs(): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d) || seen.has(Number(d))) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === process.pid && stat.includes('(pocketsphinx_co')) {
          // Mid-exec the kernel names the process before it sets up its arguments: /proc shows an empty command line
          // for a moment (seen once on a loaded CI machine). Read it again until the arguments are there.
          const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
          if (!args.includes('-infile')) continue;
          seen.add(Number(d));
          return args;
        }
      } catch {
        // gone meanwhile
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no recogniser started');
}

async function open(env: Record<string, string>) {
  const asr = createPocketsphinxAsr(adapterContext(loadConfig({ ...TEST_ASR_ENV, ENDPOINTING: 'adaptive', ...env }), createLogger('silent'), process.env), {
    maxProcesses: 1,
  });
  const s = await asr.start({
    call: { callId: 'ps', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: 16000, language: 'en-US', metadata: {} },
    signal: new AbortController().signal,
  });
  const finals: string[] = [];
  const read = (async () => {
    for await (const e of s.events) if (e.type === 'final') finals.push(e.text);
  })();
  return { asr, s, finals, read };
}

t.test('the default leaves the engine its own 500 ms; a setting is passed in 10 ms frames', { skip }, async (t) => {
  const a = await open({});
  const args = await recogniserArgs();
  t.notOk(args.includes('-vad_postspeech'), 'default: not given');
  a.s.close();
  await a.read;
  await a.asr.close?.();
  const b = await open({ LOCAL_ASR_POSTSPEECH_MS: '250' });
  const argsB = await recogniserArgs();
  t.equal(argsB[argsB.indexOf('-vad_postspeech') + 1], '25', '250 ms = 25 frames');
  b.s.close();
  await b.read;
  await b.asr.close?.();
  t.throws(() => loadConfig({ LOCAL_ASR_POSTSPEECH_MS: '50' }), /LOCAL_ASR_POSTSPEECH_MS/);
  t.throws(() => loadConfig({ LOCAL_ASR_POSTSPEECH_MS: '5000' }), /LOCAL_ASR_POSTSPEECH_MS/);
});

t.test('a long setting (1.5 s) still gives the final at the end of speech: the flush pads more than it', { skip }, async (t) => {
  const a = await open({ LOCAL_ASR_POSTSPEECH_MS: '1500' });
  const args = await recogniserArgs();
  t.equal(args[args.indexOf('-vad_postspeech') + 1], '150');
  const raw = readFileSync(GOFORWARD);
  for (let off = 0; off + 640 <= raw.length; off += 640) a.s.write(raw.subarray(off, off + 640), 0);
  a.s.endOfSpeech?.();
  // No more audio: only the pad can end the utterance (an 800 ms pad would leave the engine waiting for 1.5 s).
  for (let i = 0; i < 300 && a.finals.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.same(a.finals, ['go forward ten meters']);
  a.s.close();
  await a.read;
  await a.asr.close?.();
});
