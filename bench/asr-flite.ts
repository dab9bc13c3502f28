/** Flite (in-process, one worker) as the bench's synthetic caller: `say(text, voice)` → the whole utterance. */
import { adapterContext } from '../src/adapters.js';
import type { CallInfo } from '../src/call/call-info.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/observability/logger.js';
import { createFliteTts } from '../src/tts/flite.js';

export type Say = (text: string, voice: string) => Promise<{ samples: Int16Array; sampleRateHz: number }>;

/** Run `fn` with a Flite synthesiser, closed when `fn` settles. */
export async function withFlite<T>(fn: (say: Say) => Promise<T>): Promise<T> {
  const tts = createFliteTts(adapterContext(loadConfig({ TTS_WORKERS: '1' }), createLogger('silent')));
  const call: CallInfo = { callId: 'bench', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: 16000, language: 'en-US', metadata: {} };
  const say: Say = async (text, voice) => {
    const parts: Int16Array[] = [];
    let sampleRateHz = 16000;
    for await (const c of tts.synthesize({ text, call, voice, signal: new AbortController().signal })) {
      parts.push(c.audio);
      sampleRateHz = c.sampleRateHz;
    }
    const samples = new Int16Array(parts.reduce((a, p) => a + p.length, 0));
    let off = 0;
    for (const p of parts) {
      samples.set(p, off);
      off += p.length;
    }
    return { samples, sampleRateHz };
  };
  try {
    return await fn(say);
  } finally {
    await tts.close?.();
  }
}
