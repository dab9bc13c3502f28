/** The shared drift-corrected clock on a manual clock. */
import t from 'tap';
import { ManualClock } from '../../src/util/clock.js';
import { Ticker } from '../../src/util/ticker.js';

t.test('ticks on the period grid whatever the step sizes; late ticks report several periods', async (t) => {
  const clock = new ManualClock(1000);
  const ticker = new Ticker(clock, 20);
  let periods = 0;
  let calls = 0;
  const l = { onTick: (_now: number, p: number) => ((periods += p), calls++) };
  ticker.add(l);
  for (const step of [7, 13, 1, 19, 40, 3, 17, 100, 0, 20]) clock.advance(step);
  t.equal(periods, Math.floor(220 / 20), 'periods delivered = elapsed / period exactly');
  t.equal(calls, periods, 'the manual clock fires every due timer, so no period is merged here');
  ticker.delete(l);
  t.equal(clock.pending, 0, 'no timer when no listener');
});

t.test('a stalled loop: one late fire reports the missed periods and counts a late tick', async (t) => {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20);
  const got: number[] = [];
  ticker.add({ onTick: (_n, p) => got.push(p) });
  clock.advance(20);
  (clock as unknown as { timers: Array<{ at: number }> }).timers[0].at += 50; // the event loop stalls 50 ms
  clock.advance(100);
  t.same(got.slice(0, 2), [1, 3], 'the late tick carries three periods');
  t.equal(ticker.stats.lateTicks, 1);
  t.ok(ticker.stats.maxLatenessMs >= 50);
  const total = got.reduce((a, b) => a + b, 0);
  t.equal(total, 6, 'no period lost over 120 ms');
  ticker.close();
});

t.test('a throwing listener is counted and does not stop the others', async (t) => {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20);
  let ok = 0;
  const errors: unknown[] = [];
  ticker.onListenerError = (e) => errors.push(e);
  ticker.add({ onTick: () => { throw new Error('boom'); } });
  ticker.add({ onTick: () => ok++ });
  clock.advance(60);
  t.equal(ok, 3);
  t.equal(ticker.stats.listenerErrors, 3);
  t.equal(errors.length, 3);
  ticker.close();
  t.equal(clock.pending, 0);
});
