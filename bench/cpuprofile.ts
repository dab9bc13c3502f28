/**
 * `node dist/bench/cpuprofile.js DIR|FILE… [--top=25] [--json]`: where a process's CPU went, from V8 CPU profiles
 * (`node --cpu-prof`, e.g. `bench/burst.ts --profile=DIR`). Per thread kind (the main thread, which paces every call,
 * and worker threads, e.g. Flite's), the busy time (all samples but `(idle)`) split by:
 * - **self time by function** (name, file:line): where the samples landed;
 * - **self time by file**: our source files (`src/…`, mapped from `dist/`), npm packages (`ws`, `pino`, …), Node's
 *   internals (`node:…`), WebAssembly, V8 builtins and native code (`(native)`), the garbage collector, `(program)`
 *   (V8 and libuv outside JS: syscalls, the event loop);
 * - **total time by our file**: the samples with a function of that file anywhere on the stack (a file's cost with
 *   everything it calls: e.g. `src/vad/fvad.ts` includes the WebRTC VAD's WebAssembly).
 * Profiles of several processes or runs add up. Times are ms of samples; shares are of the busy time of that thread kind.
 * `--after-s=S`: only samples from S seconds after the profile started (leave out the process's start-up);
 * `--until-s=S`: only samples before S seconds (with `--after-s`, a window: e.g. the burst of calls being answered).
 * `--stretches=MS`: instead, the main thread's busy stretches of at least MS ms (no idle sample: a timer due inside one,
 * such as the pacer's tick, waited for its end), longest first, each with what it ran (the innermost own function).
 * `--callers=NAME`: the stacks (innermost first, 8 frames) under which functions whose name contains NAME spent their
 * self time, e.g. `--callers=writev` for who writes to sockets.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
/** The `.cpuprofile` JSON V8 writes (the parts read here). */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface CpuSummary {
  /** ms of samples, `(idle)` included. */
  totalMs: number;
  idleMs: number;
  /** ms of samples not `(idle)`. */
  busyMs: number;
  /** Self ms by `function (file:line)`. */
  byFunction: Map<string, number>;
  /** Self ms by file or category. */
  byFile: Map<string, number>;
  /** ms of samples with a function of our file (`src/…`, `bench/…`) anywhere on the stack. */
  totalByOwnFile: Map<string, number>;
  /** With `callersOf`: self ms of the matching functions by stack (innermost first). */
  callers: Map<string, number>;
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** The file or category a frame belongs to (see the file comment). */
export function fileOf(f: CallFrame): string {
  if (SPECIAL.has(f.functionName) && !f.url) return f.functionName;
  const url = f.url;
  if (!url) return '(native)';
  if (url.startsWith('node:')) return url;
  if (url.startsWith('wasm://')) return '(wasm)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const own = /\/dist\/((?:src|bench)\/.*)\.js$/.exec(url);
  if (own) return `${own[1]}.ts`;
  return url;
}

/** Our own code (its total time is reported too). */
const isOwn = (file: string) => file.startsWith('src/') || file.startsWith('bench/');

function add(m: Map<string, number>, k: string, v: number): void {
  m.set(k, (m.get(k) ?? 0) + v);
}

export function emptySummary(): CpuSummary {
  return { totalMs: 0, idleMs: 0, busyMs: 0, byFunction: new Map(), byFile: new Map(), totalByOwnFile: new Map(), callers: new Map() };
}

const frameName = (f: CallFrame) => (SPECIAL.has(f.functionName) ? f.functionName : `${f.functionName || '(anonymous)'} (${fileOf(f)}:${f.lineNumber + 1})`);

export interface SummarizeOptions {
  /** See {@link CpuSummary.callers}. */
  callersOf?: string;
  /** Leave out the samples of the first this many ms of the profile. */
  afterMs?: number;
  /** Leave out the samples from this many ms of the profile on. */
  untilMs?: number;
}

/** A profile's nodes by id, and each node's parent. */
function indexNodes(p: CpuProfile): { byId: Map<number, ProfileNode>; parent: Map<number, number> } {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  return { byId, parent };
}

/** Each sample within `afterMs`…`untilMs`: its node, when it was taken (ms since the start) and how long it lasted. */
function eachSample(p: CpuProfile, byId: Map<number, ProfileNode>, o: SummarizeOptions, fn: (node: ProfileNode, atMs: number, ms: number) => void): void {
  const { afterMs = 0, untilMs = Infinity } = o;
  // V8 records the time since the previous sample with each sample: sample i lasted until sample i + 1.
  let atMs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    atMs += (p.timeDeltas[i] ?? 0) / 1000;
    const ms = (p.timeDeltas[i + 1] ?? 0) / 1000;
    if (ms <= 0 || atMs < afterMs || atMs >= untilMs) continue;
    const node = byId.get(p.samples[i]!);
    if (node) fn(node, atMs, ms);
  }
}

/** Add one profile's samples to `into` (a fresh summary when not given). */
export function summarize(p: CpuProfile, into: CpuSummary = emptySummary(), o: SummarizeOptions = {}): CpuSummary {
  const { callersOf } = o;
  const { byId, parent } = indexNodes(p);
  // The own files on each node's stack, computed once per node.
  const ownOnStack = new Map<number, Set<string>>();
  const stackFiles = (id: number): Set<string> => {
    let s = ownOnStack.get(id);
    if (s) return s;
    const up = parent.get(id);
    s = new Set(up === undefined ? [] : stackFiles(up));
    const file = fileOf(byId.get(id)!.callFrame);
    if (isOwn(file)) s.add(file);
    ownOnStack.set(id, s);
    return s;
  };
  eachSample(p, byId, o, (node, _atMs, ms) => {
    const f = node.callFrame;
    into.totalMs += ms;
    if (f.functionName === '(idle)') {
      into.idleMs += ms;
      return;
    }
    into.busyMs += ms;
    const file = fileOf(f);
    add(into.byFile, file, ms);
    add(into.byFunction, frameName(f), ms);
    for (const own of stackFiles(node.id)) add(into.totalByOwnFile, own, ms);
    if (callersOf !== undefined && f.functionName.includes(callersOf)) {
      const stack: string[] = [];
      for (let id: number | undefined = node.id; id !== undefined && stack.length < 8; id = parent.get(id)) stack.push(frameName(byId.get(id)!.callFrame));
      add(into.callers, stack.join(' ← '), ms);
    }
  });
  return into;
}

/** A stretch of the profile with no idle sample: the event loop never waited (a timer due in it waited for its end). */
export interface BusyStretch {
  /** ms since the profile started. */
  atMs: number;
  ms: number;
  /** What it was spent on: the innermost own function on the stack (`fn (src/file.ts:line)`), else the sample's file or category. */
  by: Array<[string, number]>;
}

/** The busy stretches of at least `minMs` in a profile (within `afterMs`…`untilMs`), longest first. */
export function busyStretches(p: CpuProfile, minMs: number, o: SummarizeOptions = {}): BusyStretch[] {
  const { byId, parent } = indexNodes(p);
  const label = (id: number): string => {
    for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
      const f = byId.get(up)!.callFrame;
      if (isOwn(fileOf(f))) return frameName(f);
    }
    return fileOf(byId.get(id)!.callFrame);
  };
  const out: BusyStretch[] = [];
  let cur: { atMs: number; ms: number; by: Map<string, number> } | undefined;
  const end = () => {
    if (cur && cur.ms >= minMs) out.push({ atMs: cur.atMs, ms: cur.ms, by: [...cur.by].sort((a, b) => b[1] - a[1]) });
    cur = undefined;
  };
  eachSample(p, byId, o, (node, atMs, ms) => {
    if (node.callFrame.functionName === '(idle)') return end();
    cur ??= { atMs, ms: 0, by: new Map() };
    cur.ms += ms;
    add(cur.by, label(node.id), ms);
  });
  end();
  return out.sort((a, b) => b.ms - a.ms);
}

/** `.cpuprofile` files under the arguments (files, or directories searched recursively). */
export function profileFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (statSync(p).isDirectory()) out.push(...profileFiles(readdirSync(p).map((f) => join(p, f))));
    else if (p.endsWith('.cpuprofile')) out.push(p);
  }
  return out.sort();
}

/** Node names profiles `CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`: thread 0 is the main thread. */
export function threadKind(file: string): 'main' | 'worker' {
  const parts = basename(file).split('.');
  return parts.length >= 7 && parts[parts.length - 3] !== '0' ? 'worker' : 'main';
}

function table(title: string, m: Map<string, number>, busyMs: number, top: number): string {
  const rows = [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  let md = `| ${title} | ms | % of busy |\n|---|---:|---:|\n`;
  for (const [k, ms] of rows) md += `| ${k.replace(/\|/g, '\\|')} | ${ms.toFixed(0)} | ${((ms / busyMs) * 100).toFixed(1)} |\n`;
  return md;
}

/** The markdown report of one thread kind. */
export function report(kind: string, files: number, s: CpuSummary, top: number): string {
  let md = `## ${kind} thread${files > 1 ? 's' : ''} (${files} profile${files > 1 ? 's' : ''})\n\n`;
  md += `Sampled ${(s.totalMs / 1000).toFixed(1)} s, busy ${(s.busyMs / 1000).toFixed(2)} s (${((s.busyMs / Math.max(1, s.totalMs)) * 100).toFixed(1)} %).\n\n`;
  md += `${table('self time by file', s.byFile, s.busyMs, top)}\n${table('total time by our file', s.totalByOwnFile, s.busyMs, top)}\n`;
  md += `${table('self time by function', s.byFunction, s.busyMs, top)}\n`;
  if (s.callers.size) md += `${table('stacks of the matching functions', s.callers, s.busyMs, top)}\n`;
  return md;
}

function main(): void {
  const argv = process.argv.slice(2);
  const top = Number(argv.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
  const callersOf = argv.find((a) => a.startsWith('--callers='))?.slice(10);
  const afterMs = Number(argv.find((a) => a.startsWith('--after-s='))?.slice(10) ?? 0) * 1000;
  const untilMs = Number(argv.find((a) => a.startsWith('--until-s='))?.slice(10) ?? Infinity) * 1000;
  const stretchMs = argv.find((a) => a.startsWith('--stretches='))?.slice(12);
  const files = profileFiles(argv.filter((a) => !a.startsWith('--')));
  if (!files.length) {
    process.stderr.write('usage: node dist/bench/cpuprofile.js DIR|FILE… [--top=25] [--after-s=S] [--until-s=S] [--callers=NAME] [--stretches=MS] [--json]\n');
    process.exit(2);
  }
  if (stretchMs !== undefined) {
    for (const f of files.filter((x) => threadKind(x) === 'main')) {
      const list = busyStretches(JSON.parse(readFileSync(f, 'utf8')) as CpuProfile, Number(stretchMs), { afterMs, untilMs });
      process.stdout.write(`## ${f}: ${list.length} busy stretches of ≥ ${stretchMs} ms (longest first)\n\n`);
      for (const b of list.slice(0, top))
        process.stdout.write(
          `- at ${(b.atMs / 1000).toFixed(3)} s, ${b.ms.toFixed(1)} ms: ${b.by
            .slice(0, 6)
            .map(([k, ms]) => `${k} ${ms.toFixed(1)}`)
            .join('; ')}\n`,
        );
      process.stdout.write('\n');
    }
    return;
  }
  const kinds = new Map<string, { files: number; s: CpuSummary }>();
  for (const f of files) {
    const kind = threadKind(f);
    const k = kinds.get(kind) ?? { files: 0, s: emptySummary() };
    summarize(JSON.parse(readFileSync(f, 'utf8')) as CpuProfile, k.s, { callersOf, afterMs, untilMs });
    k.files++;
    kinds.set(kind, k);
  }
  if (argv.includes('--json')) {
    const json = Object.fromEntries(
      [...kinds].map(([kind, { files: n, s }]) => [
        kind,
        {
          profiles: n,
          totalMs: s.totalMs,
          busyMs: s.busyMs,
          byFile: Object.fromEntries(s.byFile),
          totalByOwnFile: Object.fromEntries(s.totalByOwnFile),
          byFunction: Object.fromEntries([...s.byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)),
        },
      ]),
    );
    process.stdout.write(JSON.stringify(json, null, 2) + '\n');
    return;
  }
  for (const kind of ['main', 'worker']) {
    const k = kinds.get(kind);
    if (k) process.stdout.write(report(kind, k.files, k.s, top));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
