/**
 * `npm run bench:burst [-- --quick] [--runs=3]`: the harder scenario of issue 18, side by side with bare `ws` echo
 * servers in the same run.
 *
 * - **Burst, in phase**: every leg is opened at once (all calls answered together), then every leg sends its 20 ms
 *   frame in the same instant and speaks and pauses in step (speech on a 3 s cycle, offset 0 for all), so replies
 *   start together too. The worst case for the tail, not the median.
 * - **The real process and pipeline**: `node dist/src/main.js` with the `npm start` flags, the echo bot and **Flite in
 *   its worker threads** (each call's spoken greeting is synthesised at answer time: a burst of synthesis), VAD,
 *   jitter buffer and pacer, info logs to a pipe. No ASR (`ASR_ADAPTER=none`): the offline recogniser is a process
 *   per call (~0.14 core) bounded by `LOCAL_ASR_MAX_PROCESSES`, so with it the run would measure that budget.
 * - **Measured at the caller** over the first `MEASURE_MS` after the burst (greetings included): the interval between
 *   consecutive frames (p50, p99, p99.9; gaps over 200 ms are between replies), the largest gap any caller saw within a
 *   reply (gaps up to 1 s; replies are ≥ 1.5 s apart), late frames (> 40 ms), legs still open; CPU of the target's
 *   whole process tree (core-% over the window).
 *
 * Two parts: **per core** (the gateway with `WORKERS=1` and one baseline, each pinned to core 0, the load generator to
 * core 1) and **whole machine** (nothing pinned: `WORKERS=1`, `WORKERS=2`, and two baseline processes with the legs
 * split between them; the generator shares the machine). Per machine, a level counts as held when client pacing p99
 * ≤ 25 ms, no wrong-size frame and every leg open (the criterion of `npm run bench`). Writes `results/burst.json`
 * and `burst.md` (`--quick`: `results/quick/`).
 *
 * Options: `--runs=N`, `--levels=100,200` (per core), `--machine-levels=200,400`, `--per-core-only`, `--ab=JSON` (a
 * second per-core gateway series with these settings, interleaved in each run: a same-run A/B, e.g.
 * `--ab='{"TTS_WORKER_NICE":"0"}'`), `--out=DIR`; `BENCH_GATEWAY_ENV=JSON` sets every gateway's settings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { settingsFromJson } from './settings-env.js';
import { HAS_TASKSET, START_FLAGS, request } from './child.js';
import { Hist } from './hist.js';
import { benchOutDir } from './out-dir.js';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const arg = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const list = (v: string | undefined, d: number[]) => (v ? v.split(',').map(Number) : d);
const CORE_LEVELS = list(arg('levels'), QUICK ? [10] : [100, 200]);
const MACHINE_LEVELS = list(arg('machine-levels'), QUICK ? [10] : [200, 400]);
const RUNS = Number(arg('runs') ?? (QUICK ? 1 : 3));
/** Settings for every gateway of the run (as `npm run bench`); `--ab=JSON`: a second per-core gateway series with them. */
const GATEWAY_ENV = settingsFromJson(process.env.BENCH_GATEWAY_ENV, 'BENCH_GATEWAY_ENV');
const AB_ENV = arg('ab') === undefined ? undefined : settingsFromJson(arg('ab'), '--ab');
/** `--per-core-only`: skip the whole-machine part (on a 2-core machine its generator shares the cores and starves). */
const PER_CORE_ONLY = argv.includes('--per-core-only');
const MEASURE_MS = QUICK ? 6000 : 12000;
const PACING_LIMIT_MS = 25;
const OUT_DIR = benchOutDir(argv, fileURLToPath(new URL('../../bench/results/', import.meta.url)));
const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const BASELINE = fileURLToPath(new URL('./target-baseline.js', import.meta.url));
const LOADGEN = fileURLToPath(new URL('./loadgen.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `node <flags> <file>`, pinned to `core` when given and taskset exists. */
function node(file: string, core: number | undefined, env: NodeJS.ProcessEnv, ipc: boolean): ChildProcess {
  const args = [...START_FLAGS, file];
  const pin = core !== undefined && HAS_TASKSET;
  return spawn(pin ? 'taskset' : process.execPath, pin ? ['-c', String(core), process.execPath, ...args] : args, {
    env,
    stdio: ipc ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
  });
}

/** CPU seconds (user + system) of `pid` and every descendant, from /proc. */
function treeCpuS(pid: number): number {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(f[1]));
      ticks.set(Number(d), Number(f[11]) + Number(f[12]));
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const want = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, pp] of parent) {
      if (want.has(pp) && !want.has(p)) {
        want.add(p);
        grew = true;
      }
    }
  }
  for (const p of want) total += ticks.get(p) ?? 0;
  return total / 100; // USER_HZ
}

interface Target {
  label: string;
  urls: string;
  pids: number[];
  stop(): Promise<void>;
}

async function startGateway(workers: number, core: number | undefined, extra: Record<string, string> = {}): Promise<Target> {
  const p = node(
    MAIN,
    core,
    {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      WORKERS: String(workers),
      ASR_ADAPTER: 'none',
      BOT_ADAPTER: 'echo',
      TTS_ADAPTER: 'flite',
      BARGE_IN: 'false',
      JITTER_TARGET_MS: '0',
      MAX_CALLS: '5000',
      UPGRADE_RATE_PER_SOURCE: '0',
      ...GATEWAY_ENV,
      ...extra,
    },
    false,
  );
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    p.stdout!.on('data', (d: Buffer) => {
      // Keep only what is needed to find the start-up line; the rest of the log is read and dropped.
      if (out.length < 1e6) out += d.toString();
      const m = /"msg":"gateway listening"/.test(out) && /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    p.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${out.slice(-500)}`)));
  });
  out = '';
  return {
    label: `gateway WORKERS=${workers}${Object.entries(extra)
      .map(([k, v]) => `, ${k}=${v}`)
      .join('')}`,
    urls: `ws://127.0.0.1:${port}/socket`,
    pids: [p.pid!],
    stop: () => new Promise<void>((r) => (p.once('exit', () => r()), treeKill(p.pid!), p.kill('SIGKILL'))),
  };
}

/** SIGKILL the primary's workers too (a SIGKILLed primary cannot tell them; they would exit on disconnect anyway). */
function treeKill(pid: number): void {
  for (const d of readdirSync('/proc')) {
    try {
      if (/^\d+$/.test(d) && Number(readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid) process.kill(Number(d), 'SIGKILL');
    } catch {
      // gone
    }
  }
}

async function startBaselines(n: number, core: number | undefined): Promise<Target> {
  const procs = Array.from({ length: n }, () => node(BASELINE, core, process.env, true));
  const ready = await Promise.all(procs.map((p) => request(p, undefined, 'ready')));
  return {
    label: n === 1 ? 'baseline' : `${n} baselines`,
    urls: ready.map((r) => `ws://127.0.0.1:${r.port as number}/socket`).join(','),
    pids: procs.map((p) => p.pid!),
    stop: async () => void (await Promise.all(procs.map((p) => new Promise((r) => (p.once('exit', r), p.send({ cmd: 'exit' })))))),
  };
}

export interface BurstLevel {
  legs: number;
  openLegs: number;
  pacingMs: { p50: number; p99: number; p999: number };
  maxGapMs: number;
  lateFrames: number;
  wrongSize: number;
  cpuPct: number;
  generatorLatenessP99Ms: number;
  framesReceived: number;
  /** The generator kept its 20 ms clock (timer lateness p99 ≤ {@link GENERATOR_OK_MS}): otherwise the figures measure it. */
  valid: boolean;
  held: boolean;
}

/** Generator timer lateness p99 past which a level measures the (starved) generator, not the target. */
const GENERATOR_OK_MS = 5;

async function level(t: Target, legs: number, genCore: number | undefined): Promise<BurstLevel> {
  const gen = node(LOADGEN, genCore, process.env, true);
  await request(gen, undefined, 'ready');
  await request(gen, { cmd: 'open', url: t.urls, count: legs, rate: 16000, inPhase: true, gapWindowMs: 1000 }, 'opened', 120000);
  await request(gen, { cmd: 'stats' }, 'stats'); // reset: the window starts as the burst of calls is answered
  const cpu0 = t.pids.reduce((a, p) => a + treeCpuS(p), 0);
  const t0 = performance.now();
  await sleep(MEASURE_MS);
  const g = await request(gen, { cmd: 'stats' }, 'stats');
  const cpuPct = ((t.pids.reduce((a, p) => a + treeCpuS(p), 0) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
  await new Promise((r) => (gen.once('exit', r), gen.send({ cmd: 'exit' })));
  await sleep(1000); // let the target close the legs
  const iv = new Hist(500, 0.1);
  const h = g.intervals as { counts: number[]; count: number; sum: number; max: number };
  iv.mergeArray(h.counts, h.count, h.sum, h.max);
  const lat = new Hist(500, 0.1);
  const l = g.tickLateness as typeof h;
  lat.mergeArray(l.counts, l.count, l.sum, l.max);
  const r: BurstLevel = {
    legs,
    openLegs: g.openLegs as number,
    pacingMs: { p50: iv.percentile(50), p99: iv.percentile(99), p999: iv.percentile(99.9) },
    maxGapMs: Math.round((g.maxGapMs as number) * 10) / 10,
    lateFrames: g.late as number,
    wrongSize: g.wrongSize as number,
    cpuPct: Math.round(cpuPct),
    generatorLatenessP99Ms: lat.percentile(99),
    framesReceived: g.framesReceived as number,
    valid: false,
    held: false,
  };
  r.valid = r.generatorLatenessP99Ms <= GENERATOR_OK_MS;
  // Held: every leg open, frames flowed (at least half a second of audio per leg), pacing within the limit.
  r.held = r.valid && r.openLegs === legs && r.framesReceived >= legs * 25 && r.pacingMs.p99 <= PACING_LIMIT_MS && r.wrongSize === 0;
  return r;
}

async function series(start: () => Promise<Target>, levels: number[], genCore: number | undefined): Promise<{ label: string; levels: BurstLevel[] }> {
  const t = await start();
  await sleep(1000);
  const out: BurstLevel[] = [];
  for (const n of levels) {
    process.stderr.write(`  ${t.label}: ${n} legs…\n`);
    out.push(await level(t, n, genCore));
  }
  await t.stop();
  return { label: t.label, levels: out };
}

type Series = Awaited<ReturnType<typeof series>>;
const fmt = (s: Series) =>
  s.levels
    .map(
      (l) =>
        `| ${s.label} | ${l.legs} | ${l.openLegs} | ${l.pacingMs.p50} | ${l.pacingMs.p99} | ${l.pacingMs.p999} | ${l.maxGapMs} | ${l.lateFrames} | ${l.cpuPct} | ${l.generatorLatenessP99Ms}${l.valid ? '' : ' ⚠'} | ${l.held ? 'yes' : 'no'} |`,
    )
    .join('\n');
const held = (s: Series) => s.levels.filter((l) => l.held).reduce((a, l) => Math.max(a, l.legs), 0);

async function main(): Promise<void> {
  const runs: Array<{ perCore: Series[]; machine: Series[] }> = [];
  for (let i = 0; i < RUNS; i++) {
    process.stderr.write(`run ${i + 1}/${RUNS}\n`);
    const perCore = [await series(() => startBaselines(1, 0), CORE_LEVELS, 1), await series(() => startGateway(1, 0), CORE_LEVELS, 1)];
    if (AB_ENV) perCore.push(await series(() => startGateway(1, 0, AB_ENV), CORE_LEVELS, 1));
    const machine = PER_CORE_ONLY
      ? []
      : [
          await series(() => startBaselines(2, undefined), MACHINE_LEVELS, undefined),
          await series(() => startGateway(1, undefined), MACHINE_LEVELS, undefined),
          await series(() => startGateway(2, undefined), MACHINE_LEVELS, undefined),
        ];
    runs.push({ perCore, machine });
  }
  const head =
    '| target | legs | open | pacing p50 ms | p99 ms | p99.9 ms | largest gap ms | late frames | CPU % | generator lateness p99 ms | held |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|';
  let md = `# Burst, in-phase bench (${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}, pinned: ${HAS_TASKSET})\n\n`;
  const invalid = runs
    .flatMap((r) => [...r.perCore, ...r.machine])
    .flatMap((x) => x.levels)
    .filter((l) => !l.valid).length;
  if (invalid)
    md += `**${invalid} level(s) marked ⚠ are not measurements of the target**: the load generator's timer was more than ${GENERATOR_OK_MS} ms late (p99), so it could neither send nor read in time (a busy machine). Re-run on a quiet one.\n\n`;
  runs.forEach((r, i) => {
    md += `## Run ${i + 1}\n\nPer core (targets on core 0, generator on core 1):\n\n${head}\n${r.perCore.map(fmt).join('\n')}\n\n`;
    if (!r.machine.length) return;
    md += `Whole machine (nothing pinned; the generator shares the machine):\n\n${head}\n${r.machine.map(fmt).join('\n')}\n\n`;
    md += `Legs held per machine: ${r.machine.map((s) => `${s.label} ${held(s)}`).join(', ')}\n\n`;
  });
  const result = {
    quick: QUICK,
    measureMs: MEASURE_MS,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, pinned: HAS_TASKSET, nodeFlags: START_FLAGS },
    runs,
  };
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(`${OUT_DIR}/burst.json`, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(`${OUT_DIR}/burst.md`, md);
  process.stdout.write(md);
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
  process.exit(1);
});
