/**
 * The IVR example's answers as a caller speaks them: Flite (in-process, four voices) says each answer; `chosen` tells
 * whether the finals of the call pick the option the answer meant the way the example decides (its first final after
 * the caller spoke, through its own `chooseOption`), so the bench scores the bot's decision, not the words; `clean`,
 * whether every final together still names that option and nothing else (no false extra final at all).
 */
import { fileURLToPath } from 'node:url';
import type { Utterance } from './asr-corpus.js';
import { withFlite } from './asr-flite.js';

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
  /** The example's decision on these finals is the right option. */
  chosen(finals: readonly string[]): boolean;
  /** All the finals together choose the right option (none was false). */
  clean(finals: readonly string[]): boolean;
}

interface MenuModule {
  chooseOption(text: string): { name: string } | undefined;
}

export async function loadMenuSet(quick: boolean): Promise<MenuUtterance[]> {
  const menu = (await import(new URL('menu.mjs', IVR_DIR).href)) as MenuModule;
  const out: MenuUtterance[] = [];
  await withFlite(async (say) => {
    for (const voice of quick ? ['slt'] : VOICES) {
      for (const [text, option] of quick ? ANSWERS.slice(0, 4) : ANSWERS) {
        const { samples, sampleRateHz } = await say(text, voice);
        out.push({
          set: 'menu',
          id: `${voice}-${text.replace(/\s+/g, '-')}`,
          ref: text,
          samples,
          sampleRateHz,
          chosen: (finals) => menu.chooseOption(finals[0] ?? '')?.name === option,
          clean: (finals) => menu.chooseOption(finals.join(' '))?.name === option,
        });
      }
    }
  });
  return out;
}
