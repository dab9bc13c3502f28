/** Re-framing: property tests (fast-check) over arbitrary chunkings. */
import t from 'tap';
import fc from 'fast-check';
import { Reframer } from '../../src/audio/reframer.js';
import { must } from '../helpers/must.js';

for (const sinkCopies of [false, true])
  t.test(`any chunking of any even-length stream yields exact frames equal to the stream, padded (sinkCopies: ${sinkCopies})`, async (t) => {
    fc.assert(
      fc.property(
        fc.constantFrom(320, 640, 960),
        fc.uint8Array({ minLength: 0, maxLength: 3000, size: 'max' }).map((a) => a.subarray(0, a.length - (a.length % 2))),
        fc.array(fc.integer({ min: 1, max: 2000 }), { minLength: 1, maxLength: 50, size: 'medium' }),
        (fb, bytes, cuts) => {
          const frames: Buffer[] = [];
          // A copying sink takes its copy during onFrame, as the pacer does (frames are views valid only then).
          const rf = new Reframer(fb, { onFrame: (f) => frames.push(sinkCopies ? Buffer.from(f) : f) }, sinkCopies);
          let off = 0;
          let i = 0;
          while (off < bytes.length) {
            const n = must(cuts[i++ % cuts.length]);
            rf.push(Buffer.from(bytes.subarray(off, off + n)));
            off += n;
          }
          rf.flush();
          if (!frames.every((f) => f.length === fb)) return false;
          const all = Buffer.concat(frames);
          const padded = Buffer.alloc(Math.ceil(bytes.length / fb) * fb);
          Buffer.from(bytes).copy(padded);
          return all.equals(padded);
        },
      ),
      { numRuns: 500, endOnFailure: true }, // no shrinking: large counterexamples shrink for minutes
    );
    t.pass('500 random streams and chunkings');
  });

t.test('aligned frames pass through by identity; re-assembly is counted', async (t) => {
  const out: Buffer[] = [];
  const rf = new Reframer(640, { onFrame: (f) => out.push(f) });
  const a = Buffer.alloc(640, 1);
  rf.push(a);
  t.equal(out[0], a, 'same Buffer object');
  t.equal(rf.reassembled, 0);
  rf.push(Buffer.alloc(600));
  rf.push(Buffer.alloc(680));
  t.equal(rf.reassembled, 2);
  t.equal(out.length, 3);
  t.equal(rf.pendingBytes, 0);
  t.throws(() => new Reframer(641, { onFrame: () => {} }), RangeError);
});
