/**
 * What an unauthenticated leg can reach. With `WS_AUTH=none` anyone who can open a WebSocket to the gateway gets a
 * call: that is fine for the echo bot and the offline pipeline, but not when a call can spend money (cloud ASR or TTS,
 * an LLM, a remote bot) or act on real calls (Vonage REST call control). The start-up log names what is exposed.
 */
import type { ConfigSections } from '../config/sections.js';

/** The sections that say what a leg reaches: leg auth, call control, the selected ASR, TTS and bot. */
export type ExposureSettings = Pick<ConfigSections, 'security' | 'vonage' | 'asr' | 'tts' | 'bot'>;

/** The costly or privileged parts a leg reaches, e.g. `call control (VONAGE_APPLICATION_ID)`; empty when none. */
export function exposedWithoutLegAuth(s: ExposureSettings): string[] {
  if (s.security.wsAuth !== 'none') return [];
  const out: string[] = [];
  if (s.vonage.vonageApplicationId) out.push('call control (VONAGE_APPLICATION_ID)');
  const list = (v: string) => v.split(',').map((x) => x.trim());
  const asr = list(s.asr.asrAdapter).filter((a) => a === 'google' || a === 'microsoft');
  if (asr.length) out.push(`cloud ASR (ASR_ADAPTER: ${asr.join(', ')})`);
  const tts = list(s.tts.ttsAdapter).filter((a) => a === 'microsoft');
  if (tts.length) out.push(`cloud TTS (TTS_ADAPTER: ${tts.join(', ')})`);
  if (s.bot.botAdapter === 'llm') out.push('the LLM bot (BOT_ADAPTER=llm)');
  if (s.bot.botAdapter === 'remote') out.push('the remote bot (BOT_ADAPTER=remote)');
  return out;
}

/** The one start-up warning, or undefined when nothing costly is exposed. */
export function exposureWarning(s: ExposureSettings): string | undefined {
  const what = exposedWithoutLegAuth(s);
  if (!what.length) return undefined;
  return `WS_AUTH=none: any client that can reach the WebSocket endpoint gets a call with ${what.join(', ')}; set WS_AUTH=vonage (with VONAGE_SIGNATURE_SECRET) or custom`;
}
