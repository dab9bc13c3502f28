/** The streaming sentence splitter and the SSE parser: cases, and properties over arbitrary chunking. */
import t from 'tap';
import fc from 'fast-check';
import { SentenceSplitter, splitSentences } from '../../src/tts/sentences.js';
import { SseParser } from '../../src/bot/sse.js';
import { heardPart } from '../../src/bot/llm-history.js';

t.test('sentences: abbreviations, numbers, questions, initials, quotes', async (t) => {
  const cases: Array<[string, string[]]> = [
    ['Hello there! How are you? Fine.', ['Hello there!', 'How are you?', 'Fine.']],
    ['It costs 3.5 dollars. Or $4.99 with tax.', ['It costs 3.5 dollars.', 'Or $4.99 with tax.']],
    ['Dr. Smith and Mrs. Jones met at St. Mary. Then they left.', ['Dr. Smith and Mrs. Jones met at St. Mary.', 'Then they left.']],
    ['Bring fruit, e.g. apples. Also bread.', ['Bring fruit, e.g. apples.', 'Also bread.']],
    ['J. R. R. Tolkien wrote it. The U.S. Army read it.', ['J. R. R. Tolkien wrote it.', 'The U.S. Army read it.']],
    ['Room No. 5 is free. No. It is not.', ['Room No. 5 is free.', 'No.', 'It is not.']],
    ['Apples, pears, etc. are fruit. We sell them etc. Call us.', ['Apples, pears, etc. are fruit.', 'We sell them etc.', 'Call us.']],
    ['He said "stop." Then he left... Really?! Yes; sure.', ['He said "stop."', 'Then he left...', 'Really?!', 'Yes;', 'sure.']],
    ['Options:\n- one\n- two', ['Options:', '- one', '- two']],
    ['Version 2.0.1 is out', ['Version 2.0.1 is out']],
    ['   ', []],
    ['Hi . . .', ['Hi . . .']],
  ];
  for (const [text, want] of cases) t.same(splitSentences(text), want, JSON.stringify(text));
});

t.test('sentences: a sentence is released only when what follows proves it ended', async (t) => {
  const s = new SentenceSplitter();
  t.same(s.push('The total is 3.'), [], '"3." may be "3.5"');
  t.same(s.push('5'), []);
  t.same(s.push(' euros.'), []);
  t.same(s.push(' '), [], 'whitespace alone is not enough');
  t.same(s.push('Thanks'), ['The total is 3.5 euros.']);
  t.same(s.push(' Dr.'), []);
  t.same(s.push(' Who'), [], 'a title never ends a sentence');
  t.same(s.flush(), ['Thanks Dr. Who']);
  t.same(s.flush(), []);
});

t.test('sentences: long text without punctuation is cut near maxChars at a comma or space', async (t) => {
  const s = new SentenceSplitter(50);
  const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
  const out = [...s.push(words), ...s.flush()];
  t.ok(out.length > 1);
  t.ok(
    out.every((x) => x.length <= 50),
    'every piece within the bound',
  );
  t.equal(out.join(' '), words, 'nothing lost');
});

t.test('property: any chunking of a stream gives the same sentences as the whole text', async () => {
  const token = fc.constantFrom('Hello', ' there', '.', '!', '?', ' Dr', ' 3', '5', ',', ' etc', ' No', ' 7', '\n', ' ', 'A', ' U.S', ' ok', '...');
  fc.assert(
    fc.property(fc.array(token, { maxLength: 60 }), fc.array(fc.nat(), { maxLength: 20 }), (tokens, cuts) => {
      const text = tokens.join('');
      const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
      const s = new SentenceSplitter(80);
      const got: string[] = [];
      let prev = 0;
      for (const p of [...points, text.length]) {
        got.push(...s.push(text.slice(prev, p)));
        prev = p;
      }
      got.push(...s.flush());
      const want = splitSentences(text, 80);
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${JSON.stringify(text)}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
      // No word is lost (only whitespace and stray punctuation may be).
      const words = (x: string) => x.replace(/[^\p{L}\p{N}]/gu, '');
      if (words(got.join('')) !== words(text)) throw new Error(`lost text: ${JSON.stringify(text)} → ${JSON.stringify(got)}`);
    }),
    { numRuns: 500 },
  );
});

t.test('SSE: fields, multi-line data, comments, CR/LF/CRLF, events split anywhere', async (t) => {
  const stream = ': hello\r\ndata: {"a":1}\r\n\r\nevent: error\ndata: line1\ndata: line2\n\ndata:no-space\r\rid: 7\nretry: 10\ndata: [DONE]\n\n';
  const whole = new SseParser().push(stream);
  t.same(whole, [
    { event: 'message', data: '{"a":1}' },
    { event: 'error', data: 'line1\nline2' },
    { event: 'message', data: 'no-space' },
    { event: 'message', data: '[DONE]' },
  ]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const p = new SseParser();
    const got = [...p.push(stream.slice(0, cut)), ...p.push(stream.slice(cut))];
    if (JSON.stringify(got) !== JSON.stringify(whole)) t.fail(`split at ${cut}: ${JSON.stringify(got)}`);
  }
  // Byte by byte too (a CRLF split between chunks must not make an empty line).
  const p = new SseParser();
  const bytes: unknown[] = [];
  for (const ch of stream) bytes.push(...p.push(ch));
  t.same(bytes, whole);
});

t.test('SSE: a line or event past the bound throws instead of growing', async (t) => {
  t.throws(() => new SseParser(100).push('data: ' + 'x'.repeat(200)), { name: 'SseError' });
  const p = new SseParser(100);
  t.throws(
    () => {
      for (let i = 0; i < 10; i++) p.push(`data: ${'y'.repeat(20)}\n`);
    },
    { name: 'SseError' },
    'many data lines in one event',
  );
});

t.test('heard part of an interrupted reply', async (t) => {
  const text = 'Let me tell you a long story.';
  t.equal(heardPart(text, 0, 1000), '');
  t.equal(heardPart(text, 1000, 1000), text);
  t.equal(heardPart(text, 500, 1000), 'Let me tell you');
  t.equal(heardPart(text, 100, 1000), 'Let');
  t.equal(heardPart(text, 10, 0), '');
});
