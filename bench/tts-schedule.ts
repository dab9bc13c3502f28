/**
 * `node dist/bench/tts-schedule.js [--calls=N] [--runs=3] [--out=DIR]`: how the offline TTS's worker pool orders
 * jobs, measured where a caller feels it. The real Flite pool (`src/tts/flite-worker.js`, TTS_WORKERS threads) speaks
 * every call's reply the way `src/tts/flite.ts` does (the next sentence asked for when the one before it comes back);
 * playback is modelled on the wall clock (a sentence plays from when its audio came, or when the one before it ended,
 * whichever is later). Two orders in the same run, alternating: **fifo** (every job due now: the pool before
 * 2026-12-03) and **due** (the first sentence due now, a next one when the one before it will have played).
 * Two arrival patterns: a **burst** (every call's reply asked for at once: the in-phase bench's greeting) and
 * **steady** (replies asked for at random, about 60 % of the pool's measured throughput).
 * Reported: first-audio latency p50/p99 (reply asked → first sentence back), mid-reply gaps (sum and largest, and
 * replies with any gap over 100 ms). Nothing here is a pass/fail: the figures go to `tts-schedule.md`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WorkerPool } from '../src/util/worker-pool.js';
import { splitSentences } from '../src/tts/sentences.js';
import { benchOutDir } from './out-dir.js';

interface Job {
  text: string;
  voice: string;
}
interface Out {
  pcm: ArrayBuffer;
  sampleRateHz: number;
}
type Order = 'fifo' | 'due';
type Pattern = 'burst' | 'steady';

const argv = process.argv.slice(2);
const arg = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const CALLS = Number(arg('calls') ?? 60);
const RUNS = Number(arg('runs') ?? 3);
const WORKERS = Number(process.env.TTS_WORKERS ?? 2);
const OUT_DIR = benchOutDir(argv, fileURLToPath(new URL('../../bench/results/', import.meta.url)));
const REPLY = 'Thanks for calling the offline demo line. I can repeat what you say, and I understand a few numbers. Say something after the tone.';
const GAP_MS = 100;

interface Result {
  order: Order;
  pattern: Pattern;
  firstP50: number;
  firstP99: number;
  gapSumMs: number;
  gapMaxMs: number;
  repliesWithGap: number;
  replies: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One reply spoken as flite.ts does; resolves with its first-audio latency and its gaps. */
async function reply(pool: WorkerPool<Job, Out>, order: Order): Promise<{ first: number; gaps: number[] }> {
  const sentences = splitSentences(REPLY);
  const asked = performance.now();
  const signal = new AbortController().signal;
  let next: Promise<Out> | undefined = pool.run({ text: sentences[0]!, voice: 'slt' }, signal);
  let playEnd = 0;
  let first = 0;
  const gaps: number[] = [];
  for (let i = 0; i < sentences.length && next; i++) {
    const r: Out = await next;
    const now = performance.now();
    const playsMs: number = (r.pcm.byteLength / 2 / r.sampleRateHz) * 1000;
    const due: number = order === 'due' ? now + playsMs : now;
    next = i + 1 < sentences.length ? pool.run({ text: sentences[i + 1]!, voice: 'slt' }, signal, [], due) : undefined;
    if (i === 0) first = now - asked;
    else if (now > playEnd) gaps.push(now - playEnd);
    playEnd = Math.max(now, playEnd) + playsMs;
  }
  return { first, gaps };
}

async function measure(order: Order, pattern: Pattern, intervalMs: number): Promise<Result> {
  const pool = new WorkerPool<Job, Out>(new URL('../src/tts/flite-worker.js', import.meta.url), WORKERS, 4096);
  pool.warm();
  await Promise.all(Array.from({ length: WORKERS }, () => pool.run({ text: 'Warm up.', voice: 'slt' })));
  const done: Promise<{ first: number; gaps: number[] }>[] = [];
  for (let c = 0; c < CALLS; c++) {
    done.push(reply(pool, order));
    // Exponential inter-arrival times around the mean (a fixed seed is not needed: both orders alternate in a run).
    if (pattern === 'steady') await sleep(-Math.log(1 - Math.random()) * intervalMs);
  }
  const all = await Promise.all(done);
  await pool.close();
  const gaps = all.flatMap((r) => r.gaps);
  return {
    order,
    pattern,
    firstP50: Math.round(
      pct(
        all.map((r) => r.first),
        50,
      ),
    ),
    firstP99: Math.round(
      pct(
        all.map((r) => r.first),
        99,
      ),
    ),
    gapSumMs: Math.round(gaps.reduce((a, b) => a + b, 0)),
    gapMaxMs: Math.round(gaps.reduce((a, b) => Math.max(a, b), 0)),
    repliesWithGap: all.filter((r) => r.gaps.some((g) => g > GAP_MS)).length,
    replies: all.length,
  };
}

/** The pool's throughput in sentences per second on this machine (for the steady arrival rate). */
async function sentenceCostMs(): Promise<number> {
  const pool = new WorkerPool<Job, Out>(new URL('../src/tts/flite-worker.js', import.meta.url), WORKERS, 4096);
  const sentences = splitSentences(REPLY);
  await pool.run({ text: 'Warm up.', voice: 'slt' });
  const t0 = performance.now();
  const n = 4 * WORKERS;
  await Promise.all(Array.from({ length: n }, (_, i) => pool.run({ text: sentences[i % sentences.length]!, voice: 'slt' })));
  const ms = (performance.now() - t0) / n;
  await pool.close();
  return ms;
}

const costMs = await sentenceCostMs();
const perReply = splitSentences(REPLY).length;
// Steady: replies arrive so the pool is about 60 % busy.
const intervalMs = (costMs * perReply) / 0.6;
const results: Result[] = [];
for (let run = 0; run < RUNS; run++) {
  for (const pattern of ['burst', 'steady'] as const) {
    for (const order of (run % 2 ? ['due', 'fifo'] : ['fifo', 'due']) as Order[]) {
      process.stderr.write(`run ${run + 1}/${RUNS}: ${pattern} ${order}…\n`);
      results.push(await measure(order, pattern, intervalMs));
    }
  }
}

const header = [
  `# Offline TTS job order (\`node dist/bench/tts-schedule.js\`)`,
  '',
  `${new Date().toISOString()}, Node ${process.version}, TTS_WORKERS=${WORKERS}, ${CALLS} replies of ${perReply} sentences per measure, ${RUNS} runs; ` +
    `a sentence costs ${costMs.toFixed(0)} ms of pool time (all workers); steady arrivals every ${intervalMs.toFixed(0)} ms on average (≈ 60 % busy).`,
  '',
  '| pattern | order | first audio p50 ms | p99 ms | gap sum ms | largest gap ms | replies with a gap > 100 ms |',
  '|---|---|---:|---:|---:|---:|---:|',
];
const rows = results.map(
  (r) => `| ${r.pattern} | ${r.order} | ${r.firstP50} | ${r.firstP99} | ${r.gapSumMs} | ${r.gapMaxMs} | ${r.repliesWithGap}/${r.replies} |`,
);
mkdirSync(OUT_DIR, { recursive: true });
writeFileSync(join(OUT_DIR, 'tts-schedule.md'), [...header, ...rows, ''].join('\n'));
writeFileSync(
  join(OUT_DIR, 'tts-schedule.json'),
  JSON.stringify({ node: process.version, workers: WORKERS, calls: CALLS, costMs, intervalMs, results }, null, 2),
);
process.stdout.write([...header, ...rows].join('\n') + '\n');
