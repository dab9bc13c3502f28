/**
 * Runs scenarios against a running gateway: every scenario `repeat` times, `concurrency` calls at once, then scores
 * them and (after every call has ended, so the recogniser's CPU never skews the timings) transcribes what the caller
 * heard. Returns per-scenario and aggregate results as plain JSON.
 */
import { fetchNcco, endpointRateHz, websocketEndpoint } from '../sim/vonage-leg.js';
import { runEvalCall } from './caller.js';
import { heardWords } from './heard-words.js';
import type { Scenario } from './scenario.js';
import { scoreCall, type CallScore } from './score.js';
import type { CallTimeline } from './timeline.js';
import { TurnRenderer } from './turn-audio.js';

export interface RunEvalOptions {
  /** Gateway base URL. */
  url: string;
  scenarios: Scenario[];
  /** Calls at once (default 2). */
  concurrency?: number;
  /** Runs of each scenario (default 1). */
  repeat?: number;
  /**
   * Run every scenario at this leg rate (the gateway must serve it: its NCCO decides the rate). Without it, scenarios
   * pinned to another rate than the gateway's are skipped.
   */
  rateHz?: number;
  /** Transcribe what was heard: every call, the first run of each scenario (default), or none. */
  words?: 'all' | 'first' | 'none';
  onCall?: (done: number, total: number, scenario: string) => void;
  signal?: AbortSignal;
}

/** A ratio with its counts: `rate` is null when there was no chance at all. */
export interface Ratio {
  count: number;
  chances: number;
  rate: number | null;
}

export interface Scores {
  calls: number;
  failedCalls: number;
  turnLatencyMs: { n: number; p50: number | null; p90: number | null };
  bargeInStopMs: { n: number; p50: number | null; p95: number | null };
  falseBargeIns: Ratio;
  missedBargeIns: Ratio;
  prematureCutoffs: Ratio;
  unanswered: number;
  /** On lines with echo: replies after the greeting that answered no caller speech (the bot's own echo, transcribed). */
  echoAnswered: Ratio;
  /** Bot output stopped and resumed without a clear (a paused reply): information, not a fault. */
  pauses: number;
  clears: number;
  replies: number;
  /** Mean words pocketsphinx recognised in each reply's heard audio; null when nothing was transcribed. */
  wordsHeardPerReply: number | null;
  /** Mean heard audio per reply, ms. */
  heardMsPerReply: number | null;
}

export interface ScenarioResult {
  name: string;
  description?: string;
  kinds: string[];
  scores: Scores;
  errors: string[];
  /** Each call's details (replies, per-event scores), for digging into a figure. */
  calls: Array<Omit<CallScore, 'replies'> & { replies: Array<CallScore['replies'][number] & { words?: number; text?: string }> }>;
}

export interface EvalResult {
  url: string;
  legRateHz: number;
  startedAt: string;
  durationS: number;
  repeat: number;
  concurrency: number;
  skipped: Array<{ name: string; reason: string }>;
  scenarios: ScenarioResult[];
  aggregate: Scores;
}

export function percentile(values: number[], p: number): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const ratio = (count: number, chances: number): Ratio => ({ count, chances, rate: chances ? Math.round((count / chances) * 1000) / 1000 : null });

/** Combine call scores (and their transcriptions) into one {@link Scores}. */
export function summarise(calls: ScenarioResult['calls'], failedCalls: number): Scores {
  const all = <T>(f: (c: ScenarioResult['calls'][number]) => T[]) => calls.flatMap(f);
  const sum = (f: (c: ScenarioResult['calls'][number]) => number) => calls.reduce((n, c) => n + f(c), 0);
  const turn = all((c) => c.turnLatenciesMs);
  const stop = all((c) => c.stopLatenciesMs);
  const replies = all((c) => c.replies);
  const worded = replies.filter((r) => r.words !== undefined);
  const mean = (xs: number[]) => (xs.length ? Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 10) / 10 : null);
  return {
    calls: calls.length,
    failedCalls,
    turnLatencyMs: { n: turn.length, p50: percentile(turn, 50), p90: percentile(turn, 90) },
    bargeInStopMs: { n: stop.length, p50: percentile(stop, 50), p95: percentile(stop, 95) },
    falseBargeIns: ratio(
      sum((c) => c.falseBargeIns.count),
      sum((c) => c.falseBargeIns.chances),
    ),
    missedBargeIns: ratio(
      sum((c) => c.missedBargeIns.count),
      sum((c) => c.missedBargeIns.chances),
    ),
    prematureCutoffs: ratio(
      sum((c) => c.premature.count),
      sum((c) => c.premature.chances),
    ),
    unanswered: sum((c) => c.unanswered),
    echoAnswered: ratio(
      sum((c) => c.echoAnswered.count),
      sum((c) => c.echoAnswered.chances),
    ),
    pauses: sum((c) => c.pauses),
    clears: sum((c) => c.clears),
    replies: replies.length,
    wordsHeardPerReply: mean(worded.map((r) => r.words as number)),
    heardMsPerReply: mean(replies.map((r) => r.heardMs)),
  };
}

/** The gateway's leg rate, from its NCCO. */
export async function gatewayLegRate(url: string): Promise<number> {
  return endpointRateHz(websocketEndpoint(await fetchNcco({ url, uuid: 'eval-probe', conversationUuid: 'CON-eval-probe' })));
}

/** Run the scenarios; never throws for one failed call (it is counted and its error kept). */
export async function runEval(o: RunEvalOptions): Promise<EvalResult> {
  const started = Date.now();
  const repeat = Math.max(1, o.repeat ?? 1);
  const concurrency = Math.max(1, o.concurrency ?? 2);
  const legRateHz = await gatewayLegRate(o.url);
  if (o.rateHz && o.rateHz !== legRateHz) throw new Error(`the gateway serves ${legRateHz} Hz legs, not ${o.rateHz} Hz (start it with AUDIO_RATE=${o.rateHz})`);
  const skipped: EvalResult['skipped'] = [];
  const scenarios = o.scenarios.filter((s) => {
    if (o.rateHz || !s.rateHz || s.rateHz === legRateHz) return true;
    skipped.push({ name: s.name, reason: `meant for ${s.rateHz} Hz, the gateway serves ${legRateHz} Hz (use --rate to run it anyway)` });
    return false;
  });
  const renderer = new TurnRenderer();
  // Interleaved (round-robin over scenarios), so the calls running together are different scenarios.
  const jobs: Array<{ s: Scenario; rep: number }> = [];
  for (let rep = 0; rep < repeat; rep++) for (const s of scenarios) jobs.push({ s, rep });
  const timelines = new Map<Scenario, Array<{ rep: number; tl: CallTimeline }>>();
  const errors = new Map<Scenario, string[]>();
  let nextJob = 0;
  let done = 0;
  try {
    // Render every scenario's audio first: Flite and resampling must not run while calls are being timed.
    for (const s of scenarios) await renderer.render(s, legRateHz);
    const worker = async () => {
      while (nextJob < jobs.length && !o.signal?.aborted) {
        const { s, rep } = jobs[nextJob++]!; // the loop condition bounds nextJob
        try {
          const tl = await runEvalCall({ url: o.url, scenario: s, render: (r) => renderer.render(s, r), signal: o.signal });
          if (!timelines.has(s)) timelines.set(s, []);
          (timelines.get(s) as Array<{ rep: number; tl: CallTimeline }>).push({ rep, tl });
        } catch (err) {
          if (!errors.has(s)) errors.set(s, []);
          (errors.get(s) as string[]).push((err as Error).message);
        }
        o.onCall?.(++done, jobs.length, s.name);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
  } finally {
    await renderer.close();
  }

  const results: ScenarioResult[] = [];
  const words = o.words ?? 'first';
  for (const s of scenarios) {
    const calls: ScenarioResult['calls'] = [];
    for (const { rep, tl } of (timelines.get(s) ?? []).sort((a, b) => a.rep - b.rep)) {
      const sc = scoreCall(tl);
      const replies: ScenarioResult['calls'][number]['replies'] = sc.replies.map((r) => ({ ...r }));
      if (words === 'all' || (words === 'first' && rep === 0)) {
        for (const r of replies) {
          const spf = tl.sampleRateHz / 50;
          const w = await heardWords(tl.heard.subarray((r.startMs / 20) * spf, (r.endMs / 20) * spf), tl.sampleRateHz);
          if (w) Object.assign(r, w);
        }
      }
      calls.push({ ...sc, replies });
    }
    const errs = errors.get(s) ?? [];
    results.push({
      name: s.name,
      description: s.description,
      kinds: [...new Set(s.turns.map((t) => t.kind))],
      scores: summarise(calls, errs.length),
      errors: errs,
      calls,
    });
  }
  return {
    url: o.url,
    legRateHz,
    startedAt: new Date(started).toISOString(),
    durationS: Math.round((Date.now() - started) / 100) / 10,
    repeat,
    concurrency,
    skipped,
    scenarios: results,
    aggregate: summarise(
      results.flatMap((r) => r.calls),
      results.reduce((n, r) => n + r.errors.length, 0),
    ),
  };
}
