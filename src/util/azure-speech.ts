/**
 * What the Microsoft ASR and TTS adapters share: loading the Azure Speech SDK lazily, and building its `SpeechConfig`
 * from the gateway config. This file never imports the SDK itself (types only); the adapters hand it the module.
 */
import type * as SpeechSdk from 'microsoft-cognitiveservices-speech-sdk';
import { createRequire } from 'node:module';
import type { AzureSettings } from '../config/sections.js';

export type Sdk = typeof SpeechSdk;

let sdkPromise: Promise<Sdk> | undefined;

/** The SDK module, imported on first use (it is CommonJS: take `default` when Node wraps it). */
export function loadAzureSdk(): Promise<Sdk> {
  sdkPromise ??= import('microsoft-cognitiveservices-speech-sdk').then((m) => {
    forceNpmWebSocket();
    return (m as unknown as { default?: Sdk }).default ?? m;
  });
  return sdkPromise;
}

/**
 * Node 22+ has a global `WebSocket`, and the SDK then takes itself for a browser: it dials with the WHATWG WebSocket,
 * which cannot send the subscription-key header or honour our TLS/host settings, so every connection failed (1006) on
 * Node 24. Its own switch makes it use the `ws` package, as on Node 20.
 */
function forceNpmWebSocket(): void {
  const require = createRequire(import.meta.url);
  const m = require('microsoft-cognitiveservices-speech-sdk/distrib/lib/src/common.browser/WebsocketMessageAdapter.js') as {
    WebsocketMessageAdapter?: { forceNpmWebSocket?: boolean };
  };
  if (m.WebsocketMessageAdapter) m.WebsocketMessageAdapter.forceNpmWebSocket = true;
}

/** Refuse to start without a way to reach the service: key+region, an endpoint, or a host. */
export function checkAzureConfig(config: AzureSettings, kind: 'ASR' | 'TTS'): void {
  if (config.azureSpeechHost || config.azureSpeechEndpoint) return;
  if (config.azureSpeechKey && config.azureSpeechRegion) return;
  throw new Error(`${kind} adapter microsoft needs AZURE_SPEECH_KEY and AZURE_SPEECH_REGION (or AZURE_SPEECH_ENDPOINT, or AZURE_SPEECH_HOST)`);
}

/** `fromHost` (containers, tests) wins over `fromEndpoint`, which wins over `fromSubscription(key, region)`. */
export function azureSpeechConfig(sdk: Sdk, config: AzureSettings): SpeechSdk.SpeechConfig {
  const key = config.azureSpeechKey || undefined;
  let sc: SpeechSdk.SpeechConfig;
  if (config.azureSpeechHost) sc = sdk.SpeechConfig.fromHost(new URL(config.azureSpeechHost), key);
  else if (config.azureSpeechEndpoint) sc = sdk.SpeechConfig.fromEndpoint(new URL(config.azureSpeechEndpoint), key);
  else sc = sdk.SpeechConfig.fromSubscription(config.azureSpeechKey, config.azureSpeechRegion);
  return sc;
}

/**
 * The adapter-visible code of a cancellation: `AZURE_<CancellationErrorCode name>` in upper snake case. A rejected
 * upgrade reaches the SDK as a generic connection failure whose details carry the HTTP status: 401 is reported as
 * `AZURE_AUTHENTICATION_FAILURE`, 403 as `AZURE_FORBIDDEN`, so that they are not retried.
 */
export function azureErrorCode(sdk: Sdk, errorCode: SpeechSdk.CancellationErrorCode, details: string): string {
  let name = sdk.CancellationErrorCode[errorCode] ?? 'UNKNOWN';
  if (errorCode === sdk.CancellationErrorCode.ConnectionFailure) {
    if (/\b401\b|unauthori[sz]ed/i.test(details)) name = 'AuthenticationFailure';
    else if (/\b403\b|forbidden/i.test(details)) name = 'Forbidden';
  }
  return `AZURE_${name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

/** Codes worth reconnecting for; everything else (auth, forbidden, bad request, runtime) ends the stream. */
export const AZURE_RECOVERABLE = new Set([
  'AZURE_CONNECTION_FAILURE',
  'AZURE_SERVICE_TIMEOUT',
  'AZURE_SERVICE_ERROR',
  'AZURE_TOO_MANY_REQUESTS',
  'AZURE_SERVICE_REDIRECT_TEMPORARY',
  'AZURE_CONNECT_TIMEOUT',
]);
