/**
 * The conformance suites, for a user's own tests: `import { runBotConformance } from 'vonage-voicebot-gateway/conformance'`.
 * Each returns a list of checks (`{ name, ok, detail }`) and never throws for an adapter's failings;
 * {@link formatConformance} prints them as the `vgw *-conformance` commands do.
 */
export { runAsrConformance, type AsrConformanceOptions } from '../asr/conformance.js';
export { runTtsConformance, malformedChunk, type TtsConformanceOptions } from '../tts/conformance.js';
export { runBotConformance, malformedOutput, sampleInputs, type BotConformanceOptions } from '../bot/conformance.js';
export { formatChecks as formatConformance, type ConformanceCheck } from './conformance-kit.js';
