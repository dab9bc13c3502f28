/**
 * The built-in end-of-turn heuristic: phrases that read complete score at or above the threshold, phrases that read
 * unfinished (a trailing conjunction, preposition, article, filler, a half-said number) below it.
 */
import t from 'tap';
import { completeness, lastWord } from '../../src/turn-detect/heuristic.js';
import { COMPLETE_THRESHOLD } from '../../src/turn-detect/types.js';

const COMPLETE = [
  'I would like to book a table for four people',
  'yes',
  'no',
  'thank you',
  'I think so',
  'turn it on',
  'yes I can',
  'it costs twenty five',
  'my number is 42',
  'What time do you open?',
  'go forward ten meters',
  'eight of spades',
  "That's all.",
  '',
];
const UNFINISHED = [
  "I'd like to book a table for",
  'I want to go to the cinema and',
  'I need a taxi but',
  'send it to',
  'give me the',
  'I want a',
  'um',
  'so I was thinking uh',
  'it costs twenty',
  'the total is two hundred',
  'it is 30',
  'about 300',
  'three point',
  'I was going to say,',
  "I'd",
  'I want',
  'And...',
  'BOOK A TABLE FOR',
  'book a table for\u2026',
];

for (const p of COMPLETE) t.ok(completeness(p) >= COMPLETE_THRESHOLD, `complete: ${JSON.stringify(p)} (${completeness(p)})`);
for (const p of UNFINISHED) t.ok(completeness(p) < COMPLETE_THRESHOLD, `unfinished: ${JSON.stringify(p)} (${completeness(p)})`);

t.test('the last word ignores punctuation and case, keeps apostrophes', async (t) => {
  t.equal(lastWord('Book a table FOR...'), 'for');
  t.equal(lastWord('I\u2019d'), "i'd");
  t.equal(lastWord('  '), '');
  t.equal(lastWord('costs 20?'), '20');
});

t.test('a sentence end from a cloud ASR scores higher than bare text, a trailing comma lower', async (t) => {
  t.ok(completeness('I want pizza.') > completeness('I want pizza'));
  t.ok(completeness('I want pizza,') < COMPLETE_THRESHOLD);
});
