/**
 * The worker pool behind the offline TTS: jobs run earliest due first (a reply's first sentence before the next
 * sentences of replies already playing), equal due times in arrival order, and the queue's bounds and aborts hold.
 * Real worker threads (test/fixtures/busy-worker.ts).
 */
import t from 'tap';
import { performance } from 'node:perf_hooks';
import { MAX_DEATHS_IN_A_ROW, PoolError, WorkerPool } from '../../src/util/worker-pool.js';

interface Job {
  tag: string;
  ms: number;
}
const FILE = new URL('../fixtures/busy-worker.js', import.meta.url);

t.test('queued jobs start earliest due first; equal due times keep their order', async (t) => {
  const pool = new WorkerPool<Job, { tag: string }>(FILE, 1, 16);
  t.teardown(() => pool.close());
  const order: string[] = [];
  const run = (tag: string, due?: number) =>
    pool.run({ tag, ms: tag === 'busy' ? 200 : 5 }, undefined, [], due).then((r) => {
      order.push(r.tag);
    });
  const now = performance.now();
  const all = [
    run('busy'), // takes the only worker: everything below queues behind it
    run('next-sentence-late', now + 5000),
    run('next-sentence-soon', now + 2000),
    run('first-a'), // due now
    run('first-b'), // due now, asked after first-a
    run('overdue', now - 1000),
  ];
  await Promise.all(all);
  t.same(order, ['busy', 'overdue', 'first-a', 'first-b', 'next-sentence-soon', 'next-sentence-late']);
});

t.test('a full queue refuses the new job; an aborted queued job leaves the queue', async (t) => {
  const pool = new WorkerPool<Job, { tag: string }>(FILE, 1, 2);
  t.teardown(() => pool.close());
  const busy = pool.run({ tag: 'busy', ms: 150 });
  await new Promise((r) => setTimeout(r, 20)); // the worker has taken it: the queue is empty
  const ctl = new AbortController();
  const a = pool.run({ tag: 'a', ms: 1 }, ctl.signal);
  const b = pool.run({ tag: 'b', ms: 1 });
  await t.rejects(pool.run({ tag: 'c', ms: 1 }), { code: 'POOL_FULL' });
  t.equal(pool.rejectedFull, 1);
  ctl.abort();
  await t.rejects(a, { code: 'ABORTED' });
  t.equal(pool.queued, 1, 'only b waits');
  t.same(await busy, { id: 1, tag: 'busy' });
  t.equal((await b).tag, 'b');
});

t.test('a job that fails rejects with JOB_FAILED and the pool goes on', async (t) => {
  const pool = new WorkerPool<Job, { tag: string }>(FILE, 1, 4);
  t.teardown(() => pool.close());
  const failed = await pool.run({ tag: 'fail', ms: 1 }).catch((e: unknown) => e);
  t.ok(failed instanceof PoolError && failed.code === 'JOB_FAILED');
  t.equal((await pool.run({ tag: 'after', ms: 1 })).tag, 'after');
});

t.test('a worker that crashes on a job: the job rejects with WORKER_FAILED, a new worker takes the next', async (t) => {
  const pool = new WorkerPool<Job, { tag: string }>(FILE, 1, 4);
  t.teardown(() => pool.close());
  for (let i = 0; i < MAX_DEATHS_IN_A_ROW - 1; i++) {
    const e = await pool.run({ tag: 'crash', ms: 0 }).catch((err: unknown) => err);
    t.ok(e instanceof PoolError && e.code === 'WORKER_FAILED', `crash ${i + 1}: WORKER_FAILED`);
  }
  t.equal((await pool.run({ tag: 'after', ms: 1 })).tag, 'after', 'the replacement answers');
  t.equal(pool.respawns, MAX_DEATHS_IN_A_ROW - 1);
  // An answer resets the count: as many crashes again are still replaced at once.
  for (let i = 0; i < MAX_DEATHS_IN_A_ROW - 1; i++) await pool.run({ tag: 'crash', ms: 0 }).catch(() => {});
  t.equal((await pool.run({ tag: 'again', ms: 1 })).tag, 'again');
});

t.test('a worker that cannot start is not replaced in a loop: the pool backs off and refuses jobs meanwhile', async (t) => {
  // A back-off longer than the test, so that no retry comes while it looks.
  const pool = new WorkerPool<Job, { tag: string }>(new URL('../fixtures/broken-worker.js', import.meta.url), 1, 4, { backoffFirstMs: 600000 });
  t.teardown(() => pool.close());
  const first = await pool.run({ tag: 'x', ms: 1 }).catch((e: unknown) => e);
  t.ok(first instanceof PoolError && first.code === 'WORKER_FAILED', 'the job of a worker that died at start: WORKER_FAILED');
  // The worker keeps dying at start: replaced until MAX_DEATHS_IN_A_ROW deaths, then no more.
  for (let i = 0; i < 3000 && !pool.backingOff; i++) await new Promise((r) => setTimeout(r, 10));
  t.ok(pool.backingOff, 'backing off');
  t.equal(pool.respawns, MAX_DEATHS_IN_A_ROW - 1, `after ${MAX_DEATHS_IN_A_ROW - 1} replacements`);
  await new Promise((r) => setTimeout(r, 200));
  t.equal(pool.respawns, MAX_DEATHS_IN_A_ROW - 1, 'and then no more');
  const refused = await pool.run({ tag: 'y', ms: 1 }).catch((e: unknown) => e);
  t.ok(refused instanceof PoolError && refused.code === 'WORKER_FAILED' && /retrying later/.test(refused.message), 'refused while backing off');
});
