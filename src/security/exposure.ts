/**
 * What an unauthenticated leg can reach. With `WS_AUTH=none` anyone who can open a WebSocket to the gateway gets a
 * call: that is fine for the echo bot and the offline pipeline, but not when a call can spend money (cloud ASR or TTS,
 * an LLM, a remote bot) or act on real calls (Vonage REST call control). The start-up log names what is exposed.
 */
import type { Config } from '../config/config.js';

/** The costly or privileged parts a leg reaches, e.g. `call control (VONAGE_APPLICATION_ID)`; empty when none. */
export function exposedWithoutLegAuth(config: Pick<Config, 'wsAuth' | 'vonageApplicationId' | 'asrAdapter' | 'ttsAdapter' | 'botAdapter'>): string[] {
  if (config.wsAuth !== 'none') return [];
  const out: string[] = [];
  if (config.vonageApplicationId) out.push('call control (VONAGE_APPLICATION_ID)');
  const list = (s: string) => s.split(',').map((x) => x.trim());
  const asr = list(config.asrAdapter).filter((a) => a === 'google' || a === 'microsoft');
  if (asr.length) out.push(`cloud ASR (ASR_ADAPTER: ${asr.join(', ')})`);
  const tts = list(config.ttsAdapter).filter((a) => a === 'microsoft');
  if (tts.length) out.push(`cloud TTS (TTS_ADAPTER: ${tts.join(', ')})`);
  if (config.botAdapter === 'llm') out.push('the LLM bot (BOT_ADAPTER=llm)');
  if (config.botAdapter === 'remote') out.push('the remote bot (BOT_ADAPTER=remote)');
  return out;
}

/** The one start-up warning, or undefined when nothing costly is exposed. */
export function exposureWarning(config: Parameters<typeof exposedWithoutLegAuth>[0]): string | undefined {
  const what = exposedWithoutLegAuth(config);
  if (!what.length) return undefined;
  return `WS_AUTH=none: any client that can reach the WebSocket endpoint gets a call with ${what.join(', ')}; set WS_AUTH=vonage (with VONAGE_SIGNATURE_SECRET) or custom`;
}
