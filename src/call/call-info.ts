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
