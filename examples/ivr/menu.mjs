// @ts-check
/**
 * The IVR's menu, as data: each option's key, name, the words that choose it, and where it goes. The grammar the
 * recogniser is constrained to and the choice the bot makes from a transcript both come from this one list, so they
 * cannot disagree. `node examples/ivr/make-grammar.mjs` writes menu.gram from it.
 */

/** @typedef {{ key: string, name: string, words: string[], numberEnv: string }} MenuOption */

/** @type {MenuOption[]} */
export const MENU = [
  { key: '1', name: 'sales', words: ['sales', 'buy', 'order'], numberEnv: 'IVR_SALES_NUMBER' },
  { key: '2', name: 'support', words: ['support', 'help', 'technical support'], numberEnv: 'IVR_SUPPORT_NUMBER' },
  { key: '3', name: 'billing', words: ['billing', 'bill', 'payment'], numberEnv: 'IVR_BILLING_NUMBER' },
  { key: '0', name: 'an operator', words: ['operator', 'agent', 'a person'], numberEnv: 'IVR_OPERATOR_NUMBER' },
];

const DIGIT_WORDS = { 0: 'zero', 1: 'one', 2: 'two', 3: 'three', 4: 'four', 5: 'five', 6: 'six', 7: 'seven', 8: 'eight', 9: 'nine' };

/**
 * Words that are not a choice. pocketsphinx has no garbage model: constrained to the menu alone it forces any sound
 * onto a menu word ("banana" comes out as "sales"). An out-of-menu branch gives everything else somewhere to go, so
 * off-menu speech comes out as these words and is no choice (re-prompt). Only words of two syllables or more: short
 * ones ("a", "to", "yes") fit any sound, even a menu word, and the branch would swallow real answers (measured: 4 of
 * 32 menu answers right with them, 27 of 32 without).
 */
const OTHER_WORDS =
  'weather today tomorrow friday monday morning evening hello anybody address account number mother father ' +
  'question information doctor yesterday everything nothing somebody other something';

/** The words a choice may be framed with (the grammar's lead-in and "please"). */
const LEAD = ['i want', 'i would like', 'i need', 'give me', 'connect me to', 'press'];
/** The prompt: "Say sales or press 1 for sales. …" */
export function menuPrompt(menu = MENU) {
  return menu.map((o) => `For ${o.name}, say ${o.words[0]} or press ${DIGIT_WORDS[/** @type {keyof typeof DIGIT_WORDS} */ (o.key)] ?? o.key}.`).join(' ');
}

/** A JSGF grammar from the menu: an option (its words or its key spoken as a digit), politely framed, or other words. */
export function menuGrammar(menu = MENU) {
  const alts = menu.flatMap((o) => [...o.words, DIGIT_WORDS[/** @type {keyof typeof DIGIT_WORDS} */ (o.key)]]).filter(Boolean);
  return [
    '#JSGF V1.0;',
    '',
    'grammar ivr;',
    '',
    'public <utterance> = [ <lead> ] <choice> [ please ] | <other> +;',
    '',
    `<lead> = ${LEAD.join(' | ')};`,
    '',
    `<choice> = ${[...new Set(alts)].join(' | ')};`,
    '',
    `<other> = ${OTHER_WORDS.split(/\s+/).join(' | ')};`,
    '',
  ].join('\n');
}

/**
 * Which option a transcript chooses, or undefined: it must name exactly one option (its words, or its key as a digit
 * word) and hold nothing but menu words (any out-of-menu word means the caller said something else).
 * @param {string} text
 * @returns {MenuOption | undefined}
 */
export function chooseOption(text, menu = MENU) {
  let said = ` ${String(text)
    .toLowerCase()
    .replace(/[^a-z0-9 ]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()} `;
  const hits = menu.filter((o) => [...o.words, DIGIT_WORDS[/** @type {keyof typeof DIGIT_WORDS} */ (o.key)], o.key].some((w) => w && said.includes(` ${w} `)));
  if (hits.length !== 1) return undefined;
  // Take away every menu phrase (longest first); anything left is not menu speech.
  const known = [...menu.flatMap((o) => [...o.words, DIGIT_WORDS[/** @type {keyof typeof DIGIT_WORDS} */ (o.key)], o.key]), ...LEAD, 'please'];
  for (const w of known.filter(Boolean).sort((a, b) => b.length - a.length)) said = said.replace(new RegExp(`(?<= )${w}(?= )`, 'g'), ' ');
  return said.trim() ? undefined : hits[0];
}

/**
 * The option a key press chooses, or undefined.
 * @param {string} digit
 */
export function optionForKey(digit, menu = MENU) {
  return menu.find((o) => o.key === digit);
}
