/**
 * The load generator's gap meter, fed what the real pacer sends (frames and its notify/clear messages, in order, on a
 * manual clock): the silence between two replies is not a gap inside a reply; a stall inside a reply is.
 */
import t from 'tap';
import { ManualClock } from '../../src/util/clock.js';
import { Ticker } from '../../src/util/ticker.js';
import { Pacer, type PacerSink } from '../../src/egress/pacer.js';
import { ReplyGaps, isReplyBoundary } from '../../bench/reply-gaps.js';

function setup() {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20);
  const gaps = new ReplyGaps(1000);
  /** Pacing intervals as the load generator records them (−1: first frame of a reply). */
  const intervals: number[] = [];
  const sink: PacerSink = {
    bufferedAmount: 0,
    sendFrame: () => void intervals.push(gaps.frame(clock.now())),
    sendText: (text) => {
      if (isReplyBoundary((JSON.parse(text) as { action?: unknown }).action)) gaps.boundary();
    },
  };
  const none = () => undefined;
  const pacer = new Pacer({ frameBytes: 2, leadFrames: 5, capacityFrames: 100, watermarkBytes: 1000 }, sink, ticker, clock, {
    onSegmentStart: none,
    onSegmentPlayed: none,
    onSegmentInterrupted: none,
  });
  const reply = (id: number, frames: number, end = true) => {
    if (id) pacer.beginSegment(id);
    for (let i = 0; i < frames; i++) pacer.enqueue(Buffer.alloc(2));
    if (end) pacer.endSegment();
  };
  return { clock, gaps, intervals, pacer, reply };
}

t.test('the silence between two replies is kept apart; a stall inside a reply is the largest gap', async (t) => {
  const { clock, gaps, intervals, reply } = setup();
  reply(1, 10); // two frames at once, the lead grows a frame a tick: 2, 4, 6, 8, 9, 10, the last at 100 ms, then its notify
  clock.advance(900);
  reply(2, 5, false); // a second reply 800 ms after the first one's last frame: its 5 frames out at 900, 920 and 940 ms…
  clock.advance(300); // …then its audio stalls (a TTS that is late with its next sentence) until 1200 ms
  reply(0, 5);
  clock.advance(500);
  t.equal(gaps.maxBetweenMs, 800, 'between the replies: 800 ms');
  t.equal(gaps.maxGapMs, 260, 'inside a reply: the stall (940 → 1200 ms), not the 800 ms between replies');
  t.equal(gaps.boundaries, 2, 'both notify marks seen');
  t.equal(intervals.filter((d) => d < 0).length, 2, 'each reply starts without a pacing interval');
  t.notOk(
    intervals.some((d) => d === 800),
    'the pause between replies is not a pacing interval',
  );
});

t.test('a clear ends a reply too', async (t) => {
  const { clock, gaps, pacer, reply } = setup();
  reply(1, 50, false);
  clock.advance(100);
  pacer.clear();
  clock.advance(600);
  reply(2, 3);
  clock.advance(100);
  t.equal(gaps.boundaries, 2, 'the clear and the second reply’s notify');
  t.equal(gaps.maxBetweenMs, 600, 'from the last frame before the clear (100 ms) to the next reply (700 ms)');
  t.equal(gaps.maxGapMs, 20, 'inside the replies: the pacing period');
});

t.test('without boundaries (a bare echo server) every interval is inside one stream; the window and reset apply', async (t) => {
  const gaps = new ReplyGaps(200);
  t.equal(gaps.frame(0), -1, 'the first frame has no interval');
  t.equal(gaps.frame(20), 20);
  t.equal(gaps.frame(150), 130);
  t.equal(gaps.frame(450), 300, 'returned, but past the window');
  t.equal(gaps.maxGapMs, 130, 'the largest interval within the window');
  gaps.boundary();
  gaps.boundary();
  t.equal(gaps.boundaries, 1, 'a boundary outside a reply is ignored');
  gaps.reset();
  t.same([gaps.maxGapMs, gaps.maxBetweenMs, gaps.boundaries], [0, 0, 0], 'reset starts a new window');
  t.equal(gaps.frame(1000), -1, 'after a boundary the next frame starts a reply');
  t.equal(gaps.maxBetweenMs, 550);
  t.ok(isReplyBoundary('notify') && isReplyBoundary('clear') && !isReplyBoundary('talk') && !isReplyBoundary(undefined));
});
