/** Callers for the IVR example's tests. */
import { createFliteTts } from '../../src/tts/flite.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { bandLimitToTelephone } from '../../src/audio/band.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { adapterContext } from '../../src/adapters.js';

/**
 * A caller's answer as a phone line carries it: Flite slt, band-passed to 300–3400 Hz, after `leadMs` of silence, and
 * said again `againMs` later if given (a caller asked again repeats; the IVR ignores speech once it has decided).
 */
export async function answer(text: string, leadMs: number, againMs?: number): Promise<{ samples: Int16Array; sampleRateHz: number }> {
  const tts = createFliteTts(adapterContext(loadConfig({ TTS_WORKERS: '1' }), createLogger('silent')));
  const call: CallInfo = {
    callId: 'caller',
    conversationUuid: undefined,
    from: undefined,
    to: undefined,
    sampleRateHz: 16000,
    language: 'en-US',
    metadata: {},
  };
  const parts: number[] = [];
  for await (const c of tts.synthesize({ text, call, voice: 'slt', signal: new AbortController().signal })) for (const x of c.audio) parts.push(x);
  await tts.close?.();
  const lead = new Array<number>(16 * leadMs).fill(0);
  const again = againMs ? [...new Array<number>(Math.max(0, 16 * againMs - parts.length)).fill(0), ...parts] : [];
  return { samples: bandLimitToTelephone(Int16Array.from([...lead, ...parts, ...again]), 16000), sampleRateHz: 16000 };
}
