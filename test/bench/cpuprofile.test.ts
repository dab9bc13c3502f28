/**
 * bench/cpuprofile: self time by function and by file (our files mapped from dist/ to src/, packages by name, Node's
 * internals, V8's categories), total time by our file over the stack, `(idle)` left out of the busy time; and the
 * tool on a real profile written by `node --cpu-prof`.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyStretches, fileOf, summarize, threadKind, type CpuProfile } from '../../bench/cpuprofile.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0 });

t.test('fileOf: our files, packages, Node, WebAssembly, V8', async (t) => {
  t.equal(fileOf(frame('onFrame', 'file:///w/dist/src/call/hearing.js')), 'src/call/hearing.ts');
  t.equal(fileOf(frame('level', 'file:///w/dist/bench/burst.js')), 'bench/burst.ts');
  t.equal(fileOf(frame('getData', 'file:///w/node_modules/ws/lib/receiver.js')), 'ws');
  t.equal(fileOf(frame('x', 'file:///w/node_modules/@echogarden/fvad-wasm/fvad.js')), '@echogarden/fvad-wasm');
  t.equal(fileOf(frame('writeGeneric', 'node:internal/stream_base_commons')), 'node:internal/stream_base_commons');
  t.equal(fileOf(frame('$func12', 'wasm://wasm/0012abcd')), '(wasm)');
  t.equal(fileOf(frame('(garbage collector)')), '(garbage collector)');
  t.equal(fileOf(frame('writev')), '(native)');
});

t.test('summarize: self and total time, idle apart', async (t) => {
  // root → onMessage (leg.ts) → isSpeech (fvad.ts) → wasm ; root → (idle) ; root → (garbage collector)
  const p: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 5, 6] },
      { id: 2, callFrame: frame('onMessage', 'file:///w/dist/src/leg/leg.js', 9), children: [3] },
      { id: 3, callFrame: frame('isSpeech', 'file:///w/dist/src/vad/fvad.js', 41), children: [4] },
      { id: 4, callFrame: frame('$f', 'wasm://wasm/1'), children: [] },
      { id: 5, callFrame: frame('(idle)'), children: [] },
      { id: 6, callFrame: frame('(garbage collector)'), children: [] },
    ],
    // A sample lasts until the next one: deltas[i + 1] is sample i's time (µs).
    samples: [4, 4, 3, 2, 5, 6, 5],
    timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
  };
  const s = summarize(p);
  t.equal(s.totalMs, 7);
  t.equal(s.idleMs, 2);
  t.equal(s.busyMs, 5);
  t.same(Object.fromEntries(s.byFile), { '(wasm)': 2, 'src/vad/fvad.ts': 1, 'src/leg/leg.ts': 1, '(garbage collector)': 1 });
  t.same(Object.fromEntries(s.totalByOwnFile), { 'src/vad/fvad.ts': 3, 'src/leg/leg.ts': 4 });
  t.equal(s.byFunction.get('isSpeech (src/vad/fvad.ts:42)'), 1);
  t.equal(threadKind('CPU.20261203.031500.4242.0.001.cpuprofile'), 'main');
  t.equal(threadKind('CPU.20261203.031500.4242.3.002.cpuprofile'), 'worker');
});

t.test('busyStretches: runs of samples with no idle one, longest first, by innermost own function', async (t) => {
  const p: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 5, 6] },
      { id: 2, callFrame: frame('onMessage', 'file:///w/dist/src/leg/leg.js', 9), children: [3] },
      { id: 3, callFrame: frame('getData', 'file:///w/node_modules/ws/lib/receiver.js', 1), children: [] },
      { id: 5, callFrame: frame('(idle)'), children: [] },
      { id: 6, callFrame: frame('(garbage collector)'), children: [] },
    ],
    // busy 2 ms, idle, busy 4 ms (ws under onMessage ×3, then GC), idle
    samples: [2, 3, 5, 3, 3, 2, 6, 5, 5],
    timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
  };
  const all = busyStretches(p, 0);
  t.same(
    all.map((b) => [b.atMs, b.ms]),
    [
      [3, 4],
      [0, 2],
    ],
    'two stretches, the longer first, each from its first busy sample',
  );
  t.same(all[0]!.by, [
    ['onMessage (src/leg/leg.ts:10)', 3],
    ['(garbage collector)', 1],
  ]);
  t.same(
    busyStretches(p, 3).map((b) => b.ms),
    [4],
    'shorter ones left out',
  );
  t.same(
    busyStretches(p, 0, { afterMs: 2 }).map((b) => b.ms),
    [4],
    'a window leaves the first out',
  );
});

t.test('the tool on a real profile: the busy function of a script is at the top', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cpuprofile-'));
  const script = join(dir, 'spin.mjs');
  writeFileSync(script, 'function spin() { let x = 1; for (let i = 0; i < 2e8; i++) x = (x * 1103515245 + 12345) | 0; return x; }\nconsole.log(spin());\n');
  const run = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, script], { encoding: 'utf8' });
  t.equal(run.status, 0, run.stderr);
  const r = spawnSync(process.execPath, ['dist/bench/cpuprofile.js', dir, '--top=5'], { encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /## main thread/);
  t.match(r.stdout, /self time by function \| ms \| % of busy \|\n\|---\|---:\|---:\|\n\| spin \(/, 'spin() has the most self time');
});
