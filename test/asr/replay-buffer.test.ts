/** Replay buffer: a model-based property test (fast-check) plus the edge cases restarts rely on. */
import t from 'tap';
import fc from 'fast-check';
import { ReplayBuffer } from '../../src/asr/replay-buffer.js';
import { must } from '../helpers/must.js';

/** A chunk of `n` bytes whose values encode their absolute position, so any reorder or duplicate shows. */
function chunkAt(pos: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (pos + i) % 251;
  return b;
}

t.test('matches a flat-array model under any sequence of appends and acks', async (t) => {
  type Op = { kind: 'append'; n: number } | { kind: 'ack'; at: number } | { kind: 'from'; at: number } | { kind: 'copy'; a: number; b: number };
  const op = fc.oneof(
    fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 0, max: 40 }).map((x) => x * 2) }),
    fc.record({ kind: fc.constant('ack' as const), at: fc.integer({ min: -10, max: 4000 }) }),
    fc.record({ kind: fc.constant('from' as const), at: fc.integer({ min: -10, max: 4000 }) }),
    fc.record({ kind: fc.constant('copy' as const), a: fc.integer({ min: 0, max: 4000 }), b: fc.integer({ min: 0, max: 4000 }) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.array(op, { maxLength: 200 }), (maxMs, ops: Op[]) => {
      // 8 kHz: 16 bytes per ms.
      const rb = new ReplayBuffer(8000, maxMs);
      const cap = rb.maxBytes;
      let modelStart = 0;
      let modelEnd = 0;
      let dropped = 0;
      const all: number[] = [];
      for (const o of ops) {
        if (o.kind === 'append') {
          rb.append(chunkAt(modelEnd, o.n));
          for (let i = 0; i < o.n; i++) all.push((modelEnd + i) % 251);
          modelEnd += o.n;
          if (modelEnd - modelStart > cap) {
            dropped += modelEnd - modelStart - cap;
            modelStart = modelEnd - cap;
          }
        } else if (o.kind === 'ack') {
          const b = Math.min(o.at - (o.at & 1), modelEnd);
          if (b > modelStart) modelStart = b;
          rb.ack(o.at);
        } else if (o.kind === 'from') {
          const got = Buffer.concat(rb.from(o.at));
          const from = Math.min(Math.max(o.at, modelStart), modelEnd);
          if (!got.equals(Buffer.from(all.slice(from, modelEnd)))) return false;
        } else {
          const a = Math.max(o.a, modelStart);
          const b = Math.min(o.b, modelEnd);
          const want = b > a ? Buffer.from(all.slice(a, b)) : Buffer.alloc(0);
          if (!rb.copy(o.a, o.b).equals(want)) return false;
        }
        if (rb.start !== modelStart || rb.end !== modelEnd || rb.size !== modelEnd - modelStart) return false;
        if (rb.droppedBytes !== dropped) return false;
        if (!Buffer.concat(rb.pending()).equals(Buffer.from(all.slice(modelStart, modelEnd)))) return false;
        if (rb.start % 2 !== 0) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('model holds');
});

t.test('positions and conversions at each leg rate', async (t) => {
  for (const [rate, perMs] of [
    [8000, 16],
    [16000, 32],
    [24000, 48],
  ] as const) {
    const rb = new ReplayBuffer(rate, 1000);
    t.equal(rb.bytesPerMs, perMs);
    t.equal(rb.maxBytes, 1000 * perMs);
    t.equal(rb.msToByte(20), 20 * perMs, `${rate}: 20 ms`);
    t.equal(rb.byteToMs(20 * perMs), 20);
    t.equal(rb.msToByte(0.03) % 2, 0, 'always a whole sample');
  }
  t.throws(() => new ReplayBuffer(0, 10));
});

t.test('ack past the end clamps; ack behind start changes nothing; drops are counted only for unacknowledged audio', async (t) => {
  const rb = new ReplayBuffer(16000, 100); // 3200 bytes
  for (let i = 0; i < 5; i++) rb.append(chunkAt(i * 640, 640));
  t.equal(rb.start, 0);
  t.equal(rb.end, 3200);
  rb.ack(1000);
  t.equal(rb.start, 1000, 'mid-chunk ack');
  t.equal(Buffer.concat(rb.pending()).length, 2200);
  t.same(must(rb.pending()[0])[0], 1000 % 251, 'first kept byte is byte 1000');
  rb.ack(500);
  t.equal(rb.start, 1000, 'ack behind start is ignored');
  rb.ack(99999);
  t.equal(rb.start, 3200, 'ack past the end clamps');
  t.same(rb.pending(), []);
  t.equal(rb.droppedBytes, 0, 'acknowledged audio is not a drop');
  for (let i = 5; i < 11; i++) rb.append(chunkAt(i * 640, 640));
  t.equal(rb.droppedBytes, 640, 'one frame over capacity dropped');
  t.equal(rb.start, 7040 - 3200);
  t.equal(Buffer.concat(rb.pending()).equals(rb.copy()), true);
});

t.test('long runs stay bounded (array compaction)', async (t) => {
  const rb = new ReplayBuffer(8000, 200);
  for (let i = 0; i < 100000; i++) {
    rb.append(chunkAt(i * 320, 320));
    if (i % 7 === 0) rb.ack(rb.end - 320 * 3);
  }
  t.ok(rb.pending().length <= 11, 'at most capacity worth of chunks kept');
  t.ok((rb as unknown as { chunks: Buffer[] }).chunks.length < 200, 'backing array compacted');
  t.equal(rb.end, 100000 * 320);
});
