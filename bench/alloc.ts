/**
 * `npm run bench:alloc [-- --legs=100 --seconds=8 --runs=3]`: what each frame allocates, gateway against the bare `ws`
 * echo server (issue 18, per core). The same load as `npm run bench` (one generator, legs spread over the 20 ms
 * period, speech and replies both ways); after a warm-up, each target's allocations are sampled for a window with
 * V8's sampling heap profiler *including objects already collected* (see alloc-profile.ts), and divided by the audio
 * messages it handled (in + out). Young-generation pauses are what limits capacity (bench/README.md), and they scale
 * with these bytes: unlike latency, the figure does not depend on how loaded the machine is, so a change's effect on
 * it can be judged on a shared machine. Writes alloc.json and alloc.md (to results/quick/ with --quick, or --out=DIR).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGET_FLAGS, request, spawnPinned, type Msg } from './child.js';
import { benchOutDir } from './out-dir.js';
import type { AllocSite } from './alloc-profile.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  const v = a ? Number(a.slice(name.length + 3)) : def;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`);
  return v;
};
const QUICK = argv.includes('--quick');
const LEGS = opt('legs', QUICK ? 20 : 100);
const SECONDS = opt('seconds', QUICK ? 3 : 8);
const RUNS = opt('runs', QUICK ? 1 : 3);
const RATE = Number(process.env.BENCH_RATE ?? 16000);
const OUT_DIR = benchOutDir(argv, fileURLToPath(new URL('../../bench/results/', import.meta.url)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface AllocRun {
  framesIn: number;
  framesOut: number;
  totalBytes: number;
  bytesPerMessage: number;
  ownTop: AllocSite[];
  top: AllocSite[];
  pairs: AllocSite[];
}

async function measure(name: 'gateway' | 'baseline'): Promise<AllocRun> {
  const target = spawnPinned(name === 'gateway' ? './target-gateway.js' : './target-baseline.js', 0, TARGET_FLAGS);
  const gen = spawnPinned('./loadgen.js', 1);
  try {
    const ready = await request(target, undefined, 'ready');
    await request(gen, undefined, 'ready');
    await request(gen, { cmd: 'open', url: `ws://127.0.0.1:${ready.port as number}${ready.wsPath as string}`, count: LEGS, rate: RATE }, 'opened', 120000);
    await sleep(QUICK ? 1500 : 3000);
    await request(target, { cmd: 'alloc-start' }, 'alloc-started');
    await sleep(SECONDS * 1000);
    const a: Msg = await request(target, { cmd: 'alloc-stop' }, 'alloc', 120000);
    const framesIn = a.framesIn as number;
    const framesOut = a.framesOut as number;
    const totalBytes = a.totalBytes as number;
    return {
      framesIn,
      framesOut,
      totalBytes,
      bytesPerMessage: Math.round(totalBytes / Math.max(1, framesIn + framesOut)),
      ownTop: a.ownTop as AllocSite[],
      top: a.top as AllocSite[],
      pairs: a.pairs as AllocSite[],
    };
  } finally {
    gen.send({ cmd: 'exit' });
    target.send({ cmd: 'exit' });
    await Promise.all([gen, target].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
  }
}

function table(sites: AllocSite[], total: number): string {
  return ['| site | share |', '|---|---:|', ...sites.slice(0, 15).map((s) => `| \`${s.site}\` | ${((s.bytes / total) * 100).toFixed(1)} % |`)].join('\n');
}

async function main(): Promise<void> {
  const runs: { gateway: AllocRun; baseline: AllocRun }[] = [];
  for (let i = 0; i < RUNS; i++) {
    process.stderr.write(`run ${i + 1}/${RUNS}: baseline… `);
    const baseline = await measure('baseline');
    process.stderr.write('gateway… ');
    const gateway = await measure('gateway');
    process.stderr.write(`${gateway.bytesPerMessage} vs ${baseline.bytesPerMessage} bytes per message\n`);
    runs.push({ gateway, baseline });
  }
  const g = runs.map((r) => r.gateway.bytesPerMessage);
  const b = runs.map((r) => r.baseline.bytesPerMessage);
  const ratio = runs.map((r) => Math.round((r.gateway.bytesPerMessage / r.baseline.bytesPerMessage) * 100) / 100);
  const last = runs[runs.length - 1] as (typeof runs)[number];
  const result = {
    started: new Date().toISOString(),
    node: process.version,
    legs: LEGS,
    seconds: SECONDS,
    rateHz: RATE,
    gatewayBytesPerMessage: g,
    baselineBytesPerMessage: b,
    ratio,
    runs,
  };
  const md = [
    `# Allocation per audio message (\`npm run bench:alloc\`)`,
    '',
    `${result.started.slice(0, 10)}, Node ${process.version}, ${LEGS} legs at ${RATE / 1000} kHz, ${SECONDS} s sampled per run after a warm-up, ${RUNS} run(s).`,
    'Bytes allocated on the JavaScript heap (including objects already collected) ÷ audio messages handled (in + out).',
    '',
    '| | gateway | bare `ws` echo | ratio |',
    '|---|---|---|---|',
    `| bytes per message (each run) | ${g.join(' / ')} | ${b.join(' / ')} | ${ratio.join(' / ')} |`,
    '',
    '## Where the gateway allocates (last run), by the innermost frame of our own code',
    '',
    table(last.gateway.ownTop, last.gateway.totalBytes),
    '',
    '## … by our own call site and the innermost frame under it',
    '',
    table(last.gateway.pairs, last.gateway.totalBytes),
    '',
    '## … and by the innermost frame',
    '',
    table(last.gateway.top, last.gateway.totalBytes),
    '',
    '## The bare server, by the innermost frame',
    '',
    table(last.baseline.top, last.baseline.totalBytes),
    '',
  ].join('\n');
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(join(OUT_DIR, 'alloc.json'), JSON.stringify(result, null, 2) + '\n');
  writeFileSync(join(OUT_DIR, 'alloc.md'), md);
  process.stdout.write(md);
}

void main().catch((err: unknown) => {
  process.stderr.write(`bench:alloc failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
