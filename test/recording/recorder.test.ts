/**
 * The recorder's time model and bounds, on a manual clock with an in-memory disk whose writes complete only when the
 * test says so: both sides aligned on the 20 ms slots, silence where a side has nothing, a slow disk drops whole
 * blocks (counted) without ever blocking the caller, and the header is valid after every block.
 */
import t from 'tap';
import { CallRecorder } from '../../src/recording/recorder.js';
import type { RecordingIo } from '../../src/recording/block-writer.js';
import { readWav } from '../../src/audio/wav.js';

const FB = 320; // 8 kHz

/** An in-memory file; writes complete when `release()` is called (or at once when `auto`). */
class MemDisk implements RecordingIo {
  file = Buffer.alloc(0);
  pending: Array<() => void> = [];
  auto = true;
  failNext = false;
  closed = false;
  write(_fd: number, buf: Buffer, offset: number, length: number, position: number, cb: (err: Error | null) => void): void {
    const data = Buffer.from(buf.subarray(offset, offset + length)); // what the kernel would copy at write time
    const run = () => {
      if (this.failNext) {
        this.failNext = false;
        return cb(new Error('ENOSPC'));
      }
      if (this.file.length < position + length) this.file = Buffer.concat([this.file, Buffer.alloc(position + length - this.file.length)]);
      data.copy(this.file, position);
      cb(null);
    };
    if (this.auto) queueMicrotask(run);
    else this.pending.push(run);
  }
  close(_fd: number, cb: (err: Error | null) => void): void {
    this.closed = true;
    queueMicrotask(() => cb(null));
  }
  /** Complete the pending writes, and those they trigger (the header patch after each block). */
  async release(): Promise<void> {
    while (this.pending.length) {
      this.pending.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
  }
}

function frame(value: number): Buffer {
  const f = Buffer.alloc(FB);
  for (let i = 0; i < FB; i += 2) f.writeInt16LE(value, i);
  return f;
}

/** Left and right sample values at the start of each slot. */
function slots(file: Buffer): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let off = 44; off + FB * 2 <= file.length; off += FB * 2) out.push([file.readInt16LE(off), file.readInt16LE(off + 2)]);
  return out;
}

const flush = () => new Promise((r) => setImmediate(r));

t.test('both sides on the shared slots; silence where a side has nothing; bursts laid out one per slot', async (t) => {
  const disk = new MemDisk();
  const rec = new CallRecorder({ sampleRateHz: 8000, frameBytes: FB, blockFrames: 10, io: disk });
  rec.writer.attach(3);
  rec.pushIn(frame(1)); // slot 0
  rec.tick(1);
  rec.pushIn(frame(2)); // slot 1
  rec.tick(1);
  rec.tick(1); // slot 2: caller silent (but within the slack: the next frame continues at slot 2)
  rec.pushIn(frame(3)); // slot 2
  rec.pushOut(frame(10)); // the pacer's lead: 3 frames at once → slots 3, 4, 5
  rec.pushOut(frame(11));
  rec.pushOut(frame(12));
  for (let i = 0; i < 10; i++) rec.tick(1); // now slot 13: caller silent for longer than the slack
  rec.pushIn(frame(4)); // rejoins the clock at slot 13
  rec.tick(1);
  await rec.end();
  const s = slots(disk.file);
  t.equal(s.length, 14, 'the recording lasts as long as the clock ran');
  t.same(s.slice(0, 6), [
    [1, 0],
    [2, 0],
    [3, 0],
    [0, 10],
    [0, 11],
    [0, 12],
  ]);
  t.same(s[13], [4, 0], 'after a long silence the caller rejoins the current slot');
  t.ok(
    s.slice(6, 13).every(([l, r]) => l === 0 && r === 0),
    'silence in between',
  );
  const w = readWav(disk.file);
  t.equal(w.channels, 2);
  t.equal(disk.file.readUInt32LE(40), disk.file.length - 44, 'final header matches');
  t.ok(disk.closed, 'fd closed');
  t.same(rec.stats, { framesIn: 4, framesOut: 3, framesDropped: 0, blocksDropped: 0, bytesDropped: 0 });
});

t.test('the header is valid after every block', async (t) => {
  const disk = new MemDisk();
  const rec = new CallRecorder({ sampleRateHz: 8000, frameBytes: FB, blockFrames: 10, slackFrames: 2, io: disk });
  rec.writer.attach(3);
  await flush();
  t.equal(disk.file.length, 44, 'an empty but valid WAV from the moment the file opens');
  t.equal(disk.file.readUInt32LE(40), 0);
  for (let slot = 0; slot < 35; slot++) {
    rec.pushIn(frame(slot + 1));
    rec.tick(1);
    await flush();
    await flush();
    const data = disk.file.readUInt32LE(40);
    t.equal(data, disk.file.length - 44, `slot ${slot}: header = file`);
  }
  t.equal(disk.file.readUInt32LE(40), 3 * 10 * FB * 2, 'three whole blocks written while the call is live');
  await rec.end();
  t.equal(disk.file.readUInt32LE(40), 35 * FB * 2);
});

t.test('a disk that falls behind: whole blocks dropped and counted, the caller never waits, the timeline is kept', async (t) => {
  const disk = new MemDisk();
  disk.auto = false; // nothing completes until release()
  const rec = new CallRecorder({ sampleRateHz: 8000, frameBytes: FB, blockFrames: 10, queueBlocks: 2, windowBlocks: 2, slackFrames: 0, io: disk });
  rec.writer.attach(3);
  for (let slot = 0; slot < 80; slot++) {
    rec.pushIn(frame(slot + 1)); // returns at once even though the disk is stuck
    rec.pushOut(frame(-(slot + 1)));
    rec.tick(1);
  }
  t.ok(rec.stats.blocksDropped > 0, `blocks dropped: ${rec.stats.blocksDropped}`);
  t.ok(rec.buffers <= 4, `memory stays bounded: ${rec.buffers} block buffers`);
  rec.pushIn(frame(99)); // a last frame after the stuck period, in a block that is still accumulating
  t.equal(rec.stats.bytesDropped, rec.stats.blocksDropped * 10 * FB * 2 + rec.stats.framesDropped * FB);
  disk.auto = true;
  await disk.release();
  await rec.end();
  const s = slots(disk.file);
  t.equal(s.length, 81, 'dropped blocks read back as silence: the file still spans the whole call');
  t.same(s[80], [99, 0], 'the frame given after the stuck period is there');
  t.same(s[0], [1, -1], 'blocks written before the queue filled are there');
  t.equal(s.filter(([l, r]) => l === 0 && r === 0).length, rec.stats.blocksDropped * 10, 'exactly the dropped blocks are silent');
  t.equal(disk.file.readUInt32LE(40), disk.file.length - 44);
});

t.test('frames far ahead of the clock are dropped and counted; a write error ends writing but not the call', async (t) => {
  const disk = new MemDisk();
  const rec = new CallRecorder({ sampleRateHz: 8000, frameBytes: FB, blockFrames: 10, windowBlocks: 2, io: disk });
  rec.writer.attach(3);
  for (let i = 0; i < 30; i++) rec.pushIn(frame(1)); // 30 frames in one instant: 20 fit in the window
  t.equal(rec.stats.framesIn, 20);
  t.equal(rec.stats.framesDropped, 10);
  rec.pushIn(Buffer.alloc(7)); // not a frame of this leg
  t.equal(rec.stats.framesDropped, 11);
  disk.failNext = true;
  for (let i = 0; i < 40; i++) rec.tick(1);
  await flush();
  await flush();
  t.match(rec.writer.error?.message, /ENOSPC/);
  rec.pushIn(frame(5)); // the call goes on
  await rec.end();
  t.ok(disk.closed, 'the fd is still closed after a write error');
});

t.test('a side ahead of the clock that pauses is never written back over (regression: lost frames under load)', async (t) => {
  const disk = new MemDisk();
  const rec = new CallRecorder({ sampleRateHz: 8000, frameBytes: FB, blockFrames: 10, io: disk });
  rec.writer.attach(3);
  for (let i = 1; i <= 5; i++) rec.pushOut(frame(i)); // the pacer's lead: slots 0–4
  rec.tick(4); // the loop stalled: 4 periods at once, longer than the slack since this side's last frame
  rec.pushOut(frame(6)); // still ahead of the clock (slot 5 > now 4): continues, does not overwrite slot 4
  rec.tick(10);
  await rec.end();
  t.same(
    slots(disk.file)
      .slice(0, 7)
      .map(([, r]) => r),
    [1, 2, 3, 4, 5, 6, 0],
  );
  t.equal(rec.stats.framesOut, 6);
});
