/**
 * Memory and CPU per call, for each pipeline: starts the real gateway (`dist/src/main.js`) as a child process, measures
 * it idle, opens one leg that talks like a Vonage caller (recorded speech then low noise, a frame every 20 ms, looped),
 * measures, opens N−1 more and measures again: the first call's cost includes what is loaded once per process (a cloud
 * SDK, TTS workers), the per-call figure is the marginal one (calls 2..N). Memory is the gateway plus every process it started (the offline recogniser runs one per call):
 * RSS (what `ps` and most dashboards show; shared pages counted in each process) and PSS (shared pages split between
 * their users: what the machine actually spends). CPU is the tree's user+system time over a steady window.
 *
 *   node dist/bench/memory-per-call.js [--calls=echo=40,offline=10,cloud=40] [--runs=3] [--pipelines=echo,offline,cloud]
 *                                      [--warmup-s=8] [--window-s=10]
 *
 * Before each memory sample the gateway runs a full garbage collection (this file, preloaded into the gateway with
 * `--expose-gc --import`, answers a `gc` message on the IPC channel), so the figures are live memory, not V8's
 * collection schedule: without it, the light pipelines' per-call figure swings from −5 to +24 MB between runs.
 *
 * Pipelines (the echo bot in all three, Flite TTS):
 * - `echo`: no ASR (the echo bot plays each utterance back);
 * - `offline`: pocketsphinx (`ASR_ADAPTER=local`), the default when it is installed;
 * - `cloud`: the Microsoft Speech SDK (`ASR_ADAPTER=microsoft`) against the local fake service of the tests, i.e.
 *   a cloud ASR's cost in the gateway: its SDK is loaded once per process, each call holds a recogniser and a socket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const MAIN = join(here, '..', 'src', 'main.js');
const SPEECH = readFileSync('/usr/share/pocketsphinx/test/data/goforward.raw'); // 16 kHz, 3.6 s
const FRAME_BYTES = 640;
const CLK_TCK = 100;
const PAGE = 4096;

/** Loaded into the gateway (`--import`, with MEMORY_BENCH_GC_HOOK=1): a full GC on request, then an answer. */
function installGcHook(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (m) => {
    if (m !== 'gc') return;
    gc?.();
    gc?.();
    process.send?.('gc-done');
  });
  process.channel?.unref(); // the IPC channel must not keep the gateway alive
}

function arg(name: string, def: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  cpuTicks: number;
  rssBytes: number;
}

function readProc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const f = stat.slice(close + 2).split(' ');
    return {
      pid,
      ppid: Number(f[1]),
      comm: stat.slice(stat.indexOf('(') + 1, close),
      cpuTicks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
      rssBytes: Number(f[21]) * PAGE,
    };
  } catch {
    return undefined;
  }
}

function pss(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** The gateway and its descendants. `cpuTicks` includes reaped children (cutime/cstime). */
function tree(root: number): Proc[] {
  const all: Proc[] = [];
  for (const n of readdirSync('/proc'))
    if (/^\d+$/.test(n)) {
      const p = readProc(Number(n));
      if (p) all.push(p);
    }
  const ids = new Set([root]);
  for (let added = true; added;) {
    added = false;
    for (const p of all)
      if (!ids.has(p.pid) && ids.has(p.ppid)) {
        ids.add(p.pid);
        added = true;
      }
  }
  return all.filter((p) => ids.has(p.pid));
}

interface Sample {
  rss: number;
  pss: number;
  cpuTicks: number;
  processes: number;
}

function sample(root: number): Sample {
  const t = tree(root);
  return {
    rss: t.reduce((n, p) => n + p.rssBytes, 0),
    pss: t.reduce((n, p) => n + pss(p.pid), 0),
    cpuTicks: t.reduce((n, p) => n + p.cpuTicks, 0),
    processes: t.length,
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitHealthy(url: string, gw: ChildProcess): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (gw.exitCode !== null) throw new Error(`gateway exited (${gw.exitCode})`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  throw new Error('gateway did not become healthy');
}

/** N legs talking like Vonage callers: speech, 2 s of low noise, looped; one frame per leg every 20 ms. */
async function openCallers(wsUrl: string, n: number, firstId = 0): Promise<{ legs: WebSocket[]; stop(): void }> {
  const legs = await Promise.all(
    Array.from(
      { length: n },
      (_, j) =>
        new Promise<WebSocket>((resolve, reject) => {
          const i = firstId + j;
          const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
          ws.on('error', reject);
          ws.on('message', (d, isBinary) => {
            if (isBinary) return;
            const m = JSON.parse((d as Buffer).toString()) as { action?: string; payload?: unknown };
            if (m.action === 'notify') ws.send(JSON.stringify({ event: 'websocket:notify', payload: m.payload }));
          });
          ws.once('open', () => {
            ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': 'audio/l16;rate=16000', uuid: `mem-${i}` }));
            resolve(ws);
          });
        }),
    ),
  );
  const loop = Buffer.concat([SPEECH, Buffer.alloc(32000 * 2)]);
  for (let i = 0; i < loop.length - SPEECH.length; i += 2) loop.writeInt16LE(Math.round((Math.random() - 0.5) * 64), SPEECH.length + i);
  const framesInLoop = Math.floor(loop.length / FRAME_BYTES);
  const t0 = performance.now();
  let tick = 0;
  let timer: NodeJS.Timeout | undefined;
  const step = () => {
    for (let i = 0; i < legs.length; i++) {
      const f = ((tick + i * 37) % framesInLoop) * FRAME_BYTES; // callers out of step with each other
      if (legs[i]!.readyState === WebSocket.OPEN) legs[i]!.send(loop.subarray(f, f + FRAME_BYTES));
    }
    tick++;
    timer = setTimeout(step, Math.max(0, t0 + tick * 20 - performance.now()));
  };
  step();
  return {
    legs,
    stop() {
      clearTimeout(timer);
      for (const l of legs) l.close();
    },
  };
}

interface RunResult {
  pipeline: string;
  idle: Sample;
  /** One call, warmed up: what the first call costs includes what is loaded lazily once (SDKs, TTS workers). */
  one: Sample;
  loaded: Sample;
  firstCallRssMB: number;
  rssPerCallMB: number;
  pssPerCallMB: number;
  /** Cores per call in the steady window. */
  cpuPerCall: number;
  /** CPU seconds per call from the legs opening to the end of the warm-up (start-up, greeting, first utterances). */
  warmupCpuSPerCall: number;
}

async function run(pipeline: string, calls: number, warmupS: number, windowS: number): Promise<RunResult> {
  const port = await freePort();
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    HOST: '127.0.0.1',
    PORT: String(port),
    LOG_LEVEL: 'warn',
    WORKERS: '1', // per-call figures of one process
    BOT_ADAPTER: 'echo',
    TTS_ADAPTER: 'flite',
    UPGRADE_RATE_PER_SOURCE: '0',
    LOCAL_ASR_MAX_PROCESSES: String(calls + 10),
  };
  let fake: { host: string; close(): Promise<void> } | undefined;
  if (pipeline === 'echo') env.ASR_ADAPTER = 'none';
  else if (pipeline === 'offline') env.ASR_ADAPTER = 'local';
  else if (pipeline === 'cloud') {
    fake = await (await import('../test/fakes/microsoft-speech.js')).startFakeMicrosoftSpeech({}); // not in the gateway's preload
    Object.assign(env, { ASR_ADAPTER: 'microsoft', AZURE_SPEECH_HOST: fake.host, AZURE_SPEECH_KEY: 'bench' });
  } else throw new Error(`unknown pipeline ${pipeline}`);
  const gw = spawn(process.execPath, ['--expose-gc', `--import=${fileURLToPath(import.meta.url)}`, MAIN], {
    env: { ...env, MEMORY_BENCH_GC_HOOK: '1' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const collect = () =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5000);
      gw.once('message', () => {
        clearTimeout(t);
        setTimeout(resolve, 200); // let freed pages go back
      });
      gw.send('gc');
    });
  const measure = async (pid: number) => {
    await collect();
    return sample(pid);
  };
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitHealthy(url, gw);
    await sleep(2000);
    const pid = gw.pid as number;
    const idle = await measure(pid);
    const wsUrl = `ws://127.0.0.1:${port}/socket`;
    const first = await openCallers(wsUrl, 1);
    await sleep(warmupS * 1000);
    const one = await measure(pid);
    const more = await openCallers(wsUrl, calls - 1, 1);
    await sleep(warmupS * 1000);
    const warm = sample(pid);
    await sleep(windowS * 1000);
    const cpuEnd = sample(pid).cpuTicks;
    const loaded = await measure(pid);
    first.stop();
    more.stop();
    // Marginal cost of a call: calls 2..N over the first one (which also pays for what is loaded once per process).
    const perCall = (a: number, b: number) => (b - a) / (calls - 1) / 1024 / 1024;
    return {
      pipeline,
      idle,
      one,
      loaded,
      firstCallRssMB: (one.rss - idle.rss) / 1024 / 1024,
      rssPerCallMB: perCall(one.rss, loaded.rss),
      pssPerCallMB: perCall(one.pss, loaded.pss),
      cpuPerCall: (cpuEnd - warm.cpuTicks) / CLK_TCK / windowS / calls,
      warmupCpuSPerCall: (warm.cpuTicks - one.cpuTicks) / CLK_TCK / (calls - 1),
    };
  } finally {
    gw.kill('SIGTERM');
    await new Promise((r) => (gw.exitCode !== null ? r(undefined) : gw.once('exit', r)));
    await fake?.close();
  }
}

async function main(): Promise<void> {
  const callsArg = arg('calls', 'echo=40,offline=10,cloud=40');
  const callsOf = (p: string) => {
    if (/^\d+$/.test(callsArg)) return Number(callsArg);
    const m = new RegExp(`(?:^|,)${p}=(\\d+)`).exec(callsArg);
    return m ? Number(m[1]) : 10;
  };
  const runs = Number(arg('runs', '3'));
  const warmupS = Number(arg('warmup-s', '8'));
  const windowS = Number(arg('window-s', '10'));
  const pipelines = arg('pipelines', 'echo,offline,cloud').split(',');
  const results: RunResult[] = [];
  const mb = (b: number) => (b / 1024 / 1024).toFixed(0);
  for (let r = 0; r < runs; r++) {
    for (const p of pipelines) {
      const calls = callsOf(p);
      const res = await run(p, calls, warmupS, windowS);
      results.push(res);
      console.log(
        `${p.padEnd(8)} run ${r + 1}: idle RSS ${mb(res.idle.rss)} MB (PSS ${mb(res.idle.pss)}), first call +${res.firstCallRssMB.toFixed(0)} MB, ${calls} calls RSS ${mb(res.loaded.rss)} MB (PSS ${mb(res.loaded.pss)}), ` +
          `${res.loaded.processes} processes; per call: RSS +${res.rssPerCallMB.toFixed(1)} MB, PSS +${res.pssPerCallMB.toFixed(1)} MB, ` +
          `CPU ${(res.cpuPerCall * 100).toFixed(1)} % of a core steady, ${res.warmupCpuSPerCall.toFixed(2)} s CPU in the first ${warmupS} s`,
      );
    }
  }
  console.log(`\n${runs} runs (min–max):`);
  console.log(
    '| pipeline | calls | idle RSS MB | first call RSS MB | RSS per further call MB | PSS per further call MB | CPU per call (steady) | CPU s per call (first ' +
      warmupS +
      ' s) |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const p of pipelines) {
    const rs = results.filter((r) => r.pipeline === p);
    const span = (f: (r: RunResult) => number, d: number) => {
      const v = rs.map(f);
      return `${Math.min(...v).toFixed(d)}–${Math.max(...v).toFixed(d)}`;
    };
    console.log(
      `| ${p} | ${callsOf(p)} | ${span((r) => r.idle.rss / 1048576, 0)} | ${span((r) => r.firstCallRssMB, 0)} | ${span((r) => r.rssPerCallMB, 1)} | ${span((r) => r.pssPerCallMB, 1)} | ${span((r) => r.cpuPerCall * 100, 1)} % | ${span((r) => r.warmupCpuSPerCall, 2)} |`,
    );
  }
}

if (process.env.MEMORY_BENCH_GC_HOOK === '1') installGcHook();
else await main();
