/** The shared drift-corrected clock on a manual clock. */
import t from 'tap';
import { ManualClock } from '../../src/util/clock.js';
import { Ticker } from '../../src/util/ticker.js';
import { must } from '../helpers/must.js';

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
  must((clock as unknown as { timers: Array<{ at: number }> }).timers[0]).at += 50; // the event loop stalls 50 ms
  clock.advance(100);
  t.same(got.slice(0, 2), [1, 3], 'the late tick carries three periods');
  t.equal(ticker.stats.lateTicks, 1);
  t.ok(ticker.stats.maxLatenessMs >= 50);
  const total = got.reduce((a, b) => a + b, 0);
  t.equal(total, 6, 'no period lost over 120 ms');
  ticker.close();
});

t.test('a listener that throws now and then is counted, reported once, and does not stop the others', async (t) => {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20);
  let ok = 0;
  let n = 0;
  const errors: unknown[] = [];
  const removed: unknown[] = [];
  ticker.onListenerError = (e) => errors.push(e);
  ticker.onListenerRemoved = (l) => removed.push(l);
  // Throws on two ticks in a row, then works, then throws twice again: never 3 in a row, so it stays.
  const flaky = {
    onTick: () => {
      n++;
      if (n % 3 !== 0) throw new Error(`boom ${n}`);
    },
  };
  ticker.add(flaky);
  ticker.add({ onTick: () => ok++ });
  clock.advance(20 * 9);
  t.equal(ok, 9, 'the other listener ticked every time');
  t.equal(ticker.stats.listenerErrors, 6, 'every error counted');
  t.equal(errors.length, 1, 'reported once for the listener, not once per error');
  t.equal((errors[0] as Error).message, 'boom 1', 'with its first error');
  t.equal(removed.length, 0);
  t.ok(ticker.has(flaky), 'still registered');
  ticker.close();
  t.equal(clock.pending, 0);
});

t.test('a listener that keeps throwing is removed after 3 ticks, reported once, its owner told once', async (t) => {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20);
  let ok = 0;
  let calls = 0;
  const errors: unknown[] = [];
  const removed: Array<[unknown, unknown]> = [];
  ticker.onListenerError = (e) => errors.push(e);
  ticker.onListenerRemoved = (l, e) => removed.push([l, e]);
  const bad = {
    onTick: () => {
      calls++;
      throw new Error(`boom ${calls}`);
    },
  };
  const good = { onTick: () => ok++ };
  ticker.add(bad);
  ticker.add(good);
  clock.advance(20 * 50); // one second of ticks
  t.equal(calls, 3, 'called on 3 ticks, then never again');
  t.equal(ticker.stats.listenerErrors, 3);
  t.equal(ticker.stats.listenersRemoved, 1);
  t.equal(removed.length, 1, 'onListenerRemoved once');
  t.equal(must(removed[0])[0], bad, 'with the listener');
  t.equal((must(removed[0])[1] as Error).message, 'boom 1', 'and its first error');
  t.equal(errors.length, 0, 'onListenerError not called: the removal is the one report');
  t.notOk(ticker.has(bad));
  t.equal(ok, 50, 'the other listener never missed a tick');
  ticker.delete(bad); // the owner closing it afterwards is harmless
  ticker.delete(good);
  t.equal(clock.pending, 0, 'no timer once the last listener is gone');
});

t.test('the removal handler may close the listener and throw: the ticker goes on', async (t) => {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20, 2);
  let ok = 0;
  const bad = {
    onTick: () => {
      throw new Error('boom');
    },
  };
  ticker.onListenerRemoved = (l) => {
    ticker.delete(l);
    throw new Error('handler failed too');
  };
  ticker.add(bad);
  ticker.add({ onTick: () => ok++ });
  clock.advance(100);
  t.equal(ticker.stats.listenersRemoved, 1, 'removed after 2 ticks (maxConsecutiveErrors = 2)');
  t.equal(ok, 5);
  ticker.close();
});

t.test('a listener deleted in the middle of a run of errors is reported once', async (t) => {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20);
  const errors: unknown[] = [];
  ticker.onListenerError = (e) => errors.push(e);
  const bad = {
    onTick: () => {
      throw new Error('boom');
    },
  };
  ticker.add(bad);
  clock.advance(20);
  t.equal(errors.length, 0, 'not yet: it may recover or be removed');
  ticker.delete(bad);
  t.equal(errors.length, 1, 'reported when its owner deleted it');
});

t.test('listeners added with `first` tick before the others each tick, whenever they were added; both kinds leave', async (t) => {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20);
  const order: string[] = [];
  const l = (name: string) => ({ onTick: () => void order.push(name) });
  const a = l('a');
  const b = l('b');
  const p = l('p');
  const q = l('q');
  ticker.add(a);
  ticker.add(b);
  ticker.add(p, true); // a pacer that starts after the calls
  clock.advance(20);
  t.same(order, ['p', 'a', 'b'], 'the first lane ticks ahead of listeners added before it');
  ticker.add(q, true);
  ticker.delete(p);
  ticker.add(p, true); // leaves and comes back: behind q in its lane, still ahead of a and b
  order.length = 0;
  clock.advance(20);
  t.same(order, ['q', 'p', 'a', 'b']);
  t.equal(ticker.size, 4);
  t.ok(ticker.has(q) && ticker.has(a));
  ticker.add(q); // adding again (either lane) is harmless
  t.equal(ticker.size, 4);
  for (const x of [a, b, p, q]) ticker.delete(x);
  t.equal(ticker.size, 0);
  t.equal(clock.pending, 0, 'no timer once both lanes are empty');
});

t.test('a first-lane listener that keeps throwing is removed like any other', async (t) => {
  const clock = new ManualClock();
  const ticker = new Ticker(clock, 20);
  const removed: unknown[] = [];
  ticker.onListenerRemoved = (_l, err) => removed.push(err);
  const bad = {
    onTick: () => {
      throw new Error('pacer bug');
    },
  };
  let ok = 0;
  ticker.add(bad, true);
  ticker.add({ onTick: () => void ok++ });
  clock.advance(100);
  t.equal(removed.length, 1);
  t.notOk(ticker.has(bad));
  t.equal(ok, 5, 'the other listener ticked every period');
});
