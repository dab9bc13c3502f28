/**
 * bench:alloc — the allocation profile (issue 18): the summariser attributes sampled bytes to the innermost frame and to
 * the innermost frame of our own code, and the tool run for real (quick: a few legs, one short window) measures both
 * targets, with the gateway's own call sites and `ws`'s inbound parser named (no timing or size thresholds).
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AllocProfiler, summarize } from '../../bench/alloc-profile.js';

t.setTimeout(240000);

t.test('summarize: innermost frame, innermost own frame, and the pair', async (t) => {
  const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0 });
  const profile = {
    samples: [],
    head: {
      id: 1,
      callFrame: frame('(root)', ''),
      selfSize: 0,
      children: [
        {
          id: 2,
          callFrame: frame('onMessage', 'file:///w/dist/src/leg/leg.js', 9),
          selfSize: 100,
          children: [{ id: 3, callFrame: frame('consume', 'file:///w/node_modules/ws/lib/receiver.js', 126), selfSize: 300, children: [] }],
        },
        { id: 4, callFrame: frame('startLoop', 'file:///w/node_modules/ws/lib/receiver.js', 171), selfSize: 600, children: [] },
      ],
    },
  };
  const s = summarize(profile);
  t.equal(s.totalBytes, 1000);
  t.same(
    s.top.map((x) => [x.site, x.bytes]),
    [
      ['startLoop node_modules/ws/lib/receiver.js:172', 600],
      ['consume node_modules/ws/lib/receiver.js:127', 300],
      ['onMessage dist/src/leg/leg.js:10', 100],
    ],
  );
  t.same(
    s.ownTop.map((x) => [x.site, x.bytes]),
    [
      ['(outside)', 600],
      ['onMessage dist/src/leg/leg.js:10', 400],
    ],
  );
  t.ok(s.pairs.some((p) => p.site === 'onMessage dist/src/leg/leg.js:10 → consume node_modules/ws/lib/receiver.js:127' && p.bytes === 300));
});

t.test('the profiler sees garbage that is already collected', async (t) => {
  const p = new AllocProfiler();
  await p.start(256);
  let keep = 0;
  // ~8 MB of short-lived arrays: young-generation garbage, collected before the profile stops.
  for (let i = 0; i < 2000; i++) keep += new Array(512).fill(i).length;
  const s = await p.stop();
  t.equal(keep, 2000 * 512);
  t.ok(s.totalBytes > 4_000_000, `sampled ${s.totalBytes} bytes of collected garbage`);
  await t.rejects(p.stop(), /no allocation profile running/);
});

t.test('bench:alloc --quick measures the gateway and the bare server', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'alloc-'));
  const r = spawnSync(process.execPath, ['dist/bench/alloc.js', '--quick', '--legs=6', '--seconds=2', `--out=${dir}`], { encoding: 'utf8', timeout: 200000 });
  t.equal(r.status, 0, `exit 0 ${r.stderr.slice(-800)}`);
  const res = JSON.parse(readFileSync(join(dir, 'alloc.json'), 'utf8')) as {
    gatewayBytesPerMessage: number[];
    baselineBytesPerMessage: number[];
    runs: Array<Record<'gateway' | 'baseline', { framesIn: number; framesOut: number; ownTop: Array<{ site: string }>; top: Array<{ site: string }> }>>;
  };
  t.equal(res.gatewayBytesPerMessage.length, 1);
  const run = res.runs[0]!;
  for (const k of ['gateway', 'baseline'] as const) t.ok(run[k].framesIn > 0 && run[k].framesOut > 0, `${k}: audio flowed both ways in the window`);
  t.ok(
    run.baseline.top.some((s) => s.site.includes('node_modules/ws/lib/')),
    "baseline: ws's allocations are named",
  );
  // The gateway reads its legs' audio itself (src/leg/fast-audio.ts), not through ws's receiver.
  t.ok(
    run.gateway.ownTop.some((s) => s.site.includes('dist/src/leg/fast-audio.js')),
    "gateway: the leg audio reader's allocations are named",
  );
  t.ok(
    run.gateway.ownTop.some((s) => s.site.includes('dist/src/')),
    "the gateway's own call sites are named",
  );
  t.match(readFileSync(join(dir, 'alloc.md'), 'utf8'), /\| bytes per message \(each run\) \| \d+ \| \d+ \| [\d.]+ \|/);
});
