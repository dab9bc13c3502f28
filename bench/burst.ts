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
 *   consecutive frames of a reply (p50, p99, p99.9), the largest gap any caller saw inside a reply (a reply ends
 *   where the gateway's `notify` follows its last frame: bench/reply-gaps.ts; the silence between two replies is kept
 *   apart as `maxGapBetweenRepliesMs`), late frames (> 40 ms), legs still open; CPU of the target's whole process tree
 *   (core-% over the window).
 *
 * Two parts: **per core** (the gateway with `WORKERS=1` and one baseline, each pinned to core 0, the load generator to
 * core 1) and **whole machine** (nothing pinned: `WORKERS=1`, `WORKERS=2`, and two baseline processes with the legs
 * split between them; the generator shares the machine). Per machine, a level counts as held when client pacing p99
 * ≤ 25 ms, no wrong-size frame and every leg open (the criterion of `npm run bench`). Writes `results/burst.json`
 * and `burst.md` (`--quick`: `results/quick/`).
 *
 * Options: `--runs=N`, `--levels=100,200` (per core), `--machine-levels=200,400`, `--per-core-only`, `--ab=JSON` (a
 * second per-core gateway series with these settings, interleaved in each run: a same-run A/B, e.g.
 * `--ab='{"TTS_WORKER_NICE":"0"}'`), `--ab-root=DIR` (a second per-core gateway series run from another build:
 * `DIR/dist/src/main.js`, e.g. a worktree of main as the "before"; with `--ab` too, that series gets those settings),
 * `--ab-flags="--flag …"` (a second per-core gateway series with these Node flags after the `npm start` ones),
 * `--profile=DIR` (every gateway, and the per-core baseline, writes a V8 CPU profile of its main thread and of each
 * worker thread into `DIR/<series>/`; summarise with `node dist/bench/cpuprofile.js DIR/<series>`), `--log=DIR`
 * (every gateway's log, one file per series and run: e.g. count its `transcript` lines), `--out=DIR`;
 * `BENCH_GATEWAY_ENV=JSON` sets every gateway's settings (`{"ASR_ADAPTER":"local"}`: the default offline pipeline
 * with pocketsphinx).
 *
 * CPU is reported for the target's whole process tree (`cpuPct`), and of it the processes that are not Node
 * (`otherCpuPct`: the offline recognisers with their `cat` and shell, when `ASR_ADAPTER=local`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, join, resolve } from 'node:path';
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
/** `--ab-root=DIR`: the "before" build of a same-run A/B (its `dist/` must be built). */
const AB_ROOT = arg('ab-root');
/** `--ab-flags="--flag …"`: Node flags added to the second per-core gateway series (after the `npm start` flags). */
const AB_FLAGS = (arg('ab-flags') ?? '').split(' ').filter(Boolean);
/** `--profile=DIR`: CPU profiles of every gateway, one subdirectory per series. */
const PROFILE_DIR = arg('profile');
/** `--log=DIR`: every gateway's log (JSON lines on its stdout), one file per series and run. */
const LOG_DIR = arg('log');
const BASELINE = fileURLToPath(new URL('./target-baseline.js', import.meta.url));
const LOADGEN = fileURLToPath(new URL('./loadgen.js', import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `node <flags> <file>`, pinned to `core` when given and taskset exists. */
function node(file: string, core: number | undefined, env: NodeJS.ProcessEnv, ipc: boolean, flags: readonly string[] = []): ChildProcess {
  const args = [...START_FLAGS, ...flags, file];
  const pin = core !== undefined && HAS_TASKSET;
  return spawn(pin ? 'taskset' : process.execPath, pin ? ['-c', String(core), process.execPath, ...args] : args, {
    env,
    stdio: ipc ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'inherit'],
  });
}

/** The process runs this Node binary (its name is no help: Node 24 names its main thread `MainThread`). */
function isNode(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`) === process.execPath;
  } catch {
    return false;
  }
}

/**
 * CPU seconds (user + system) of `pid`'s tree, from /proc: `node` = the Node processes (`pid` and, with `WORKERS` > 1,
 * its cluster workers; every thread of each: Flite's workers too), `other` = every other descendant (the offline
 * recognisers, their `cat` and shell), with what already exited and was reaped by `pid` (its `cutime`/`cstime`).
 */
function treeCpuS(pid: number): { node: number; other: number } {
  const procs = new Map<number, { ppid: number; node: boolean; ticks: number; reaped: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const f = stat.slice(close + 2).split(' ');
      procs.set(Number(d), {
        ppid: Number(f[1]),
        node: isNode(Number(d)),
        ticks: Number(f[11]) + Number(f[12]),
        reaped: Number(f[13]) + Number(f[14]),
      });
    } catch {
      // gone meanwhile
    }
  }
  const want = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [p, x] of procs) {
      if (want.has(x.ppid) && !want.has(p)) {
        want.add(p);
        grew = true;
      }
    }
  }
  let node = 0;
  let other = procs.get(pid)?.reaped ?? 0;
  for (const p of want) {
    const x = procs.get(p);
    if (x?.node) node += x.ticks;
    else other += x?.ticks ?? 0;
  }
  return { node: node / 100, other: other / 100 }; // USER_HZ
}

/** {@link treeCpuS} over every process of a target. */
function targetCpuS(t: Target): { node: number; other: number } {
  const sum = { node: 0, other: 0 };
  for (const p of t.pids) {
    const c = treeCpuS(p);
    sum.node += c.node;
    sum.other += c.other;
  }
  return sum;
}

interface Target {
  label: string;
  urls: string;
  pids: number[];
  stop(): Promise<void>;
}

interface GatewayOptions {
  /** Settings over the run's. */
  extra?: Record<string, string>;
  /** Another build's root (`--ab-root`): runs `ROOT/dist/src/main.js`. */
  root?: string;
  /** Node flags over the `npm start` ones (`--ab-flags`). */
  nodeFlags?: string[];
  /** Write CPU profiles here (`--profile`); the gateway is then stopped with SIGTERM so it can write them. */
  profileDir?: string;
  /** Keep the gateway's log (its stdout) in this file (`--log`). */
  logFile?: string;
}

async function startGateway(workers: number, core: number | undefined, o: GatewayOptions = {}): Promise<Target> {
  const extra = o.extra ?? {};
  const flags = [...(o.nodeFlags ?? []), ...(o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : [])];
  if (o.profileDir) mkdirSync(o.profileDir, { recursive: true });
  const p = node(
    o.root ? join(resolve(o.root), 'dist/src/main.js') : MAIN,
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
    flags,
  );
  let out = '';
  const log = o.logFile ? createWriteStream(o.logFile) : undefined;
  const port = await new Promise<number>((resolve, reject) => {
    p.stdout!.on('data', (d: Buffer) => {
      log?.write(d);
      // Keep only what is needed to find the start-up line; the rest of the log is read and dropped.
      if (out.length < 1e6) out += d.toString();
      const m = /"msg":"gateway listening"/.test(out) && /"port":(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    p.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${out.slice(-500)}`)));
  });
  out = '';
  const exited = new Promise<void>((r) => p.once('exit', () => (log?.end(), r())));
  return {
    label: gatewayLabel(workers, o),
    urls: `ws://127.0.0.1:${port}/socket`,
    pids: [p.pid!],
    stop: async () => {
      if (o.profileDir) {
        // A profile is written at exit: drain (the legs are gone already), a second signal exits at once, then kill.
        p.kill('SIGTERM');
        const t = setTimeout(() => p.kill('SIGTERM'), 10000);
        const k = setTimeout(() => (treeKill(p.pid!), p.kill('SIGKILL')), 20000);
        await exited;
        clearTimeout(t);
        clearTimeout(k);
        return;
      }
      treeKill(p.pid!);
      p.kill('SIGKILL');
      await exited;
    },
  };
}

function gatewayLabel(workers: number, o: GatewayOptions): string {
  const settings = Object.entries(o.extra ?? {})
    .map(([k, v]) => `, ${k}=${v}`)
    .join('');
  const nodeFlags = o.nodeFlags?.length ? ` ${o.nodeFlags.join(' ')}` : '';
  return `gateway${o.root ? ` (${basename(resolve(o.root))})` : ''} WORKERS=${workers}${settings}${nodeFlags}`;
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

async function startBaselines(n: number, core: number | undefined, profileDir?: string): Promise<Target> {
  const flags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  if (profileDir) mkdirSync(profileDir, { recursive: true });
  const procs = Array.from({ length: n }, () => node(BASELINE, core, process.env, true, flags));
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
  /** Largest interval between consecutive frames of one reply, any leg (the bare server's stream is one "reply"). */
  maxGapMs: number;
  /** Largest interval from a reply's last frame to the next reply's first, any leg: turn-taking, not a stutter. */
  maxGapBetweenRepliesMs: number;
  /** Replies that ended (notify or clear received) in the window, all legs. */
  replyEnds: number;
  lateFrames: number;
  /** Per second of the window: late frames (> 40 ms), and the largest interval inside a reply (ms): when the tail happens. */
  lateBySecond: number[];
  maxIntervalBySecond: number[];
  wrongSize: number;
  /** Core-% of the target's whole process tree over the window. */
  cpuPct: number;
  /** Of {@link cpuPct}, the processes that are not Node (the offline recognisers, their `cat` and shell). */
  otherCpuPct: number;
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
  await request(gen, { cmd: 'open', url: t.urls, count: legs, rate: 16000, inPhase: true, gapWindowMs: MEASURE_MS }, 'opened', 120000);
  await request(gen, { cmd: 'stats' }, 'stats'); // reset: the window starts as the burst of calls is answered
  const cpu0 = targetCpuS(t);
  const t0 = performance.now();
  await sleep(MEASURE_MS);
  const g = await request(gen, { cmd: 'stats' }, 'stats');
  const cpu1 = targetCpuS(t);
  const wallS = (performance.now() - t0) / 1000;
  const nodePct = ((cpu1.node - cpu0.node) / wallS) * 100;
  const otherPct = ((cpu1.other - cpu0.other) / wallS) * 100;
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
    maxGapBetweenRepliesMs: Math.round((g.maxGapBetweenRepliesMs as number) * 10) / 10,
    replyEnds: g.replyEnds as number,
    lateFrames: g.late as number,
    lateBySecond: (g.lateBySecond as number[] | undefined) ?? [],
    maxIntervalBySecond: (g.maxBySecond as number[] | undefined) ?? [],
    wrongSize: g.wrongSize as number,
    cpuPct: Math.round(nodePct + otherPct),
    otherCpuPct: Math.round(otherPct),
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
        `| ${s.label} | ${l.legs} | ${l.openLegs} | ${l.pacingMs.p50} | ${l.pacingMs.p99} | ${l.pacingMs.p999} | ${l.maxGapMs} | ${l.lateFrames} | ${l.cpuPct} | ${l.otherCpuPct} | ${l.generatorLatenessP99Ms}${l.valid ? '' : ' ⚠'} | ${l.held ? 'yes' : 'no'} |`,
    )
    .join('\n');
/** Per level, second by second: late frames / largest interval (a stall at the burst's start vs pauses all along). */
const timeline = (s: Series) =>
  s.levels
    .map((l) => `- ${s.label}, ${l.legs} legs: ${(l.maxIntervalBySecond ?? []).map((m, i) => `${l.lateBySecond?.[i] ?? 0}/${Math.round(m)}`).join(' · ')}`)
    .join('\n');
/** A label as a directory name. */
const slug = (label: string) => label.replace(/[^A-Za-z0-9=._-]+/g, '_');
const held = (s: Series) => s.levels.filter((l) => l.held).reduce((a, l) => Math.max(a, l.legs), 0);

/** Per-core figures of every run side by side (run 1 / run 2 / …), per target and level: the spread of a same-run A/B. */
function spreads(runs: Array<{ perCore: Series[] }>): string {
  const rows = new Map<string, BurstLevel[]>();
  for (const r of runs)
    for (const s of r.perCore)
      for (const l of s.levels) {
        const key = `${s.label} | ${l.legs}`;
        rows.set(key, [...(rows.get(key) ?? []), l]);
      }
  const col = (ls: BurstLevel[], f: (l: BurstLevel) => number) => ls.map(f).join(' / ');
  let md = '| target | legs | CPU % | of it, not Node % | pacing p99 ms | p99.9 ms | largest gap ms |\n|---|---:|---|---|---|---|---|\n';
  for (const [key, ls] of rows)
    md += `| ${key} | ${col(ls, (l) => l.cpuPct)} | ${col(ls, (l) => l.otherCpuPct)} | ${col(ls, (l) => l.pacingMs.p99)} | ${col(ls, (l) => l.pacingMs.p999)} | ${col(ls, (l) => l.maxGapMs)} |\n`;
  return md;
}

async function main(): Promise<void> {
  const runs: Array<{ perCore: Series[]; machine: Series[] }> = [];
  for (let i = 0; i < RUNS; i++) {
    process.stderr.write(`run ${i + 1}/${RUNS}\n`);
    const profileDir = (label: string) => (PROFILE_DIR ? join(PROFILE_DIR, `${slug(label)}-run${i + 1}`) : undefined);
    if (LOG_DIR) mkdirSync(LOG_DIR, { recursive: true });
    const files = (o: GatewayOptions): GatewayOptions => ({
      ...o,
      profileDir: profileDir(gatewayLabel(1, o)),
      logFile: LOG_DIR ? join(LOG_DIR, `${slug(gatewayLabel(1, o))}-run${i + 1}.log`) : undefined,
    });
    const gateways = [() => startGateway(1, 0, files({}))];
    if (AB_ENV || AB_ROOT || AB_FLAGS.length)
      gateways.push(() => startGateway(1, 0, files({ extra: AB_ENV, root: AB_ROOT, nodeFlags: AB_FLAGS.length ? AB_FLAGS : undefined })));
    const perCore = [await series(() => startBaselines(1, 0, profileDir('baseline')), CORE_LEVELS, 1)];
    // The A/B pair alternates its order from run to run, so neither side always runs first (the machine drifts).
    const order = i % 2 ? [...gateways.keys()].reverse() : [...gateways.keys()];
    const done: Series[] = [];
    for (const k of order) done[k] = await series(gateways[k]!, CORE_LEVELS, 1);
    perCore.push(...done);
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
    '| target | legs | open | pacing p50 ms | p99 ms | p99.9 ms | largest gap ms | late frames | CPU % | of it, not Node % | generator lateness p99 ms | held |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|';
  let md = `# Burst, in-phase bench (${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}, pinned: ${HAS_TASKSET})\n\n`;
  const invalid = runs
    .flatMap((r) => [...r.perCore, ...r.machine])
    .flatMap((x) => x.levels)
    .filter((l) => !l.valid).length;
  if (invalid)
    md += `**${invalid} level(s) marked ⚠ are not measurements of the target**: the load generator's timer was more than ${GENERATOR_OK_MS} ms late (p99), so it could neither send nor read in time (a busy machine). Re-run on a quiet one.\n\n`;
  runs.forEach((r, i) => {
    md += `## Run ${i + 1}\n\nPer core (targets on core 0, generator on core 1):\n\n${head}\n${r.perCore.map(fmt).join('\n')}\n\n`;
    md += `When the tail happens, per core: each second of the window, late frames (> 40 ms) / largest interval in a reply (ms):\n\n${r.perCore.map(timeline).join('\n')}\n\n`;
    if (!r.machine.length) return;
    md += `Whole machine (nothing pinned; the generator shares the machine):\n\n${head}\n${r.machine.map(fmt).join('\n')}\n\n`;
    md += `Legs held per machine: ${r.machine.map((s) => `${s.label} ${held(s)}`).join(', ')}\n\n`;
  });
  if (runs.length > 1) md += `## Per core, every run\n\n${spreads(runs)}\n`;
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
