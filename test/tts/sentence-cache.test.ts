/**
 * The sentence cache on its own: kept results, joined syntheses, the byte bound (least recently used out, oversized
 * entries not kept), and aborts (a waiter that leaves does not take the result from the others; the synthesis is
 * aborted only when every waiter has left).
 */
import t from 'tap';
import { CacheWaitAborted, SentenceCache } from '../../src/tts/sentence-cache.js';

/** A synthesis the test settles by hand; records whether its signal aborted. */
function deferred() {
  let resolve!: (v: Uint8Array) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<Uint8Array>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const never = new AbortController().signal;
const cacheOf = (max: number) => new SentenceCache<Uint8Array>(max, (v) => v.byteLength);

t.test('a finished sentence is answered from the cache; a sentence under way is joined', async (t) => {
  const c = cacheOf(1000);
  let made = 0;
  const d = deferred();
  const make = () => {
    made++;
    return d.promise;
  };
  const a = c.get('hello', make, never);
  const b = c.get('hello', make, never);
  d.resolve(new Uint8Array(10));
  t.equal(await a, await b, 'both waiters get the one result');
  t.equal((await c.get('hello', make, never)).byteLength, 10);
  t.equal(made, 1, 'synthesised once');
  t.match(c.stats(), { misses: 1, joined: 1, hits: 1, entries: 1, bytes: 10 });
});

t.test('the byte bound: least recently used out; an entry over a quarter of the bound is not kept', async (t) => {
  const c = cacheOf(100);
  const put = (k: string, n: number) => c.get(k, () => Promise.resolve(new Uint8Array(n)), never);
  await put('a', 25);
  await put('b', 25);
  await put('c', 25);
  await put('a', 25); // a used again: b is now the oldest
  await put('d', 25);
  await put('e', 25); // 125 bytes: b goes
  t.match(c.stats(), { entries: 4, bytes: 100 });
  let made = 0;
  await c.get('b', () => (made++, Promise.resolve(new Uint8Array(25))), never);
  t.equal(made, 1, 'b was evicted');
  await c.get('a', () => (made++, Promise.resolve(new Uint8Array(25))), never);
  t.equal(made, 1, 'a was kept (recently used)');
  await put('big', 26);
  t.notOk(c.stats().bytes > 100, 'never over the bound');
  await c.get('big', () => (made++, Promise.resolve(new Uint8Array(26))), never);
  t.equal(made, 2, 'an oversized entry is not kept');
});

t.test('a waiter that aborts leaves alone; the synthesis is aborted when the last one leaves', async (t) => {
  const c = cacheOf(1000);
  const d = deferred();
  let signalOfMake: AbortSignal | undefined;
  const make = (s: AbortSignal) => {
    signalOfMake = s;
    s.addEventListener('abort', () => d.reject(new Error('aborted in the pool')));
    return d.promise;
  };
  const one = new AbortController();
  const two = new AbortController();
  const a = c.get('x', make, one.signal);
  const b = c.get('x', make, two.signal);
  one.abort();
  await t.rejects(a, CacheWaitAborted);
  t.equal(signalOfMake?.aborted, false, 'still wanted by the second caller');
  d.resolve(new Uint8Array(4));
  t.equal((await b).byteLength, 4, 'the second caller gets its audio');

  const e = deferred();
  const three = new AbortController();
  let aborted = false;
  const p = c.get(
    'y',
    (s) => {
      s.addEventListener('abort', () => ((aborted = true), e.reject(new Error('aborted in the pool'))));
      return e.promise;
    },
    three.signal,
  );
  three.abort();
  await t.rejects(p, CacheWaitAborted);
  t.ok(aborted, 'nobody waits: the synthesis is aborted');
  t.match(c.stats(), { abandoned: 1 });
  let made = 0;
  await c.get('y', () => (made++, Promise.resolve(new Uint8Array(1))), never);
  t.equal(made, 1, 'an abandoned sentence is synthesised afresh next time');
});

t.test('a failed synthesis is not kept: every waiter gets the error, the next ask tries again', async (t) => {
  const c = cacheOf(1000);
  const d = deferred();
  const a = c.get('z', () => d.promise, never);
  const b = c.get('z', () => d.promise, never);
  d.reject(new Error('flite exited 1'));
  await t.rejects(a, /flite exited 1/);
  await t.rejects(b, /flite exited 1/);
  t.equal((await c.get('z', () => Promise.resolve(new Uint8Array(2)), never)).byteLength, 2);
});
