/**
 * The `google` ASR adapter: Google Cloud Speech-to-Text v1 streaming recognition through the official
 * `@google-cloud/speech` SDK (gRPC), LINEAR16 at the leg rate (8/16/24 kHz), the call's language.
 *
 * One `SpeechClient` per process, created at the first call (the SDK is imported then, not before) and closed by
 * `close()`. Credentials: `GOOGLE_SPEECH_KEY_FILE`, else the SDK's own lookup (`GOOGLE_APPLICATION_CREDENTIALS`, the
 * metadata server). `GOOGLE_SPEECH_ENDPOINT` points it elsewhere (a regional or private endpoint); with
 * `GOOGLE_SPEECH_INSECURE=true` the channel is plaintext and unauthenticated (tests, sidecars on loopback).
 * Per-call behaviour (rotation, replay, errors) is in google-stream.ts.
 */
import { createRequire } from 'node:module';
import type { AdapterContext } from '../util/adapter-context.js';
import type { AsrAdapter, AsrStreamOptions } from './types.js';
import { GoogleAsrStream, type GoogleStreamSettings, type StreamingSpeechClient } from './google-stream.js';

export const GOOGLE_SAMPLE_RATES_HZ = [8000, 16000, 24000] as const;

/** Client construction settings (from config). */
export interface GoogleClientSettings {
  /** `host:port` (port defaults to 443); empty = Google's public endpoint. */
  endpoint: string;
  /** Plaintext channel without Google auth (only with `endpoint`). */
  insecure: boolean;
  /** Service-account key file; empty = the SDK's default credentials. */
  keyFile: string;
}

interface ClosableClient extends StreamingSpeechClient {
  initialize(): Promise<unknown>;
  close(): Promise<void>;
}

/** Split `host:port` / `[v6]:port` / `host`. */
export function parseEndpoint(raw: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s/[\]]+)(?::(\d{1,5}))?$/.exec(raw.trim());
  if (!m) throw new Error(`not host:port: ${raw}`);
  const port = m[2] === undefined ? 443 : Number(m[2]);
  if (port < 1 || port > 65535) throw new Error(`bad port in ${raw}`);
  return { host: m[1]!, port };
}

/** Build the SDK client (imports the SDK). Exported for tools and tests; the adapter calls it once per process. */
export async function createSpeechClient(s: GoogleClientSettings): Promise<ClosableClient> {
  const speech = (await import('@google-cloud/speech')) as unknown as {
    SpeechClient?: new (o: object) => ClosableClient;
    default?: { SpeechClient: new (o: object) => ClosableClient };
  };
  const SpeechClient = speech.SpeechClient ?? speech.default?.SpeechClient;
  if (!SpeechClient) throw new Error('@google-cloud/speech has no SpeechClient');
  const opts: Record<string, unknown> = {};
  if (s.endpoint) {
    const { host, port } = parseEndpoint(s.endpoint);
    opts.apiEndpoint = host;
    opts.port = port;
  }
  if (s.insecure) {
    // The channel credentials must come from the very grpc-js copy the SDK uses (through its google-gax), or grpc
    // rejects them ("Channel credentials must be a ChannelCredentials object").
    const req = createRequire(createRequire(import.meta.url).resolve('@google-cloud/speech'));
    const { grpc } = req('google-gax') as typeof import('google-gax');
    opts.sslCreds = grpc.credentials.createInsecure();
    // A fixed universe domain keeps the client from probing the GCE metadata server.
    opts.universeDomain = 'googleapis.com';
  }
  if (s.keyFile) opts.keyFilename = s.keyFile;
  const client = new SpeechClient(opts);
  await client.initialize();
  return client;
}

/** Options for {@link createGoogleAsr} beyond the config (tests use them to shorten timings). */
export interface GoogleAsrOverrides {
  stream?: Partial<GoogleStreamSettings>;
  client?: Partial<GoogleClientSettings>;
}

/** The `google` ASR adapter factory. */
export function createGoogleAsr(ctx: AdapterContext, overrides: GoogleAsrOverrides = {}): AsrAdapter {
  const c = ctx.sections.asr;
  const clientSettings: GoogleClientSettings = {
    endpoint: c.googleSpeechEndpoint,
    insecure: c.googleSpeechInsecure,
    keyFile: c.googleSpeechKeyFile,
    ...overrides.client,
  };
  const streamSettings: GoogleStreamSettings = {
    model: c.googleSpeechModel,
    interimResults: c.googleSpeechInterim,
    phrases: c.googleSpeechPhrases,
    singleUtterance: c.googleSpeechSingleUtterance,
    rotateMs: c.googleSpeechRotateMs,
    replayMaxMs: c.googleSpeechReplayMs,
    maxConsecutiveFailures: 5,
    ...overrides.stream,
  };
  let client: Promise<ClosableClient> | undefined;
  let closed = false;
  const streams = new Set<GoogleAsrStream>();
  return {
    name: 'google',
    capabilities: { interim: streamSettings.interimResults, sampleRatesHz: GOOGLE_SAMPLE_RATES_HZ },
    async start(o: AsrStreamOptions) {
      if (closed) throw new Error('google ASR adapter is closed');
      if (!(GOOGLE_SAMPLE_RATES_HZ as readonly number[]).includes(o.call.sampleRateHz)) {
        throw new Error(`google ASR: unsupported sample rate ${o.call.sampleRateHz}`);
      }
      if (!client) {
        client = createSpeechClient(clientSettings);
        client.then(
          () =>
            ctx.logger.info(
              { endpoint: clientSettings.endpoint || 'speech.googleapis.com', model: streamSettings.model || '(default)' },
              'google speech client ready',
            ),
          () => (client = undefined), // let the next call try again
        );
      }
      const cl = await client;
      if (closed || o.signal.aborted) throw new Error('google ASR: call ended before the stream opened');
      const stream = new GoogleAsrStream(cl, o, streamSettings, (x) => streams.delete(x));
      streams.add(stream);
      return stream.start();
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const s of streams) s.close();
      streams.clear();
      const cl = await client?.catch(() => undefined);
      await cl?.close().catch(() => undefined);
    },
  };
}
