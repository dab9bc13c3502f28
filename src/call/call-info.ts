import { LANGUAGE_TAG, VOICE_NAME } from '../config/config.js';
import type { ServerSettings, TtsSettings } from '../config/sections.js';
import type { Handshake } from '../leg/handshake.js';

/** What every adapter is told about the call it serves. */
export interface CallInfo {
  /** Vonage call (leg) uuid from the NCCO headers, or a gateway-made id if absent. */
  readonly callId: string;
  readonly conversationUuid: string | undefined;
  readonly from: string | undefined;
  readonly to: string | undefined;
  /** The leg's sample rate, from the handshake. */
  readonly sampleRateHz: number;
  /** BCP-47 language for ASR and TTS. */
  readonly language: string;
  /** TTS voice for this call (NCCO header `voice`, or LANGUAGE_BY_NUMBER); undefined = the adapter's default. */
  readonly voice?: string;
  /** Every header Vonage echoed in the handshake (the NCCO `headers`). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** The call as the handshake describes it; network input, so a malformed language or voice falls back to the defaults. */
export function callInfoFrom(handshake: Handshake, legId: string, cfg: Pick<ServerSettings, 'language'> & Pick<TtsSettings, 'ttsVoice'>): CallInfo {
  const m = handshake.metadata;
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  return Object.freeze({
    callId: str(m.uuid) ?? legId,
    conversationUuid: str(m.conversation_uuid),
    from: str(m.from),
    to: str(m.to),
    sampleRateHz: handshake.sampleRateHz,
    language: LANGUAGE_TAG.test(str(m.language) ?? '') ? (m.language as string) : cfg.language,
    voice: VOICE_NAME.test(str(m.voice) ?? '') ? (m.voice as string) : cfg.ttsVoice || undefined,
    metadata: m,
  });
}
