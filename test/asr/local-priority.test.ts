/**
 * A recogniser yields the cores to the gateway's event loop even under autogroup scheduling: it leads its own session
 * (a scheduling group of its own, weighted like the gateway's whole session), so the group's niceness is lowered as well
 * as the process's. Read back from /proc for the real recogniser; skipped where the kernel has no autogroups.
 */
import t from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadResampler } from '../../src/audio/resampler.js';
import { createPocketsphinxAsr, findPocketsphinx, RECOGNISER_NICE } from '../../src/asr/pocketsphinx.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { adapterContext } from '../../src/adapters.js';

const skip = !findPocketsphinx() ? 'pocketsphinx not installed' : !existsSync('/proc/self/autogroup') ? 'no autogroup scheduling' : false;
await loadResampler();

const seen = new Set<number>();
/** The pid of this process's child recogniser, once it runs (one not returned before: an earlier test's may linger). */
async function recogniserPid(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === process.pid && stat.includes('(pocketsphinx_co') && !seen.has(Number(d))) {
          seen.add(Number(d));
          return Number(d);
        }
      } catch {
        // gone meanwhile
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no recogniser started');
}

t.test('the recogniser and its session group run at RECOGNISER_NICE', { skip }, async (t) => {
  const asr = createPocketsphinxAsr(adapterContext(loadConfig({}), createLogger('silent'), process.env), { maxProcesses: 1 });
  t.teardown(() => asr.close());
  const s = await asr.start({
    call: { callId: 'nice', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: 16000, language: 'en-US', metadata: {} },
    signal: new AbortController().signal,
  });
  const pid = await recogniserPid();
  t.match(readFileSync(`/proc/${pid}/autogroup`, 'utf8'), new RegExp(`nice ${RECOGNISER_NICE}\\s*$`), 'its session group is lowered');
  t.not(readFileSync(`/proc/${pid}/autogroup`, 'utf8').split(' ')[0], readFileSync('/proc/self/autogroup', 'utf8').split(' ')[0], 'a group of its own');
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  t.equal(Number(fields[16]), RECOGNISER_NICE, 'and the process itself');
  s.close();
});

t.test('LOCAL_ASR_NICE sets it: 0 runs the recogniser and its group at the gateway priority', { skip }, async (t) => {
  const asr = createPocketsphinxAsr(adapterContext(loadConfig({ LOCAL_ASR_NICE: '0' }), createLogger('silent'), process.env), { maxProcesses: 1 });
  t.teardown(() => asr.close());
  const s = await asr.start({
    call: { callId: 'nice0', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: 16000, language: 'en-US', metadata: {} },
    signal: new AbortController().signal,
  });
  const pid = await recogniserPid();
  t.match(readFileSync(`/proc/${pid}/autogroup`, 'utf8'), /nice 0\s*$/, 'its session group at 0');
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  t.equal(Number(fields[16]), 0, 'and the process itself');
  s.close();
});

t.test('LOCAL_ASR_NICE outside 0–19 is refused at load', async (t) => {
  t.throws(() => loadConfig({ LOCAL_ASR_NICE: '20', ASR_ADAPTER: 'local' }), /LOCAL_ASR_NICE/);
  t.throws(() => loadConfig({ LOCAL_ASR_NICE: '-1', ASR_ADAPTER: 'local' }), /LOCAL_ASR_NICE/);
});
