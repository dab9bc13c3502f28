/**
 * AdmissionQueue (src/leg/admission.ts): admission work runs at once while the current turn of the event loop has
 * budget, the rest waits for later turns, in order, and the timers (the pacer's tick) run between two slices.
 * Nothing here asserts a duration: each job spins for a fixed time, and the assertions are about what ran before what.
 */
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { AdmissionQueue } from '../../src/leg/admission.js';

const spin = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};
const immediate = () => new Promise<void>((r) => setImmediate(r));

t.test('budget 0: every job runs at once, nothing waits', async (t) => {
  const q = new AdmissionQueue(0, (err) => t.fail(String(err)));
  const ran: number[] = [];
  for (let i = 0; i < 20; i++)
    t.equal(
      q.run(() => (spin(1), ran.push(i))),
      false,
    );
  t.same(ran, [...Array(20).keys()]);
  t.equal(q.queued, 0);
});

t.test('a burst beyond the budget: the first jobs run at once, the rest in later turns, in order; a timer runs between', async (t) => {
  const q = new AdmissionQueue(3, (err) => t.fail(String(err)));
  const ran: number[] = [];
  let doneWhenTimerFired = -1;
  setTimeout(() => (doneWhenTimerFired = ran.length), 0);
  let waited = 0;
  for (let i = 0; i < 20; i++) if (q.run(() => (spin(1), ran.push(i)))) waited++;
  const atOnce = ran.length;
  t.ok(atOnce >= 1 && atOnce <= 4, `the slice's budget (3 ms) ran ${atOnce} jobs of 1 ms at once`);
  t.equal(waited, 20 - atOnce, 'the others were queued (and said so)');
  t.equal(q.queued, waited);
  while (ran.length < 20) await new Promise((r) => setTimeout(r, 1));
  t.same(ran, [...Array(20).keys()], 'every job ran once, first come first served');
  t.ok(doneWhenTimerFired >= atOnce && doneWhenTimerFired < 20, `the due timer ran after ${doneWhenTimerFired} of 20 jobs, not after all`);
  t.equal(q.queued, 0);
});

t.test('each later turn spends one slice: a job arriving while others wait queues behind them', async (t) => {
  const q = new AdmissionQueue(2, (err) => t.fail(String(err)));
  const ran: string[] = [];
  for (let i = 0; i < 10; i++) q.run(() => (spin(1), ran.push(`a${i}`)));
  const first = ran.length;
  await immediate(); // the turn that closes the first slice
  t.ok(q.queued > 0, 'still waiting after the first slice');
  t.equal(
    q.run(() => ran.push('late')),
    true,
    'a newcomer waits behind those already waiting',
  );
  while (q.queued > 0) await immediate();
  t.equal(ran.at(-1), 'late', 'and runs last');
  t.equal(ran.length, 11);
  t.ok(first < 10);
});

t.test('a job that throws is reported; the queue goes on', async (t) => {
  const errors: unknown[] = [];
  const q = new AdmissionQueue(1, (err) => errors.push(err));
  const ran: number[] = [];
  for (let i = 0; i < 8; i++)
    q.run(() => {
      spin(1);
      ran.push(i);
      if (i % 3 === 0) throw new Error(`job ${i}`);
    });
  while (q.queued > 0) await immediate();
  t.same(ran, [...Array(8).keys()]);
  t.same(
    errors.map((e) => (e as Error).message),
    ['job 0', 'job 3', 'job 6'],
  );
});

t.test('close: waiting jobs are dropped (their drop runs, never the job); later ones are dropped at once', async (t) => {
  const q = new AdmissionQueue(1, (err) => t.fail(String(err)));
  const ran: number[] = [];
  const dropped: number[] = [];
  for (let i = 0; i < 10; i++)
    q.run(
      () => (spin(1), ran.push(i)),
      () => dropped.push(i),
    );
  const atOnce = ran.length;
  q.close();
  t.equal(q.queued, 0);
  t.same(dropped, [...Array(10).keys()].slice(atOnce), 'every waiting job dropped, in order');
  t.equal(
    q.run(
      () => ran.push(99),
      () => dropped.push(99),
    ),
    false,
  );
  for (let i = 0; i < 5; i++) await immediate();
  t.equal(ran.length, atOnce, 'no dropped job ran');
  t.equal(dropped.at(-1), 99);
});
