/** The target's late-tick diagnosis: a late interval that held a real GC pause is attributed to it; the window resets. */
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { existsSync } from 'node:fs';
import { TailDiag } from '../../bench/tail-diag.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

t.test('a late tick holding a forced GC counts as late with GC; on-time ticks do not', async (t) => {
  const d = new TailDiag();
  t.teardown(() => d.close());
  // Live objects, so that a full GC takes some milliseconds to mark them.
  const keep = Array.from({ length: 400000 }, (_, i) => ({ i, s: String(i) }));
  // Tick times are the ticker's (the diagnosis takes them as given): two on time, then one late across the GC.
  const a = performance.now();
  d.onTick(a - 40);
  d.onTick(a - 20);
  d.onTick(a);
  gc();
  d.onTick(Math.max(performance.now(), a + 30));
  await new Promise((r) => setTimeout(r, 50)); // GC entries are delivered after the pause
  const r = d.report();
  t.equal(keep.length, 400000);
  t.equal(r.all.ticks, 3, 'three intervals');
  t.equal(r.late.ticks, 1, 'one of them late');
  t.equal(r.lateWithGc, 1, 'the late one held the GC pause');
  t.ok((r.gc.major?.count ?? 0) >= 1, `the forced GC is a major one (${JSON.stringify(r.gc)})`);
  t.equal(r.worst.length, 1);
  t.match(r.worst[0]?.gc, /major/);
  if (existsSync('/proc/thread-self/schedstat')) {
    t.ok(r.late.runMs > 0, 'the main thread ran during the late interval (scheduler accounting read)');
    t.ok(r.threads.main?.threads === 1, 'the event loop thread is reported as main');
  }
  const next = d.report();
  t.same([next.all.ticks, next.late.ticks, Object.keys(next.gc).length], [0, 0, 0], 'a new window starts empty');
});
