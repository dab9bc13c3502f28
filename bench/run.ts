/**
 * `npm run bench [-- --quick]`: frame latency and capacity of the gateway, side by side with a bare `ws` echo server
 * under the same load on the same machine. The target process is pinned to core 0 (taskset), the load generators to
 * core 1. A ramp of concurrent 16 kHz legs finds the capacity: the most legs held with client-side pacing p99 within
 * 5 ms of 20 ms and no loss. Writes bench/results/latest.json, latest.md and latest.svg.
 *
 * Same-run A/B: `--ab-flags="--flag …"` (Node flags added to the second series' target), `--ab-env=JSON` (gateway
 * settings of the second series) and/or `--ab-root=DIR` (the second series runs `DIR/dist/bench/target-gateway.js`,
 * another build) add a second gateway series after the first
 * (`--ab-first`: before it), reported as `ab` in the JSON and as rows of their own.
 */
import type { ChildProcess } from 'node:child_process';
import { HAS_TASKSET, TARGET_FLAGS, request, spawnPinned, type Msg } from './child.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hist } from './hist.js';
import type { TailReport } from './tail-diag.js';
import { renderSvg, renderMarkdown } from './report.js';
import { benchOutDir } from './out-dir.js';
import { settingsFromJson } from './settings-env.js';

const args = new Set(process.argv.slice(2));
const arg = (name: string) =>
  process.argv
    .slice(2)
    .find((a) => a.startsWith(`--${name}=`))
    ?.slice(name.length + 3);
/** A second gateway series (same-run A/B): extra Node flags and/or another build's root. */
const AB_FLAGS = (arg('ab-flags') ?? '').split(' ').filter(Boolean);
const AB_ROOT = arg('ab-root');
/** Gateway settings of the second series, over `BENCH_GATEWAY_ENV` (e.g. `{"GC_THREAD_NICE":"0"}`). */
const AB_ENV = arg('ab-env') === undefined ? undefined : settingsFromJson(arg('ab-env'), '--ab-env');
const AB = AB_FLAGS.length > 0 || AB_ROOT !== undefined || AB_ENV !== undefined;
const AB_LABEL = `gateway${AB_ROOT ? ` (${basename(resolve(AB_ROOT))})` : ''}${AB_FLAGS.length ? ` ${AB_FLAGS.join(' ')}` : ''}${Object.entries(AB_ENV ?? {})
  .map(([k, v]) => ` ${k}=${v}`)
  .join('')}`;
const QUICK = args.has('--quick');
const OUT_DIR = benchOutDir(process.argv.slice(2), fileURLToPath(new URL('../../bench/results/', import.meta.url)));
const LEVELS = process.env.BENCH_LEVELS ? process.env.BENCH_LEVELS.split(',').map(Number) : QUICK ? [10, 40] : [50, 100, 200, 300, 400, 500, 600, 800, 1000];
const WARMUP_MS = QUICK ? 1500 : 3000;
const MEASURE_MS = QUICK ? 3000 : 8000;
// One generator process on core 1: more processes on the same core only add contention to the client-side timing.
const LOADGENS = 1;
const PACING_LIMIT_MS = 25;
/** Leg sample rate (8000, 16000 or 24000); results at a rate other than 16 kHz go to `latest-<rate>.*`. */
const RATE = Number(process.env.BENCH_RATE ?? 16000);
if (![8000, 16000, 24000].includes(RATE)) throw new Error('BENCH_RATE must be 8000, 16000 or 24000');
const STEM = RATE === 16000 ? 'latest' : `latest-${RATE}`;

export interface LevelResult {
  legs: number;
  openLegs: number;
  pacingIntervalMs: { p50: number; p99: number; max: number };
  ingressLatencyMs: { p50: number; p99: number; p999: number } | null;
  framesSent: number;
  framesReceived: number;
  framesInAtTarget: number;
  lostInbound: number;
  lostOutbound: number;
  lateFrames: number;
  wrongSize: number;
  cpuPct: number;
  cpuPerLegPct: number;
  rssMiB: number;
  rssPerLegKiB: number;
  eventLoopDelayP99Ms: number;
  generatorLatenessP99Ms: number;
  /** The gateway's own tick-to-tick interval (its 20 ms clock), to tell target from network/client jitter. */
  targetTickIntervalMs?: { p99: number; max: number };
  /** Where the gateway's late ticks went (bench/tail-diag.ts); absent for the baseline and older builds. */
  targetTail?: TailReport;
  pass: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let progressDone = 0;
const progressTotal = LEVELS.length * (AB ? 3 : 2);
function progress(label: string): void {
  const width = 28;
  const done = Math.round((progressDone / progressTotal) * width);
  process.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${label.padEnd(40)}`);
}

async function runLevel(
  target: ChildProcess,
  port: number,
  wsPath: string,
  legs: number,
  rate: number,
  idleRss: number,
  hasIngress: boolean,
): Promise<LevelResult> {
  const gens = Array.from({ length: LOADGENS }, () => spawnPinned('./loadgen.js', 1));
  await Promise.all(gens.map((g) => request(g, undefined, 'ready')));
  const per = Math.ceil(legs / LOADGENS);
  await Promise.all(
    gens.map((g, i) => request(g, { cmd: 'open', url: `ws://127.0.0.1:${port}${wsPath}`, count: Math.min(per, legs - i * per), rate }, 'opened')),
  );
  await sleep(WARMUP_MS);
  // Reset counters, measure, collect.
  await request(target, { cmd: 'stats' }, 'stats');
  await Promise.all(gens.map((g) => request(g, { cmd: 'stats' }, 'stats')));
  const t0 = performance.now();
  await sleep(MEASURE_MS);
  const ts = await request(target, { cmd: 'stats' }, 'stats');
  const gs = await Promise.all(gens.map((g) => request(g, { cmd: 'stats' }, 'stats')));
  const elapsed = performance.now() - t0;
  await Promise.all(gens.map((g) => new Promise((r) => (g.once('exit', r), g.send({ cmd: 'exit' })))));
  await sleep(500);

  const iv = new Hist(500, 0.1);
  const lat = new Hist(500, 0.1);
  let sent = 0,
    received = 0,
    late = 0,
    wrong = 0,
    open = 0;
  for (const g of gs) {
    const h = g.intervals as { counts: number[]; count: number; sum: number; max: number };
    iv.mergeArray(h.counts, h.count, h.sum, h.max);
    const l = g.tickLateness as typeof h;
    lat.mergeArray(l.counts, l.count, l.sum, l.max);
    sent += g.framesSent as number;
    received += g.framesReceived as number;
    late += g.late as number;
    wrong += g.wrongSize as number;
    open += g.openLegs as number;
  }
  let ingress: LevelResult['ingressLatencyMs'] = null;
  if (hasIngress && ts.ingress) {
    const h = ts.ingress as { counts: number[]; count: number; sum: number; max: number };
    const ih = new Hist(200, 0.01);
    ih.mergeArray(h.counts, h.count, h.sum, h.max);
    ingress = { p50: ih.percentile(50), p99: ih.percentile(99), p999: ih.percentile(99.9) };
  }
  // CPU of the target over the measured window: the two stats calls bracket it.
  const cpu = ts.cpu as { user: number; system: number };
  const cpuPct = ((cpu.user + cpu.system - (ts.cpuStart as number)) / 1000 / elapsed) * 100;
  const rssMiB = (ts.rss as number) / 1048576;
  const lostInbound = Math.max(0, sent - (ts.framesInDelta as number));
  const pacing = { p50: iv.percentile(50), p99: iv.percentile(99), max: Math.round(iv.max * 10) / 10 };
  const lostOutbound = ts.pacerDrops as number;
  const r: LevelResult = {
    legs,
    openLegs: open,
    pacingIntervalMs: pacing,
    ingressLatencyMs: ingress,
    framesSent: sent,
    framesReceived: received,
    framesInAtTarget: ts.framesInDelta as number,
    lostInbound,
    lostOutbound,
    lateFrames: late,
    wrongSize: wrong,
    cpuPct: Math.round(cpuPct * 10) / 10,
    cpuPerLegPct: Math.round((cpuPct / legs) * 1000) / 1000,
    rssMiB: Math.round(rssMiB * 10) / 10,
    rssPerLegKiB: Math.round((((ts.rss as number) - idleRss) / 1024 / legs) * 10) / 10,
    eventLoopDelayP99Ms: Math.round((ts.eldP99Ms as number) * 10) / 10,
    generatorLatenessP99Ms: lat.percentile(99),
    ...(ts.tickIntervalP99Ms !== undefined
      ? { targetTickIntervalMs: { p99: ts.tickIntervalP99Ms as number, max: Math.round((ts.tickIntervalMaxMs as number) * 10) / 10 } }
      : {}),
    ...(ts.tail ? { targetTail: ts.tail as TailReport } : {}),
    pass: false,
  };
  // Loss: frames the generator sent that never reached the target (allow the in-flight frames at the window edges).
  r.pass = open === legs && pacing.p99 <= PACING_LIMIT_MS && wrong === 0 && lostOutbound === 0 && lostInbound <= legs * 2;
  return r;
}

/** Wraps the target so each stats reply carries deltas since the previous one (CPU, frames in). */
function withDeltas(target: ChildProcess): ChildProcess {
  let lastCpu = 0;
  let lastIn = 0;
  target.on('message', (m: Msg) => {
    if (m.cmd !== 'stats') return;
    const cpu = m.cpu as { user: number; system: number };
    m.cpuStart = lastCpu;
    lastCpu = cpu.user + cpu.system;
    m.framesInDelta = (m.framesIn as number) - lastIn;
    lastIn = m.framesIn as number;
  });
  return target;
}

async function runTarget(name: 'gateway' | 'baseline' | 'ab', rate: number): Promise<LevelResult[]> {
  const script =
    name === 'baseline' ? './target-baseline.js' : name === 'ab' && AB_ROOT ? join(resolve(AB_ROOT), 'dist/bench/target-gateway.js') : './target-gateway.js';
  const env =
    name === 'ab' && AB_ENV
      ? { ...process.env, BENCH_GATEWAY_ENV: JSON.stringify({ ...settingsFromJson(process.env.BENCH_GATEWAY_ENV, 'BENCH_GATEWAY_ENV'), ...AB_ENV }) }
      : process.env;
  const target = withDeltas(spawnPinned(script, 0, name === 'ab' ? [...TARGET_FLAGS, ...AB_FLAGS] : TARGET_FLAGS, env));
  const ready = await request(target, undefined, 'ready');
  await sleep(300);
  const idle = await request(target, { cmd: 'stats' }, 'stats');
  const results: LevelResult[] = [];
  for (const legs of LEVELS) {
    progress(`${name}: ${legs} legs`);
    const r = await runLevel(target, ready.port as number, ready.wsPath as string, legs, rate, idle.rss as number, name !== 'baseline');
    results.push(r);
    progressDone++;
    // Stop after two failing levels in a row (one can be noise on a shared machine).
    const n = results.length;
    if (n >= 2 && !results[n - 1]!.pass && !results[n - 2]!.pass) {
      progressDone += LEVELS.length - results.length;
      break;
    }
  }
  await new Promise((r) => (target.once('exit', r), target.send({ cmd: 'exit' })));
  return results;
}

function capacity(levels: LevelResult[]): number {
  let cap = 0;
  for (const l of levels) if (l.pass) cap = l.legs;
  return cap;
}

/** The level nearest to `legs` that passed (or the last measured). */
function at(levels: LevelResult[], legs: number): LevelResult {
  const passed = levels.filter((l) => l.pass);
  const pool = passed.length ? passed : levels;
  return pool.reduce((best, l) => (Math.abs(l.legs - legs) < Math.abs(best.legs - legs) ? l : best));
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const baseline = await runTarget('baseline', RATE);
  const abFirst = AB && args.has('--ab-first') ? await runTarget('ab', RATE) : undefined;
  const gateway = await runTarget('gateway', RATE);
  const abLevels = abFirst ?? (AB ? await runTarget('ab', RATE) : undefined);
  process.stderr.write('\n');
  const g200 = at(gateway, 200);
  const gCap = capacity(gateway);
  const bCap = capacity(baseline);
  const gCpu = at(gateway, 200).cpuPerLegPct;
  const bCpu = at(baseline, 200).cpuPerLegPct;
  const result = {
    started,
    quick: QUICK,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, pinned: HAS_TASKSET, nodeFlags: TARGET_FLAGS },
    criterion: `client pacing p99 ≤ ${PACING_LIMIT_MS} ms, no lost or wrong-size frames, every leg open`,
    sampleRateHz: RATE,
    measureMs: MEASURE_MS,
    gateway: {
      capacityLegs: gCap,
      ingressLatencyMs: g200.ingressLatencyMs ?? { p50: 0, p99: 0, p999: 0 },
      pacingIntervalMs: g200.pacingIntervalMs,
      cpuPerLegPct: gCpu,
      rssPerLegKiB: g200.rssPerLegKiB,
      eventLoopDelayP99Ms: g200.eventLoopDelayP99Ms,
      at: g200.legs,
      levels: gateway,
    },
    baseline: {
      capacityLegs: bCap,
      pacingIntervalMs: at(baseline, 200).pacingIntervalMs,
      cpuPerLegPct: bCpu,
      rssPerLegKiB: at(baseline, 200).rssPerLegKiB,
      levels: baseline,
    },
    ...(abLevels ? { ab: { label: AB_LABEL, capacityLegs: capacity(abLevels), levels: abLevels } } : {}),
    ratio: {
      capacity: bCap ? Math.round((gCap / bCap) * 100) / 100 : 0,
      cpuPerLeg: bCpu ? Math.round((gCpu / bCpu) * 100) / 100 : 0,
    },
    ceiling: LEVELS[LEVELS.length - 1]!, // split() never returns an empty list
  };
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(`${OUT_DIR}/${STEM}.json`, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(`${OUT_DIR}/${STEM}.md`, renderMarkdown(result));
  writeFileSync(`${OUT_DIR}/${STEM}.svg`, renderSvg(result));
  process.stdout.write(renderMarkdown(result));
}

main().catch((err) => {
  process.stderr.write(`\nbench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
