/**
 * TTS adapter `microsoft`: Azure Speech neural voices through `microsoft-cognitiveservices-speech-sdk`.
 *
 * One `SpeechSynthesizer` per request, raw 16-bit mono PCM at the leg's rate (8/16/24 kHz; other rates get 16 kHz and
 * the egress path resamples). Audio is streamed from the SDK's `synthesizing` event as the service sends it, so the
 * first chunk plays before synthesis ends. The text is XML-escaped into SSML with the voice `request.voice`, else
 * `TTS_VOICE`, else a default for `call.language` ({@link AZURE_DEFAULT_VOICES}). Aborting the request's signal stops
 * the iteration and closes the synthesizer (and its socket). Failures (`canceled`, connect timeout) are thrown from
 * the iterator as errors whose `code` is `AZURE_<CANCELLATION_ERROR_CODE>`.
 */
import type * as SpeechSdk from 'microsoft-cognitiveservices-speech-sdk';
import type { AzureSettings, TtsSettings } from '../config/sections.js';
import type { Logger } from '../observability/logger.js';
import { Channel } from '../util/channel.js';
import type { AdapterContext } from '../util/adapter-context.js';
import { azureErrorCode, azureSpeechConfig, checkAzureConfig, loadAzureSdk, type Sdk } from '../util/azure-speech.js';
import type { TtsAdapter, TtsChunk, TtsRequest } from './types.js';

/** Default neural voice per language (exact tag first, then the language's first entry). */
export const AZURE_DEFAULT_VOICES: Readonly<Record<string, string>> = {
  'en-US': 'en-US-JennyNeural',
  'en-GB': 'en-GB-SoniaNeural',
  'en-AU': 'en-AU-NatashaNeural',
  'en-IN': 'en-IN-NeerjaNeural',
  'de-DE': 'de-DE-KatjaNeural',
  'fr-FR': 'fr-FR-DeniseNeural',
  'fr-CA': 'fr-CA-SylvieNeural',
  'es-ES': 'es-ES-ElviraNeural',
  'es-MX': 'es-MX-DaliaNeural',
  'it-IT': 'it-IT-ElsaNeural',
  'pt-BR': 'pt-BR-FranciscaNeural',
  'pt-PT': 'pt-PT-RaquelNeural',
  'nl-NL': 'nl-NL-ColetteNeural',
  'ja-JP': 'ja-JP-NanamiNeural',
  'zh-CN': 'zh-CN-XiaoxiaoNeural',
  'ko-KR': 'ko-KR-SunHiNeural',
  'hi-IN': 'hi-IN-SwaraNeural',
};

/** Chunks queued between the SDK and the consumer; past it the synthesis fails (the consumer stopped reading). */
const MAX_QUEUED_CHUNKS = 4096;

/** The default voice for a BCP-47 tag: exact match, else same language, else en-US. */
export function defaultAzureVoice(language: string): string {
  const exact = Object.keys(AZURE_DEFAULT_VOICES).find((k) => k.toLowerCase() === language.toLowerCase());
  if (exact) return AZURE_DEFAULT_VOICES[exact]!;
  const lang = language.split('-')[0]!.toLowerCase();
  const same = Object.keys(AZURE_DEFAULT_VOICES).find((k) => k.split('-')[0]!.toLowerCase() === lang);
  return AZURE_DEFAULT_VOICES[same ?? 'en-US']!;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

/** SSML for one request: the language of the voice, the text escaped. */
export function buildSsml(text: string, voice: string, language: string): string {
  return (
    `<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="${escapeXml(language)}">` +
    `<voice name="${escapeXml(voice)}">${escapeXml(text)}</voice></speak>`
  );
}

export class AzureTtsError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'AzureTtsError';
    this.code = code;
  }
}

function outputFormat(sdk: Sdk, rateHz: number): { format: SpeechSdk.SpeechSynthesisOutputFormat; rateHz: number } {
  const F = sdk.SpeechSynthesisOutputFormat;
  if (rateHz === 8000) return { format: F.Raw8Khz16BitMonoPcm, rateHz };
  if (rateHz === 24000) return { format: F.Raw24Khz16BitMonoPcm, rateHz };
  return { format: F.Raw16Khz16BitMonoPcm, rateHz: 16000 };
}

async function* synthesizeWith(sdk: Sdk, config: AzureSettings & Pick<TtsSettings, 'ttsVoice'>, log: Logger, req: TtsRequest): AsyncGenerator<TtsChunk> {
  const text = req.text.trim();
  if (!text || req.signal.aborted) return;
  const voice = req.voice ?? (config.ttsVoice || defaultAzureVoice(req.call.language));
  const { format, rateHz } = outputFormat(sdk, req.call.sampleRateHz);
  const sc = azureSpeechConfig(sdk, config);
  sc.speechSynthesisOutputFormat = format;
  sc.speechSynthesisVoiceName = voice;
  // `null` audio config: no speaker output; audio comes only through the events.
  const synth = new sdk.SpeechSynthesizer(sc, null);
  const queue = new Channel<Buffer>(MAX_QUEUED_CHUNKS, 'drop-newest');
  let failure: AzureTtsError | undefined;
  const finish = (err?: AzureTtsError) => {
    if (err && !failure) failure = err;
    queue.close();
  };
  const onAbort = () => queue.close();
  req.signal.addEventListener('abort', onAbort, { once: true });
  const timeoutMs = config.azureSpeechConnectTimeoutMs;
  let timer: NodeJS.Timeout | undefined = setTimeout(() => {
    timer = undefined;
    finish(new AzureTtsError('AZURE_CONNECT_TIMEOUT', `no connection to Azure Speech within ${timeoutMs} ms`));
  }, timeoutMs);
  const started = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  synth.synthesisStarted = started;
  synth.synthesizing = (_s, e) => {
    started();
    const d = e.result.audioData;
    if (d && d.byteLength && !queue.push(Buffer.from(d))) finish(new AzureTtsError('AZURE_QUEUE_OVERFLOW', 'synthesized audio not consumed'));
  };
  synth.speakSsmlAsync(
    buildSsml(text, voice, req.call.language),
    (result) => {
      if (result.reason === sdk.ResultReason.Canceled) {
        const d = sdk.CancellationDetails.fromResult(result);
        finish(new AzureTtsError(azureErrorCode(sdk, d.ErrorCode, d.errorDetails ?? ''), `azure synthesis canceled: ${d.errorDetails}`));
      } else finish();
    },
    (err) => finish(new AzureTtsError('AZURE_RUNTIME_ERROR', `azure synthesis failed: ${String(err)}`)),
  );
  let carry: Buffer | undefined;
  try {
    for await (let chunk of queue) {
      if (req.signal.aborted) return;
      if (carry) {
        chunk = Buffer.concat([carry, chunk]);
        carry = undefined;
      }
      const even = chunk.length & ~1;
      if (even < chunk.length) carry = chunk.subarray(even);
      if (!even) continue;
      const audio = new Int16Array(even >> 1);
      Buffer.from(audio.buffer).set(chunk.subarray(0, even));
      yield { audio, sampleRateHz: rateHz };
    }
    if (failure && !req.signal.aborted) throw failure;
  } finally {
    if (timer) clearTimeout(timer);
    req.signal.removeEventListener('abort', onAbort);
    synth.synthesizing = undefined as never;
    synth.close(
      () => {},
      (err: string) => log.debug({ err }, 'azure synthesizer close failed'),
    );
  }
}

/** The `microsoft` TTS adapter. Throws at start-up if no key+region, endpoint or host is configured. */
export async function createMicrosoftTts(ctx: AdapterContext): Promise<TtsAdapter> {
  checkAzureConfig(ctx.sections.azure, 'TTS');
  const sdk = await loadAzureSdk();
  const voiceSettings = { ...ctx.sections.azure, ttsVoice: ctx.sections.tts.ttsVoice };
  return {
    name: 'microsoft',
    synthesize: (req) => synthesizeWith(sdk, voiceSettings, ctx.logger, req),
  };
}
