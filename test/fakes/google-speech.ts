/**
 * A fake Google Cloud Speech-to-Text v1 service: a real gRPC server on 127.0.0.1 built from the SDK's own
 * `protos.json`, speaking the real `google.cloud.speech.v1.Speech/StreamingRecognize` wire protocol, so the real
 * `@google-cloud/speech` client can be pointed at it (`apiEndpoint: '127.0.0.1', port, sslCreds: insecure,
 * universeDomain: 'googleapis.com'`).
 *
 * What it does, per stream:
 * - checks framing like the service: the first request must carry `streamingConfig`, every later one `audioContent`;
 *   otherwise `INVALID_ARGUMENT` "Malordered Data Received…". A config without `languageCode` or with a sample rate
 *   outside 8000–48000 is `INVALID_ARGUMENT` too;
 * - records the config and every audio byte it received, and how the stream ended (half-close, cancel, error);
 * - answers on cue: scripted recognition ("every `finalEveryMs` of audio received: an interim at the half, a final at
 *   the boundary", `resultEndTime` relative to the stream's start); `END_OF_SINGLE_UTTERANCE` before the first final
 *   when the config asks for `singleUtterance` (then it closes the stream, as the service does); errors (any status +
 *   message) after N bytes on stream K or on every stream; and any response or error at any time through the
 *   recorded stream's `send`/`fail`.
 *
 * Generic on purpose: the scripted mode needs no setup beyond the options, so other suites (conformance, failover)
 * reuse it.
 */
import { createRequire } from 'node:module';
import { grpc } from 'google-gax';
import * as protoLoader from '@grpc/proto-loader';

/** The service's answer when a stream outlives its duration limit. */
export const GOOGLE_DURATION_CAP = { code: 11, message: 'Exceeded maximum allowed stream duration of 305 seconds.' } as const;
/** The service's answer when audio stops arriving. */
export const GOOGLE_AUDIO_TIMEOUT = {
  code: 11,
  message: 'Audio Timeout Error: Long duration elapsed without audio. Audio should be sent close to real time.',
} as const;
export const GOOGLE_MALORDERED = 'Malordered Data Received. Send exactly one config, followed by audio data.';

/** An injected failure: status `code` (gRPC numeric) with `message`. */
export interface FakeErrorCue {
  /** 0-based stream index (in order of arrival at the server); omitted = every stream. */
  stream?: number;
  /** Fail once this stream has received at least this many audio bytes (0 = as soon as its config arrives). */
  afterBytes: number;
  code: number;
  message: string;
}

export interface FakeGoogleSpeechOptions {
  /** Scripted recognition period in ms of audio received per stream; 0 turns it off. Default 1000. */
  finalEveryMs?: number;
  /** Text of the K-th (1-based, per stream) scripted result on stream `streamIndex`. Default `segment K`. */
  text?: (k: number, streamIndex: number) => string;
  /** Confidence of scripted finals. Default 0.9. */
  confidence?: number;
  /** When the client half-closes with audio not yet finalised, answer a final for it first. Default true. */
  finalOnHalfClose?: boolean;
  /** Injected failures (the list may be changed while the server runs). */
  errors?: FakeErrorCue[];
  /** Called when a stream's config has been accepted. */
  onStream?: (s: FakeStream) => void;
}

/** How a stream ended, seen from the server. */
export type FakeStreamEnd = 'open' | 'half-closed' | 'cancelled' | 'error' | 'server-closed';

/** A response the fake can send (the v1 `StreamingRecognizeResponse` as an object). */
export interface FakeResponse {
  results?: Array<{
    alternatives: Array<{ transcript: string; confidence?: number }>;
    isFinal?: boolean;
    stability?: number;
    resultEndTime?: { seconds: number; nanos: number };
  }>;
  speechEventType?: 'SPEECH_EVENT_UNSPECIFIED' | 'END_OF_SINGLE_UTTERANCE';
}

/** One recorded stream. */
export interface FakeStream {
  /** 0-based, in order of arrival (of the first request). */
  index: number;
  /** The `streamingConfig` received (camelCase, enums as names), or undefined if the first message was not one. */
  config: StreamingConfigSeen | undefined;
  /** Audio payloads in arrival order. */
  readonly chunks: Buffer[];
  audioBytes: number;
  /** Every audio byte this stream received, concatenated. */
  audio(): Buffer;
  /** What was sent, in order (scripted and injected). */
  readonly sent: FakeResponse[];
  /** Finals sent: text and end offset in ms from this stream's start. */
  readonly finals: Array<{ text: string; endMs: number }>;
  end: FakeStreamEnd;
  /** Status sent when it ended with an error. */
  error: { code: number; message: string } | undefined;
  /** The client cancelled the call (e.g. on abort). */
  cancelled: boolean;
  /** Send any response now (ignored once the stream ended). */
  send(r: FakeResponse): void;
  /** End the stream now with this status. */
  fail(code: number, message: string): void;
  /** End the stream now with OK. */
  close(): void;
}

export interface StreamingConfigSeen {
  config: {
    encoding: string;
    sampleRateHertz: number;
    languageCode: string;
    model: string;
    useEnhanced: boolean;
    audioChannelCount: number;
    speechContexts: Array<{ phrases: string[]; boost?: number }>;
    [k: string]: unknown;
  };
  singleUtterance: boolean;
  interimResults: boolean;
  [k: string]: unknown;
}

export interface FakeGoogleSpeech {
  port: number;
  /** Every stream in order of arrival. */
  streams: FakeStream[];
  /** The live options (change `errors`, `finalEveryMs`… while it runs). */
  options: FakeGoogleSpeechOptions;
  close(): Promise<void>;
}

interface StreamingRequest {
  streamingRequest?: 'streamingConfig' | 'audioContent';
  streamingConfig?: StreamingConfigSeen;
  audioContent?: Buffer;
}

let serviceDef: grpc.ServiceDefinition | undefined;
function speechService(): grpc.ServiceDefinition {
  if (serviceDef) return serviceDef;
  const require = createRequire(import.meta.url);
  const json = require('@google-cloud/speech/build/protos/protos.json') as Parameters<typeof protoLoader.fromJSON>[0];
  const pkgDef = protoLoader.fromJSON(json, { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
  const loaded = grpc.loadPackageDefinition(pkgDef) as unknown as {
    google: { cloud: { speech: { v1: { Speech: { service: grpc.ServiceDefinition } } } } };
  };
  serviceDef = loaded.google.cloud.speech.v1.Speech.service;
  return serviceDef;
}

function duration(ms: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: Math.round((ms - seconds * 1000) * 1e6) };
}

/** Start the fake on 127.0.0.1 on a free port. */
export async function startFakeGoogleSpeech(opts: FakeGoogleSpeechOptions = {}): Promise<FakeGoogleSpeech> {
  const options: FakeGoogleSpeechOptions = { finalEveryMs: 1000, confidence: 0.9, finalOnHalfClose: true, errors: [], ...opts };
  const streams: FakeStream[] = [];
  const live = new Set<grpc.ServerDuplexStream<StreamingRequest, FakeResponse>>();
  const server = new grpc.Server();

  const handler = (call: grpc.ServerDuplexStream<StreamingRequest, FakeResponse>): void => {
    live.add(call);
    let bytesPerMs = 0;
    let finalsDone = 0;
    let interimsDone = 0;
    let finalisedMs = 0;
    let single = false;
    let interim = false;
    const s: FakeStream = {
      index: -1,
      config: undefined,
      chunks: [],
      audioBytes: 0,
      audio: () => Buffer.concat(s.chunks),
      sent: [],
      finals: [],
      end: 'open',
      error: undefined,
      cancelled: false,
      send(r) {
        if (s.end !== 'open' && s.end !== 'half-closed') return;
        s.sent.push(r);
        call.write(r);
      },
      fail(code, message) {
        if (s.end !== 'open' && s.end !== 'half-closed') return;
        s.end = 'error';
        s.error = { code, message };
        call.emit('error', { code, details: message });
      },
      close() {
        if (s.end !== 'open' && s.end !== 'half-closed') return;
        s.end = 'server-closed';
        call.end();
      },
    };
    const text = (k: number): string => (options.text ? options.text(k, s.index) : `segment ${k}`);
    const sendFinal = (endMs: number): void => {
      finalsDone++;
      const t = text(finalsDone);
      s.finals.push({ text: t, endMs });
      finalisedMs = endMs;
      s.send({
        results: [{ alternatives: [{ transcript: t, confidence: options.confidence ?? 0.9 }], isFinal: true, stability: 0, resultEndTime: duration(endMs) }],
      });
    };
    const script = (): void => {
      const every = options.finalEveryMs ?? 0;
      if (!every || !bytesPerMs) return;
      const ms = s.audioBytes / bytesPerMs;
      while (s.end === 'open') {
        const k = finalsDone + 1;
        if (interim && interimsDone < k && ms >= (k - 0.5) * every) {
          interimsDone = k;
          s.send({ results: [{ alternatives: [{ transcript: text(k) }], isFinal: false, stability: 0.5, resultEndTime: duration((k - 0.5) * every) }] });
          continue;
        }
        if (ms < k * every) break;
        if (single) s.send({ speechEventType: 'END_OF_SINGLE_UTTERANCE' });
        sendFinal(k * every);
        if (single) {
          s.close();
          break;
        }
      }
    };
    const checkErrors = (): void => {
      for (const e of options.errors ?? []) {
        if ((e.stream === undefined || e.stream === s.index) && s.audioBytes >= e.afterBytes) {
          s.fail(e.code, e.message);
          return;
        }
      }
    };

    call.on('data', (req: StreamingRequest) => {
      if (s.end !== 'open') return;
      if (s.config === undefined) {
        if (req.streamingRequest !== 'streamingConfig' || !req.streamingConfig) {
          s.index = streams.push(s) - 1;
          s.fail(3, GOOGLE_MALORDERED);
          return;
        }
        const c = req.streamingConfig;
        s.config = c;
        s.index = streams.push(s) - 1;
        const rate = c.config?.sampleRateHertz ?? 0;
        if (!c.config?.languageCode) return s.fail(3, "Invalid recognition 'config': language_code is required.");
        if (rate < 8000 || rate > 48000) return s.fail(3, `Invalid recognition 'config': sample_rate_hertz (${rate}) must be between 8000 and 48000.`);
        bytesPerMs = (rate * 2) / 1000;
        single = !!c.singleUtterance;
        interim = !!c.interimResults;
        options.onStream?.(s);
        checkErrors();
        return;
      }
      if (req.streamingRequest !== 'audioContent') return s.fail(3, GOOGLE_MALORDERED);
      const a = req.audioContent ?? Buffer.alloc(0);
      s.chunks.push(Buffer.from(a));
      s.audioBytes += a.length;
      checkErrors();
      script();
    });
    call.on('end', () => {
      // The client half-closed: finalise what is left, like the service, then close.
      if (s.end !== 'open' || call.cancelled) return;
      s.end = 'half-closed';
      if (options.finalOnHalfClose && bytesPerMs && s.audioBytes / bytesPerMs > finalisedMs) sendFinal(s.audioBytes / bytesPerMs);
      s.end = 'server-closed';
      call.end();
    });
    call.on('cancelled', () => {
      // A cancel can be seen after the read side ended (the client's RST follows its half-close): it still wins.
      s.cancelled = true;
      if (s.end !== 'error') s.end = 'cancelled';
    });
    call.on('error', () => {});
    call.on('close', () => live.delete(call));
    call.on('finish', () => live.delete(call));
  };

  server.addService(speechService(), {
    streamingRecognize: handler,
    recognize: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: 12, details: 'not implemented by the fake' }),
    longRunningRecognize: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: 12, details: 'not implemented by the fake' }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  let closed: Promise<void> | undefined;
  return {
    port,
    streams,
    options,
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const c of live) c.end();
        server.tryShutdown(() => resolve());
        // Streams a client never ends must not keep the test alive.
        setTimeout(() => server.forceShutdown(), 500).unref();
      });
      return closed;
    },
  };
}
