/**
 * The IVR example's answers as a caller speaks them: Flite (in-process, four voices) says each answer; `chosen` tells
 * whether a transcript picks the option the answer meant, with the example's own `chooseOption`, so the bench scores
 * the bot's decision, not the words.
 */
import { fileURLToPath } from 'node:url';
import { createFliteTts } from '../src/tts/flite.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/observability/logger.js';
import type { CallInfo } from '../src/call/call-info.js';
import type { Utterance } from './asr-corpus.js';
import { adapterContext } from '../src/adapters.js';

const IVR_DIR = new URL('../../examples/ivr/', import.meta.url);
/** The grammar the IVR example is run with (written by examples/ivr/make-grammar.mjs). */
export const MENU_GRAMMAR = fileURLToPath(new URL('menu.gram', IVR_DIR));

/** What callers say, and the option each means. */
const ANSWERS: ReadonlyArray<[string, string]> = [
  ['sales', 'sales'],
  ['support', 'support'],
  ['billing', 'billing'],
  ['operator', 'an operator'],
  ['i want sales please', 'sales'],
  ['two', 'support'],
  ['three', 'billing'],
  ['technical support', 'support'],
];
const VOICES = ['slt', 'kal16', 'awb', 'rms'];

export interface MenuUtterance extends Utterance {
  chosen(hyp: string): boolean;
}

interface MenuModule {
  chooseOption(text: string): { name: string } | undefined;
}

export async function loadMenuSet(quick: boolean): Promise<MenuUtterance[]> {
  const menu = (await import(new URL('menu.mjs', IVR_DIR).href)) as MenuModule;
  const tts = createFliteTts(adapterContext(loadConfig({ TTS_WORKERS: '1' }), createLogger('silent')));
  const call: CallInfo = { callId: 'bench', conversationUuid: undefined, from: undefined, to: undefined, sampleRateHz: 16000, language: 'en-US', metadata: {} };
  const out: MenuUtterance[] = [];
  try {
    for (const voice of quick ? ['slt'] : VOICES) {
      for (const [text, option] of quick ? ANSWERS.slice(0, 4) : ANSWERS) {
        const parts: Int16Array[] = [];
        let rate = 16000;
        for await (const c of tts.synthesize({ text, call, voice, signal: new AbortController().signal })) {
          parts.push(c.audio);
          rate = c.sampleRateHz;
        }
        const samples = new Int16Array(parts.reduce((a, p) => a + p.length, 0));
        let off = 0;
        for (const p of parts) {
          samples.set(p, off);
          off += p.length;
        }
        out.push({
          set: 'menu',
          id: `${voice}-${text.replace(/\s+/g, '-')}`,
          ref: text,
          samples,
          sampleRateHz: rate,
          chosen: (hyp) => menu.chooseOption(hyp)?.name === option,
        });
      }
    }
  } finally {
    await tts.close?.();
  }
  return out;
}
