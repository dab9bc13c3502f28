/**
 * Where a late 20 ms tick's time went, measured inside the benchmark target (bench/target-gateway.ts): for every tick
 * the main thread's own scheduler accounting (`/proc/thread-self/schedstat`: nanoseconds **on the CPU** and **waiting
 * on the run queue**, i.e. runnable but not running because another thread or process had the core), and the
 * garbage collector's pauses (a `PerformanceObserver` for `gc` entries: start, duration, kind). A tick whose interval
 * from the previous one is past {@link LATE_TICK_MS} is *late*; the report compares what the late ticks' intervals
 * held (on-CPU time, run-queue wait, GC pause overlapping them) with the average interval. Per thread of the process
 * (main, V8's GC helpers, libuv's pool, …) it reports CPU and run-queue wait over the window, so a pinned process
 * whose own helper threads take the core from the main thread shows.
 *
 * Linux only (elsewhere the scheduler figures are absent, the GC figures remain). Bounded: at most {@link MAX_LATE}
 * late ticks and {@link MAX_GC} GC entries are kept per window; the rest are counted.
 */
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

/** A tick interval past this (the load test's pacing limit) counts as late. */
export const LATE_TICK_MS = 25;
const MAX_LATE = 2048;
const MAX_GC = 8192;

const GC_KINDS: Array<[number, string]> = [
  [constants.NODE_PERFORMANCE_GC_MINOR, 'minor'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'major'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakcb'],
];

export interface TickTime {
  /** Ticks (intervals) in the window. */
  ticks: number;
  /** Mean per interval, ms: wall, main thread on the CPU, main thread waiting on the run queue, GC pause inside. */
  wallMs: number;
  runMs: number;
  waitMs: number;
  gcMs: number;
}

export interface TailReport {
  /** Every tick interval of the window. */
  all: TickTime;
  /** The late ones (interval > {@link LATE_TICK_MS}). */
  late: TickTime;
  /** Late intervals that held a GC pause of ≥ 1 ms, and those whose main thread waited ≥ 1 ms on the run queue. */
  lateWithGc: number;
  lateWithWait: number;
  /** The five worst intervals: wall, on-CPU, run-queue wait, GC pause (ms) and the GC kinds inside. */
  worst: Array<{ wallMs: number; runMs: number; waitMs: number; gcMs: number; gc: string }>;
  /** GC pauses in the window by kind: count, total and longest (ms). */
  gc: Record<string, { count: number; totalMs: number; maxMs: number }>;
  /** Per thread name (`main` = the event loop): CPU and run-queue wait over the window, ms. */
  threads: Record<string, { threads: number; cpuMs: number; waitMs: number }>;
  windowMs: number;
}

const round = (x: number) => Math.round(x * 100) / 100;

/** Reads one task's schedstat ("run_ns wait_ns slices") without allocating: pread at 0 re-generates a proc file. */
class SchedStat {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(96);
  runNs = 0;
  waitNs = 0;

  private constructor(fd: number) {
    this.fd = fd;
  }

  static open(path: string): SchedStat | undefined {
    let s: SchedStat | undefined;
    try {
      s = new SchedStat(openSync(path, 'r'));
      if (s.read()) return s;
    } catch {
      // no such file (not Linux, or no scheduler statistics)
    }
    s?.close();
    return undefined;
  }

  /** Refresh {@link runNs} and {@link waitNs}; false if unreadable. */
  read(): boolean {
    const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
    let field = 0;
    let v = 0;
    for (let i = 0; i < n; i++) {
      const c = this.buf[i]!;
      if (c >= 48 && c <= 57) v = v * 10 + (c - 48);
      else {
        if (field === 0) this.runNs = v;
        else if (field === 1) {
          this.waitNs = v;
          return true;
        }
        field++;
        v = 0;
      }
    }
    return false;
  }

  close(): void {
    closeSync(this.fd);
  }
}

interface ThreadSample {
  name: string;
  runNs: number;
  waitNs: number;
}

/** Every thread of this process: its name (`main` for the event loop's) and schedstat figures. */
function threads(): Map<number, ThreadSample> {
  const out = new Map<number, ThreadSample>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const [run, wait] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      const name = Number(tid) === process.pid ? 'main' : readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      out.set(Number(tid), { name, runNs: run ?? 0, waitNs: wait ?? 0 });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

export class TailDiag {
  private readonly main = SchedStat.open('/proc/thread-self/schedstat');
  private readonly observer: PerformanceObserver;
  private prevTick = 0;
  private prevRunNs = 0;
  private prevWaitNs = 0;
  private windowStart = performance.now();
  private threadsAtStart = threads();
  // Sums over every interval, and the late intervals kept for matching with GC entries at report time (GC entries
  // are delivered after the pause, asynchronously).
  private ticks = 0;
  private wallSum = 0;
  private runSum = 0;
  private waitSum = 0;
  private late: Array<{ from: number; to: number; runMs: number; waitMs: number }> = [];
  private lateDropped = 0;
  private gcEntries: Array<{ start: number; end: number; kind: number }> = [];

  constructor() {
    this.observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) this.onGc(e);
    });
    this.observer.observe({ entryTypes: ['gc'] });
  }

  private onGc(e: PerformanceEntry): void {
    if (this.gcEntries.length >= MAX_GC) return;
    const kind = ((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind ?? 0;
    this.gcEntries.push({ start: e.startTime, end: e.startTime + e.duration, kind });
  }

  /** Call at every tick of the shared ticker, with its time (ms, `performance.now()`). */
  onTick(nowMs: number): void {
    let runMs = 0;
    let waitMs = 0;
    if (this.main?.read()) {
      runMs = (this.main.runNs - this.prevRunNs) / 1e6;
      waitMs = (this.main.waitNs - this.prevWaitNs) / 1e6;
      this.prevRunNs = this.main.runNs;
      this.prevWaitNs = this.main.waitNs;
    }
    const prev = this.prevTick;
    this.prevTick = nowMs;
    if (!prev) return;
    const wall = nowMs - prev;
    this.ticks++;
    this.wallSum += wall;
    this.runSum += runMs;
    this.waitSum += waitMs;
    if (wall <= LATE_TICK_MS) return;
    if (this.late.length < MAX_LATE) this.late.push({ from: prev, to: nowMs, runMs, waitMs });
    else this.lateDropped++;
  }

  /** GC pause (ms) inside [from, to], and the kinds that paused. */
  private gcIn(from: number, to: number): { ms: number; kinds: string } {
    let ms = 0;
    const kinds: string[] = [];
    for (const g of this.gcEntries) {
      const o = Math.min(to, g.end) - Math.max(from, g.start);
      if (o <= 0) continue;
      ms += o;
      kinds.push(`${kindName(g.kind)} ${round(g.end - g.start)}`);
    }
    return { ms, kinds: kinds.join(', ') };
  }

  /** The window since the previous report (or the start), then start a new one. */
  report(): TailReport {
    const now = performance.now();
    const gc: TailReport['gc'] = {};
    for (const g of this.gcEntries) {
      const k = (gc[kindName(g.kind)] ??= { count: 0, totalMs: 0, maxMs: 0 });
      k.count++;
      k.totalMs += g.end - g.start;
      k.maxMs = Math.max(k.maxMs, g.end - g.start);
    }
    for (const k of Object.values(gc)) {
      k.totalMs = round(k.totalMs);
      k.maxMs = round(k.maxMs);
    }
    let gcAll = 0;
    for (const g of this.gcEntries) gcAll += g.end - g.start;
    const late = { ticks: 0, wall: 0, run: 0, wait: 0, gc: 0 };
    let lateWithGc = 0;
    let lateWithWait = 0;
    const rows = this.late.map((l) => {
      const g = this.gcIn(l.from, l.to);
      late.ticks++;
      late.wall += l.to - l.from;
      late.run += l.runMs;
      late.wait += l.waitMs;
      late.gc += g.ms;
      if (g.ms >= 1) lateWithGc++;
      if (l.waitMs >= 1) lateWithWait++;
      return { wallMs: round(l.to - l.from), runMs: round(l.runMs), waitMs: round(l.waitMs), gcMs: round(g.ms), gc: g.kinds };
    });
    late.ticks += this.lateDropped;
    const mean = (n: number, x: number) => (n ? round(x / n) : 0);
    const nLate = this.late.length;
    const end = threads();
    const byName: TailReport['threads'] = {};
    for (const [tid, t] of end) {
      const s = this.threadsAtStart.get(tid);
      const x = (byName[t.name] ??= { threads: 0, cpuMs: 0, waitMs: 0 });
      x.threads++;
      x.cpuMs += (t.runNs - (s?.runNs ?? 0)) / 1e6;
      x.waitMs += (t.waitNs - (s?.waitNs ?? 0)) / 1e6;
    }
    for (const x of Object.values(byName)) {
      x.cpuMs = Math.round(x.cpuMs);
      x.waitMs = Math.round(x.waitMs);
    }
    const r: TailReport = {
      all: {
        ticks: this.ticks,
        wallMs: mean(this.ticks, this.wallSum),
        runMs: mean(this.ticks, this.runSum),
        waitMs: mean(this.ticks, this.waitSum),
        gcMs: mean(this.ticks, gcAll),
      },
      late: { ticks: late.ticks, wallMs: mean(nLate, late.wall), runMs: mean(nLate, late.run), waitMs: mean(nLate, late.wait), gcMs: mean(nLate, late.gc) },
      lateWithGc,
      lateWithWait,
      worst: rows.sort((a, b) => b.wallMs - a.wallMs).slice(0, 5),
      gc,
      threads: byName,
      windowMs: Math.round(now - this.windowStart),
    };
    this.ticks = this.wallSum = this.runSum = this.waitSum = 0;
    this.late = [];
    this.lateDropped = 0;
    this.gcEntries = [];
    this.windowStart = now;
    this.threadsAtStart = end;
    return r;
  }

  close(): void {
    this.observer.disconnect();
    this.main?.close();
  }
}

function kindName(kind: number): string {
  return GC_KINDS.find(([k]) => k === kind)?.[1] ?? `kind${kind}`;
}
