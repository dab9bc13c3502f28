/**
 * The offline TTS's worker threads run at a lower scheduling priority than the event loop (TTS_WORKER_NICE, Linux
 * applies it per thread), so a burst of synthesis on a busy core does not delay the frames the event loop paces.
 * Checked on the real Flite pool through /proc: the synthesis threads carry the niceness, the main thread keeps its own.
 */
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { createFliteTts } from '../../src/tts/flite.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { adapterContext } from '../../src/adapters.js';

const call: CallInfo = { callId: 'nice', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: 16000, language: 'en-US', metadata: {} };

/** The niceness of every thread of this process (field 19 of /proc/self/task/<tid>/stat). */
function threads(): { tid: number; nice: number }[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { tid: Number(tid), nice: Number(fields[16]) };
  });
}

/** The niceness of every thread but the main one that is not at the main thread's (Node 20 names no thread, 24 names them). */
async function niceOfSynthesis(env: Record<string, string>): Promise<{ workers: number[]; main: number; samples: number }> {
  const tts = createFliteTts(adapterContext(loadConfig({ TTS_WORKERS: '2', ...env }), createLogger('silent')));
  let samples = 0;
  for await (const c of tts.synthesize({ text: 'Hello there. How are you?', call, signal: new AbortController().signal })) samples += c.audio.length;
  const all = threads();
  await tts.close?.();
  const main = all.find((x) => x.tid === process.pid)?.nice ?? NaN;
  return { workers: all.filter((x) => x.nice !== main).map((x) => x.nice), main, samples };
}

t.test('synthesis threads are niced, the event loop is not', { skip: process.platform !== 'linux' && 'per-thread niceness is Linux-only' }, async (t) => {
  const d = await niceOfSynthesis({});
  t.ok(d.samples > 8000, `Flite spoke (${d.samples} samples)`);
  t.same(d.workers, [10, 10], 'both synthesis threads at the default TTS_WORKER_NICE=10');
  t.equal(d.main, 0, 'the event loop keeps its priority');
});

t.test(
  'TTS_WORKER_NICE=0 leaves every thread as the event loop; another value is applied as given',
  { skip: process.platform !== 'linux' && 'Linux-only' },
  async (t) => {
    t.same((await niceOfSynthesis({ TTS_WORKER_NICE: '0' })).workers, [], 'no thread apart from the event loop');
    t.same((await niceOfSynthesis({ TTS_WORKER_NICE: '19' })).workers, [19, 19]);
  },
);

t.test('an out-of-range value is refused at start-up', async (t) => {
  t.throws(() => loadConfig({ TTS_WORKER_NICE: '20' }), /TTS_WORKER_NICE/);
  t.throws(() => loadConfig({ TTS_WORKER_NICE: '-5' }), /TTS_WORKER_NICE/);
});
