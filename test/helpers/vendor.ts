/**
 * What the vendor adapter tests share (test/asr/deepgram, test/tts/cartesia, test/tts/microsoft): the adapter built
 * from its settings (pointed at the vendor's fake) the way the gateway builds it, a call to run it on, the count of
 * unhandled rejections the vendor SDK leaves behind, and the failed checks of a conformance run.
 */
import { adapterContext } from '../../src/adapters.js';
import type { CallInfo } from '../../src/call/call-info.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/observability/logger.js';
import type { AdapterContext } from '../../src/util/adapter-context.js';

/** The adapter `create` builds from `env` (the settings, also its environment), with a silent logger. */
export async function vendorAdapter<A>(create: (ctx: AdapterContext) => A | Promise<A>, env: Record<string, string>): Promise<A> {
  return create(adapterContext(loadConfig(env), createLogger('silent'), env));
}

/** A call as an adapter sees it: no numbers, no metadata. */
export function testCall(callId: string, sampleRateHz = 16000, language = 'en-US'): CallInfo {
  return { callId, conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz, language, metadata: {} };
}

/** Counts the process's unhandled rejections from now until `stop()`. */
export function countUnhandledRejections(): { readonly count: number; stop(): void } {
  let count = 0;
  const on = () => void count++;
  process.on('unhandledRejection', on);
  return {
    get count() {
      return count;
    },
    stop: () => void process.off('unhandledRejection', on),
  };
}

/** The failed checks of a conformance run, as `name: detail` lines (empty when all passed). */
export const failedChecks = (checks: ReadonlyArray<{ ok: boolean; name: string; detail: string }>): string[] =>
  checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`);
