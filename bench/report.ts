/** Renders benchmark results as a Markdown table and an SVG chart (latency and pacing against concurrency). */
import type { LevelResult } from './run.js';
import { LATE_TICK_MS } from './tail-diag.js';

export interface BenchResult {
  sampleRateHz: number;
  started: string;
  quick: boolean;
  machine: { cpus: number; model?: string; node: string; pinned: boolean; nodeFlags?: string[] };
  criterion: string;
  gateway: {
    capacityLegs: number;
    levels: LevelResult[];
    ingressLatencyMs: { p50: number; p99: number; p999: number };
    pacingIntervalMs: { p50: number; p99: number };
    cpuPerLegPct: number;
    rssPerLegKiB: number;
    at: number;
  };
  baseline: { capacityLegs: number; levels: LevelResult[]; cpuPerLegPct: number };
  /** A second gateway series of the same run (`--ab-flags`, `--ab-root`): a same-run A/B. */
  ab?: { label: string; capacityLegs: number; levels: LevelResult[] };
  ratio: { capacity: number; cpuPerLeg: number };
  ceiling: number;
}

export function renderMarkdown(r: BenchResult): string {
  const lines = [
    `Benchmark ${r.quick ? '(quick) ' : ''}${r.started} — ${r.machine.cpus} × ${r.machine.model ?? 'cpu'}, Node ${r.machine.node}${r.machine.nodeFlags?.length ? ` (${r.machine.nodeFlags.join(' ')})` : ''}, ${r.sampleRateHz / 1000} kHz legs, target ${r.machine.pinned ? 'pinned to core 0' : 'not pinned'}`,
    '',
    `Capacity (${r.criterion}): gateway **${r.gateway.capacityLegs}** legs, baseline ${r.baseline.capacityLegs} legs (ceiling of the ramp: ${r.ceiling}); ratio **${r.ratio.capacity}**. CPU per leg ratio gateway ÷ baseline: **${r.ratio.cpuPerLeg}**.${r.ab ? ` Same run, ${r.ab.label}: **${r.ab.capacityLegs}** legs.` : ''}`,
    '',
    '| target | legs | pacing p50 / p99 / max (ms) | ingress p50 / p99 / p99.9 (ms) | CPU % (per leg) | RSS MiB (per leg KiB) | loop delay p99 (ms) | lost in/out | late | pass |',
    '|---|---:|---|---|---|---|---:|---|---:|---|',
  ];
  const series: Array<readonly [string, LevelResult[]]> = [
    ['baseline', r.baseline.levels],
    ['gateway', r.gateway.levels],
  ];
  if (r.ab) series.push([r.ab.label, r.ab.levels]);
  for (const [name, levels] of series) {
    for (const l of levels) {
      const ing = l.ingressLatencyMs ? `${l.ingressLatencyMs.p50} / ${l.ingressLatencyMs.p99} / ${l.ingressLatencyMs.p999}` : '—';
      lines.push(
        `| ${name} | ${l.legs} | ${l.pacingIntervalMs.p50} / ${l.pacingIntervalMs.p99} / ${l.pacingIntervalMs.max} | ${ing} | ${l.cpuPct} (${l.cpuPerLegPct}) | ${l.rssMiB} (${l.rssPerLegKiB}) | ${l.eventLoopDelayP99Ms} | ${l.lostInbound}/${l.lostOutbound} | ${l.lateFrames} | ${l.pass ? 'yes' : 'no'} |`,
      );
    }
  }
  return lines.join('\n') + '\n' + renderTail(series);
}

/** Where the gateway's late ticks' time went (bench/tail-diag.ts), per level: empty if no level has the figures. */
function renderTail(series: Array<readonly [string, LevelResult[]]>): string {
  const rows: string[] = [];
  for (const [name, levels] of series)
    for (const l of levels) {
      const d = l.targetTail;
      if (!d) continue;
      const gc = Object.entries(d.gc)
        .map(([k, g]) => `${k} ${g.count} × ≤ ${g.maxMs}`)
        .join(', ');
      const main = d.threads.main;
      const others = Object.entries(d.threads)
        .filter(([k]) => k !== 'main')
        .map(([k, x]) => `${k} ${x.cpuMs}/${x.waitMs}`)
        .join(', ');
      const t = (x: typeof d.all) => `${x.wallMs} / ${x.runMs} / ${x.waitMs} / ${x.gcMs}`;
      rows.push(
        `| ${name} | ${l.legs} | ${l.targetTickIntervalMs?.p99 ?? '—'} | ${d.late.ticks} of ${d.all.ticks} | ${t(d.all)} | ${t(d.late)} | ${d.lateWithGc} / ${d.lateWithWait} | ${gc || '—'} | ${main ? `${main.cpuMs}/${main.waitMs}` : '—'} | ${others || '—'} |`,
      );
    }
  if (!rows.length) return '';
  return (
    [
      '',
      `Where the gateway's late ticks went (interval > ${LATE_TICK_MS} ms; per interval, mean ms: wall / main thread on the CPU / waiting on the run queue / in a GC pause; GC pauses: count × longest ms; threads: CPU/run-queue wait ms over the window):`,
      '',
      '| target | legs | tick interval p99 ms | late ticks | all: wall / CPU / wait / GC | late: wall / CPU / wait / GC | late with GC / with wait | GC pauses | main thread | other threads |',
      '|---|---:|---:|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n') + '\n'
  );
}

export function renderSvg(r: BenchResult): string {
  const W = 640;
  const H = 320;
  const pad = { l: 50, r: 20, t: 30, b: 40 };
  const all = [...r.gateway.levels, ...r.baseline.levels];
  const maxLegs = Math.max(1, ...all.map((l) => l.legs));
  const maxY = Math.max(30, ...all.map((l) => l.pacingIntervalMs.p99), ...r.gateway.levels.map((l) => l.ingressLatencyMs?.p99 ?? 0));
  const x = (legs: number) => pad.l + (legs / maxLegs) * (W - pad.l - pad.r);
  const y = (ms: number) => H - pad.b - (ms / maxY) * (H - pad.t - pad.b);
  const line = (pts: Array<[number, number]>, color: string, label: string, dy: number) =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ')}"/>` +
    pts.map(([a, b]) => `<circle cx="${x(a).toFixed(1)}" cy="${y(b).toFixed(1)}" r="3" fill="${color}"/>`).join('') +
    `<text x="${W - pad.r - 230}" y="${pad.t + dy}" fill="${color}" font-size="12">${label}</text>`;
  const ticksY = [0, 10, 20, 30, 40, 50, 75, 100].filter((v) => v <= maxY);
  const ticksX = [...new Set(all.map((l) => l.legs))];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${pad.l}" y="18" font-size="13">Latency and pacing against concurrent ${r.sampleRateHz / 1000} kHz legs${r.quick ? ' (quick)' : ''}</text>`,
    ...ticksY.map(
      (v) =>
        `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/><text x="${pad.l - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end">${v} ms</text>`,
    ),
    ...ticksX.map((v) => `<text x="${x(v)}" y="${H - pad.b + 14}" font-size="10" text-anchor="middle">${v}</text>`),
    `<text x="${(W + pad.l) / 2}" y="${H - 8}" font-size="11" text-anchor="middle">concurrent legs</text>`,
    `<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(25)}" y2="${y(25)}" stroke="#c00" stroke-dasharray="4 3"/>`,
    line(
      r.gateway.levels.map((l) => [l.legs, l.pacingIntervalMs.p99]),
      '#1f77b4',
      'gateway pacing interval p99',
      0,
    ),
    line(
      r.baseline.levels.map((l) => [l.legs, l.pacingIntervalMs.p99]),
      '#ff7f0e',
      'baseline (ws echo) interval p99',
      16,
    ),
    line(
      r.gateway.levels.map((l) => [l.legs, l.ingressLatencyMs?.p99 ?? 0]),
      '#2ca02c',
      'gateway ingress latency p99',
      32,
    ),
    `<text x="${W - pad.r - 230}" y="${pad.t + 48}" fill="#c00" font-size="12">- - pacing limit (25 ms)</text>`,
    '</svg>',
    '',
  ].join('\n');
}
