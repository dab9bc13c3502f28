/** Utterance capture: pre-roll + utterance, copied (not referenced), bounded, checked against a reference model. */
import t from 'tap';
import fc from 'fast-check';
import { UtteranceCapture } from '../../src/call/utterance-capture.js';
import { must } from '../helpers/must.js';

const FB = 320;
const frame = (n: number): Buffer => Buffer.alloc(FB, n & 0xff);

t.test('matches a reference model over random frame/start/finish sequences', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 20, max: 400 }),
      fc.integer({ min: 100, max: 3000 }),
      fc.array(fc.oneof(fc.constant('f' as const), fc.constant('f' as const), fc.constant('s' as const), fc.constant('e' as const)), { maxLength: 400 }),
      (prerollMs, maxMs, ops) => {
        const cap = new UtteranceCapture(prerollMs, maxMs, FB);
        const preN = Math.max(1, Math.round(prerollMs / 20));
        const maxN = Math.round(maxMs / 20);
        let pre: number[] = [];
        let cur: number[] = [];
        let capturing = false;
        let n = 0;
        for (const op of ops) {
          if (op === 'f') {
            n++;
            cap.push(frame(n));
            if (capturing) {
              if (cur.length < maxN) cur.push(n);
            } else {
              pre.push(n);
              if (pre.length > preN) pre.shift();
            }
          } else if (op === 's' && !capturing) {
            cap.start();
            capturing = true;
            cur = pre.slice(0, maxN);
            pre = [];
          } else if (op === 'e' && capturing) {
            const out = Buffer.from(cap.finish(40).buffer);
            capturing = false;
            const want = cur.slice(0, Math.max(0, cur.length - 2));
            if (out.length !== want.length * FB) return false;
            for (let i = 0; i < want.length; i++) if (out[i * FB] !== (must(want[i]) & 0xff) || out[i * FB + FB - 1] !== (must(want[i]) & 0xff)) return false;
            cur = [];
          }
        }
        return true;
      },
    ),
    { numRuns: 500 },
  );
  t.pass('500 random sequences agree with the model');
});

t.test('a pre-roll longer than the maximum is cut to the maximum', async (t) => {
  const cap = new UtteranceCapture(400, 100, FB);
  for (let i = 1; i <= 30; i++) cap.push(frame(i));
  cap.start();
  cap.push(frame(99));
  const out = Buffer.from(cap.finish(0).buffer);
  t.equal(out.length, 5 * FB, 'five frames kept (100 ms)');
  t.equal(out[0], 11, 'oldest kept frame is the first of the 400 ms pre-roll');
});

t.test('frames are copied: reusing the caller’s buffer does not change the capture', async (t) => {
  const cap = new UtteranceCapture(40, 1000, FB);
  const shared = Buffer.alloc(FB, 7);
  cap.push(shared);
  cap.start();
  shared.fill(9);
  cap.push(shared);
  shared.fill(1);
  const out = Buffer.from(cap.finish(0).buffer);
  t.equal(out.length, 2 * FB);
  t.equal(out[0], 7, 'pre-roll frame kept its bytes');
  t.equal(out[FB], 9, 'captured frame kept its bytes');
});

t.test('odd-sized frames are padded or cut to the frame size; clear forgets everything', async (t) => {
  const cap = new UtteranceCapture(20, 1000, FB);
  cap.start();
  cap.push(Buffer.alloc(100, 5));
  cap.push(Buffer.alloc(FB + 50, 6));
  const out = Buffer.from(cap.finish(0).buffer);
  t.equal(out.length, 2 * FB);
  t.equal(out[99], 5);
  t.equal(out[100], 0, 'short frame zero-padded');
  t.equal(out[2 * FB - 1], 6, 'long frame cut');
  cap.push(frame(3));
  cap.clear();
  cap.start();
  t.equal(cap.finish(0).length, 0, 'nothing kept after clear');
});
