/**
 * `npm run soak [-- --legs=100 --minutes=10]`: the loopback pipeline (bench/target-gateway.ts: the real gateway with
 * VAD, echo bot, a tone TTS and the pacer) under `legs` concurrent legs from bench/loadgen.ts, in cycles: each cycle
 * opens the legs, holds them, then drops them all, so connection set-up and tear-down are soaked too. The gateway's
 * RSS, heap (after a full GC), libuv handles and open file descriptors are sampled through the run.
 *
 * Reported: growth after warm-up — the mean of the loaded samples of the last cycle against those of the first cycle
 * after warm-up (target < 10 %) — the loaded RSS and V8's committed heap of every cycle, and whether handles and fds
 * return to the idle baseline after every cycle's legs have closed. Warm-up is the first two cycles (the first, with
 * fewer than four): the gateway runs with `npm start`'s Node flags, and V8 grows its young generation up to
 * `--max-semi-space-size` over the first minutes of load (a step of ~30 MiB of committed heap in the second 60-s
 * cycle under Node 24), which is sizing, not growth. Writes `bench/results/soak.json` and `soak.md` (or `--out=DIR`).
 *
 * Options: `--legs=N` (100), `--minutes=M` (10) or `--seconds=S`, `--cycle-seconds=S` (60), `--sample-seconds=S`
 * (5), `--rate=8000|16000|24000` (16000), `--record=DIR` (record every call into DIR: soaks the recorder too).
 */
import type { ChildProcess } from 'node:child_process';
import { HAS_TASKSET, TARGET_FLAGS, request, spawnPinned } from './child.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';

function opt(name: string, def: number): number {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  const v = a ? Number(a.slice(name.length + 3)) : def;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
}
function optStr(name: string): string | undefined {
  return process.argv.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const LEGS = Math.round(opt('legs', 100));
const DURATION_S = process.argv.some((a) => a.startsWith('--seconds=')) ? opt('seconds', 600) : opt('minutes', 10) * 60;
const CYCLE_S = Math.min(opt('cycle-seconds', 60), DURATION_S);
const SAMPLE_S = opt('sample-seconds', 5);
const RATE = opt('rate', 16000);
const RECORD_DIR = optStr('record');
const OUT_DIR = optStr('out') ?? fileURLToPath(new URL('../../bench/results/', import.meta.url));
const GROWTH_LIMIT_PCT = 10;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SoakSample {
  tSec: number;
  cycle: number;
  phase: 'idle' | 'load';
  calls: number;
  rssMiB: number;
  heapMiB: number;
  /** V8's heap as committed (all spaces, the young generation's included). */
  heapTotalMiB: number;
  externalMiB: number;
  handles: number;
  handlesByType: Record<string, number>;
  fds: number;
  recordingsOpen: number;
}

const t0 = performance.now();
async function sample(target: ChildProcess, cycle: number, phase: SoakSample['phase']): Promise<SoakSample> {
  const s = await request(target, { cmd: 'sample' }, 'sample');
  const byType = s.handles as Record<string, number>;
  const mib = (n: unknown) => Math.round(((n as number) / 1048576) * 10) / 10;
  return {
    tSec: Math.round((performance.now() - t0) / 100) / 10,
    cycle,
    phase,
    calls: s.calls as number,
    rssMiB: mib(s.rss),
    heapMiB: mib(s.heapUsed),
    heapTotalMiB: mib(s.heapTotal),
    externalMiB: mib(s.external),
    handles: Object.values(byType).reduce((a, b) => a + b, 0),
    handlesByType: byType,
    fds: s.fds as number,
    recordingsOpen: s.recordingsOpen as number,
  };
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const pct = (from: number, to: number) => (from > 0 ? Math.round(((to - from) / from) * 1000) / 10 : 0);

function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r${text.padEnd(70)}`);
}

async function main(): Promise<void> {
  const started = new Date().toISOString();
  const env = { ...process.env, ...(RECORD_DIR ? { BENCH_RECORDING_DIR: RECORD_DIR } : {}) };
  // The gateway as `npm start` runs it (its Node flags), with a full GC before each sample.
  const target = spawnPinned('./target-gateway.js', 0, [...TARGET_FLAGS, '--expose-gc'], env);
  const ready = await request(target, undefined, 'ready');
  const url = `ws://127.0.0.1:${ready.port as number}${ready.wsPath as string}`;
  await sleep(500);
  const baseline = await sample(target, -1, 'idle');
  const samples: SoakSample[] = [baseline];
  const cycles = Math.max(2, Math.round(DURATION_S / CYCLE_S));
  const idleAfter: Array<{ cycle: number; handles: number; fds: number; recordingsOpen: number; returned: boolean }> = [];
  for (let c = 0; c < cycles; c++) {
    const cycleEnd = performance.now() + CYCLE_S * 1000;
    const gen = spawnPinned('./loadgen.js', 1);
    await request(gen, undefined, 'ready');
    await request(gen, { cmd: 'open', url, count: LEGS, rate: RATE }, 'opened');
    while (performance.now() + SAMPLE_S * 1000 <= cycleEnd) {
      await sleep(SAMPLE_S * 1000);
      samples.push(await sample(target, c, 'load'));
      progress(`soak: cycle ${c + 1}/${cycles}, ${samples[samples.length - 1]!.calls} calls, RSS ${samples[samples.length - 1]!.rssMiB} MiB`);
    }
    await new Promise((r) => (gen.once('exit', r), gen.send({ cmd: 'exit' })));
    // Every leg is gone: the gateway must be back to its idle handles and fds (bounded wait for sockets to close).
    let idle = await sample(target, c, 'idle');
    const deadline = performance.now() + 10000;
    while ((idle.calls > 0 || idle.handles > baseline.handles || idle.fds > baseline.fds || idle.recordingsOpen > 0) && performance.now() < deadline) {
      await sleep(200);
      idle = await sample(target, c, 'idle');
    }
    samples.push(idle);
    idleAfter.push({
      cycle: c,
      handles: idle.handles,
      fds: idle.fds,
      recordingsOpen: idle.recordingsOpen,
      returned: idle.calls === 0 && idle.handles <= baseline.handles && idle.fds <= baseline.fds && idle.recordingsOpen === 0,
    });
  }
  await new Promise((r) => (target.once('exit', r), target.send({ cmd: 'exit' })));
  if (process.stderr.isTTY) process.stderr.write('\n');

  const loaded = (c: number) => samples.filter((s) => s.phase === 'load' && s.cycle === c);
  const warmCycles = cycles >= 4 ? 2 : 1;
  const first = loaded(warmCycles);
  const last = loaded(cycles - 1);
  const growth = {
    rssPct: pct(mean(first.map((s) => s.rssMiB)), mean(last.map((s) => s.rssMiB))),
    heapPct: pct(mean(first.map((s) => s.heapMiB)), mean(last.map((s) => s.heapMiB))),
    heapTotalPct: pct(mean(first.map((s) => s.heapTotalMiB)), mean(last.map((s) => s.heapTotalMiB))),
    handlesPct: pct(mean(first.map((s) => s.handles)), mean(last.map((s) => s.handles))),
    fdsPct: pct(mean(first.map((s) => s.fds)), mean(last.map((s) => s.fds))),
  };
  const handlesReturned = idleAfter.every((x) => x.returned);
  const result = {
    started,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, pinned: HAS_TASKSET },
    nodeFlags: TARGET_FLAGS,
    legs: LEGS,
    sampleRateHz: RATE,
    durationSec: DURATION_S,
    cycleSec: CYCLE_S,
    cycles,
    recording: !!RECORD_DIR,
    warmCycles,
    criterion: `after warm-up (the first ${warmCycles} cycle${warmCycles > 1 ? 's' : ''}), mean RSS and heap of the last cycle within ${GROWTH_LIMIT_PCT} % of the first after warm-up; handles and fds back to the idle baseline after every cycle`,
    perCycle: Array.from({ length: cycles }, (_, c) => ({
      cycle: c,
      rssMiB: Math.round(mean(loaded(c).map((x) => x.rssMiB)) * 10) / 10,
      heapTotalMiB: Math.round(mean(loaded(c).map((x) => x.heapTotalMiB)) * 10) / 10,
      heapMiB: Math.round(mean(loaded(c).map((x) => x.heapMiB)) * 10) / 10,
    })),
    baseline: { rssMiB: baseline.rssMiB, heapMiB: baseline.heapMiB, heapTotalMiB: baseline.heapTotalMiB, handles: baseline.handles, fds: baseline.fds },
    growth,
    idleAfterCycles: idleAfter,
    handlesReturned,
    pass: growth.rssPct < GROWTH_LIMIT_PCT && growth.heapPct < GROWTH_LIMIT_PCT && handlesReturned,
    samples,
  };
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(`${OUT_DIR}/soak.json`, JSON.stringify(result, null, 2) + '\n');
  const md = renderSoak(result, first, last);
  writeFileSync(`${OUT_DIR}/soak.md`, md);
  process.stdout.write(md);
}

function renderSoak(
  r: {
    started: string;
    machine: { node: string };
    nodeFlags: string[];
    legs: number;
    durationSec: number;
    cycles: number;
    cycleSec: number;
    warmCycles: number;
    perCycle: Array<{ cycle: number; rssMiB: number; heapTotalMiB: number; heapMiB: number }>;
    baseline: { rssMiB: number; heapMiB: number; heapTotalMiB: number; handles: number; fds: number };
    growth: { rssPct: number; heapPct: number; heapTotalPct: number; handlesPct: number; fdsPct: number };
    handlesReturned: boolean;
    pass: boolean;
    recording: boolean;
  },
  first: SoakSample[],
  last: SoakSample[],
): string {
  const row = (name: string, key: 'rssMiB' | 'heapMiB' | 'heapTotalMiB' | 'handles' | 'fds', g: number, base: number) =>
    `| ${name} | ${base} | ${Math.round(mean(first.map((s) => s[key])) * 10) / 10} | ${Math.round(mean(last.map((s) => s[key])) * 10) / 10} | ${g} % |`;
  return [
    `# Soak: ${r.legs} legs, ${Math.round(r.durationSec / 6) / 10} min (${r.cycles} cycles of ${r.cycleSec} s)${r.recording ? ', every call recorded' : ''}`,
    '',
    `Started ${r.started}, Node ${r.machine.node} (${r.nodeFlags.join(' ') || 'no flags'}). Loopback pipeline (bench/target-gateway.ts). Growth = mean of the last cycle's loaded samples against cycle ${r.warmCycles + 1}'s (the first ${r.warmCycles > 1 ? `${r.warmCycles} are` : 'is'} warm-up: V8 sizes its heap).`,
    '',
    `| gateway | idle baseline | cycle ${r.warmCycles + 1} (loaded) | last cycle (loaded) | growth |`,
    '|---|---:|---:|---:|---:|',
    row('RSS (MiB)', 'rssMiB', r.growth.rssPct, r.baseline.rssMiB),
    row('heap after GC (MiB)', 'heapMiB', r.growth.heapPct, r.baseline.heapMiB),
    row('V8 heap committed (MiB)', 'heapTotalMiB', r.growth.heapTotalPct, r.baseline.heapTotalMiB),
    row('libuv handles', 'handles', r.growth.handlesPct, r.baseline.handles),
    row('open fds', 'fds', r.growth.fdsPct, r.baseline.fds),
    '',
    `Handles and fds back to the idle baseline after every cycle: **${r.handlesReturned ? 'yes' : 'no'}**. Result: **${r.pass ? 'pass' : 'fail'}** (growth < ${GROWTH_LIMIT_PCT} %).`,
    '',
    'Loaded means per cycle (MiB): RSS / V8 heap committed / heap after GC:',
    '',
    r.perCycle.map((c) => `${c.cycle + 1}: ${c.rssMiB} / ${c.heapTotalMiB} / ${c.heapMiB}`).join(' · '),
    '',
  ].join('\n');
}

main().catch((err) => {
  process.stderr.write(`\nsoak failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
