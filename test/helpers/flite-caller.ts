/**
 * A caller's words for the offline pipeline's end-to-end tests: Flite (in-process) speaks them, 16 kHz mono PCM. One
 * synthesiser per call of {@link speak}, closed before it returns.
 */
import { adapterContext } from '../../src/adapters.js';
import { createFliteTts } from '../../src/tts/flite.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import type { CallInfo } from '../../src/call/call-info.js';

const CALLER: CallInfo = {
  callId: 'caller',
  conversationUuid: undefined,
  from: undefined,
  to: undefined,
  sampleRateHz: 16000,
  language: 'en-US',
  metadata: {},
};

/** `text` spoken by Flite `voice` (default slt, the voice pocketsphinx recognises best), as 16 kHz little-endian PCM. */
export async function speak(text: string, voice = 'slt'): Promise<Buffer> {
  const tts = createFliteTts(adapterContext(loadConfig({ TTS_WORKERS: '1' }), createLogger('silent')));
  const parts: Buffer[] = [];
  try {
    for await (const c of tts.synthesize({ text, call: CALLER, voice, signal: new AbortController().signal }))
      parts.push(Buffer.from(c.audio.buffer, c.audio.byteOffset, c.audio.byteLength));
  } finally {
    await tts.close?.();
  }
  return Buffer.concat(parts);
}
