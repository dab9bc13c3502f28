/**
 * Human forms of eval results: a one-screen summary per scenario for `vgw eval`, and the markdown table of
 * bench/results/eval.md (rate × mode × score, with the issue's goals beside them).
 */
import type { EvalResult, Ratio, Scores } from './runner.js';

const pct = (r: Ratio) => (r.rate === null ? 'n/a' : `${(r.rate * 100).toFixed(r.rate < 0.1 && r.rate > 0 ? 1 : 0)} % (${r.count}/${r.chances})`);
const ms = (v: number | null) => (v === null ? 'n/a' : `${Math.round(v)} ms`);

/** The scores the issue sets goals for, in table order: label, goal text, value formatter. */
export const SCORE_ROWS: Array<{ label: string; goal: string; value: (s: Scores) => string }> = [
  { label: 'turn latency p50', goal: '≤ 700 ms', value: (s) => ms(s.turnLatencyMs.p50) },
  { label: 'turn latency p90', goal: '', value: (s) => ms(s.turnLatencyMs.p90) },
  { label: 'barge-in stop p50', goal: '', value: (s) => ms(s.bargeInStopMs.p50) },
  { label: 'barge-in stop p95', goal: '≤ 250 ms', value: (s) => ms(s.bargeInStopMs.p95) },
  { label: 'false barge-ins', goal: '≤ 5 %', value: (s) => pct(s.falseBargeIns) },
  { label: 'missed barge-ins', goal: '≤ 2 %', value: (s) => pct(s.missedBargeIns) },
  { label: 'premature cut-offs', goal: '≤ 5 %', value: (s) => pct(s.prematureCutoffs) },
  { label: 'unanswered turns', goal: '', value: (s) => String(s.unanswered) },
  // Absent from results written before it was scored.
  { label: 'echo answered', goal: '0', value: (s) => (s.echoAnswered ? pct(s.echoAnswered) : 'n/a') },
  { label: 'words heard per reply', goal: '', value: (s) => (s.wordsHeardPerReply === null ? 'n/a' : String(s.wordsHeardPerReply)) },
  { label: 'pauses (stop + resume)', goal: '', value: (s) => String(s.pauses) },
  { label: 'calls (failed)', goal: '', value: (s) => `${s.calls} (${s.failedCalls})` },
];

/** One line per scenario and the aggregate, for a terminal. */
export function formatEval(r: EvalResult): string {
  const line = (name: string, s: Scores) =>
    `${name.padEnd(22)} turn p50 ${ms(s.turnLatencyMs.p50).padStart(7)}  stop p95 ${ms(s.bargeInStopMs.p95).padStart(7)}  false ${pct(s.falseBargeIns).padEnd(12)} missed ${pct(s.missedBargeIns).padEnd(12)} premature ${pct(s.prematureCutoffs).padEnd(12)} words/reply ${s.wordsHeardPerReply ?? 'n/a'}  pauses ${s.pauses}${s.echoAnswered?.chances ? `  echo answered ${s.echoAnswered.count}/${s.echoAnswered.chances}` : ''}`;
  const out = [`eval against ${r.url} at ${r.legRateHz} Hz: ${r.scenarios.length} scenarios × ${r.repeat}, ${r.concurrency} at once, ${r.durationS} s`];
  for (const s of r.scenarios) {
    out.push(line(s.name, s.scores));
    for (const e of s.errors) out.push(`  error: ${e}`);
  }
  for (const s of r.skipped) out.push(`${s.name.padEnd(22)} skipped: ${s.reason}`);
  out.push(line('ALL', r.aggregate));
  return out.join('\n');
}

/** Markdown table: one row per score, one column per (rate, mode) run, the goal last. */
export function evalTable(runs: Array<{ label: string; result: EvalResult }>): string {
  const head = `| score | ${runs.map((r) => r.label).join(' | ')} | goal |`;
  const sep = `|---|${runs.map(() => '---|').join('')}---|`;
  const rows = SCORE_ROWS.map((row) => `| ${row.label} | ${runs.map((r) => row.value(r.result.aggregate)).join(' | ')} | ${row.goal} |`);
  return [head, sep, ...rows].join('\n');
}

/** Per-scenario detail: one row per scenario, the runs side by side (the score that scenario is about). */
export function scenarioTable(runs: Array<{ label: string; result: EvalResult }>): string {
  const names = [...new Set(runs.flatMap((r) => r.result.scenarios.map((s) => s.name)))];
  const cell = (s: Scores | undefined) =>
    !s
      ? '—'
      : `${ms(s.turnLatencyMs.p50)} · ${s.falseBargeIns.chances ? `false ${s.falseBargeIns.count}/${s.falseBargeIns.chances}` : ''}${s.missedBargeIns.chances ? ` missed ${s.missedBargeIns.count}/${s.missedBargeIns.chances}` : ''}${s.prematureCutoffs.count ? ` premature ${s.prematureCutoffs.count}` : ''}${s.echoAnswered?.count ? ` echo answered ${s.echoAnswered.count}` : ''}`.replace(
          / · $/,
          '',
        );
  const head = `| scenario | ${runs.map((r) => r.label).join(' | ')} |`;
  const sep = `|---|${runs.map(() => '---|').join('')}`;
  const rows = names.map((n) => `| ${n} | ${runs.map((r) => cell(r.result.scenarios.find((s) => s.name === n)?.scores)).join(' | ')} |`);
  return [head, sep, ...rows].join('\n');
}
