/**
 * Allocation profile of a bench target (issue 18, per core): V8's sampling heap profiler through the inspector, asked
 * to keep the samples of objects that young- and old-generation GCs already collected, so the profile is everything
 * allocated in the window (the garbage that drives scavenges), not only what is still alive. A sample carries the
 * JavaScript stack of the allocation; sites are attributed to the innermost frame and to the innermost frame of our
 * own code (src/, bench/), so `ws` internals and our call sites both show.
 *
 * Load does not change what a frame allocates, so unlike the timing benches this figure is comparable between runs on
 * a noisy machine (sampling adds about ±5 % at the default interval).
 */
import { Session } from 'node:inspector/promises';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  selfSize: number;
  children: ProfileNode[];
}
interface SamplingProfile {
  head: ProfileNode;
  samples: { size: number; nodeId: number }[];
}

export interface AllocSite {
  site: string;
  bytes: number;
}
export interface AllocSummary {
  totalBytes: number;
  /** Innermost frame of each allocation. */
  top: AllocSite[];
  /** Innermost frame in the project's own code (dist/src, dist/bench); `(outside)` when none is on the stack. */
  ownTop: AllocSite[];
  /** Pairs `own site → innermost frame`: what our call sites allocate inside libraries and the runtime. */
  pairs: AllocSite[];
}

const OWN = /\/dist\/(src|bench)\//;

function label(f: CallFrame): string {
  const file = f.url ? f.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules\/|dist\/)/, '$1') : '(native)';
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
}

function rank(map: Map<string, number>, n: number): AllocSite[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([site, bytes]) => ({ site, bytes }));
}

export function summarize(profile: SamplingProfile, n = 25): AllocSummary {
  const self = new Map<string, number>();
  const own = new Map<string, number>();
  const pairs = new Map<string, number>();
  let total = 0;
  const walk = (node: ProfileNode, ownSite: string): void => {
    const here = label(node.callFrame);
    const ownHere = OWN.test(node.callFrame.url) ? here : ownSite;
    if (node.selfSize > 0) {
      total += node.selfSize;
      self.set(here, (self.get(here) ?? 0) + node.selfSize);
      own.set(ownHere, (own.get(ownHere) ?? 0) + node.selfSize);
      const pair = ownHere === here ? here : `${ownHere} → ${here}`;
      pairs.set(pair, (pairs.get(pair) ?? 0) + node.selfSize);
    }
    for (const c of node.children) walk(c, ownHere);
  };
  walk(profile.head, '(outside)');
  return { totalBytes: total, top: rank(self, n), ownTop: rank(own, n), pairs: rank(pairs, n) };
}

/** Start/stop sampling in this process; one window at a time. */
export class AllocProfiler {
  private session: Session | undefined;

  async start(samplingIntervalBytes = 512): Promise<void> {
    if (this.session) throw new Error('allocation profile already running');
    const s = new Session();
    s.connect();
    this.session = s;
    await s.post('HeapProfiler.enable');
    await s.post('HeapProfiler.startSampling', {
      samplingInterval: samplingIntervalBytes,
      // BENCH_ALLOC_SURVIVORS=live: only what is still alive when sampling stops (short windows: what lives long).
      includeObjectsCollectedByMajorGC: process.env.BENCH_ALLOC_SURVIVORS !== 'live',
      // BENCH_ALLOC_SURVIVORS=1: leave out what scavenges collect, keeping what lived through them (promoted, then
      // collected by a full GC or still alive): the old generation's garbage, which sets how often full GCs run.
      includeObjectsCollectedByMinorGC: !process.env.BENCH_ALLOC_SURVIVORS,
    });
  }

  async stop(n = 25): Promise<AllocSummary> {
    const s = this.session;
    if (!s) throw new Error('no allocation profile running');
    this.session = undefined;
    try {
      const { profile } = (await s.post('HeapProfiler.stopSampling')) as unknown as { profile: SamplingProfile };
      return summarize(profile, n);
    } finally {
      s.disconnect();
    }
  }
}
