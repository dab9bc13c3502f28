/**
 * Call evals of the default offline pipeline (WebRTC VAD, pocketsphinx, Flite) with the eval bot's long replies:
 * every shipped scenario against an in-process gateway, once per (leg rate 8000, 16000) × (turn-taking features off =
 * today's behaviour, on = their defaults). Run: `npm run bench:eval` (about 50 minutes on 2 cores, one call at a time);
 * `-- --quick` (3 scenarios, 16 kHz, no transcription; writes results/quick/); `-- --repeat=N`, `-- --concurrency=N`,
 * `-- --modes=on`, `-- --rates=8000`, `-- --scenarios=a,b` (a subset, written to results/quick/), `-- --bot=echo` (the default echo bot instead of eval/eval-bot.mjs), `-- --words=first|all|none` (transcribe what was heard), `-- --set=KEY=VALUE,…` (extra settings for every run), `-- --trace` (print each call's turn-taking events and
 * stage timings when it ends: where a turn's time goes). Writes results/eval.json and eval.md.
 */
import { settingsFromArgs } from './settings-env.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { availableParallelism } from 'node:os';
import { buildGateway } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/observability/logger.js';
import { loadScenarios } from '../src/eval/scenario.js';
import { runEval, type EvalResult } from '../src/eval/runner.js';
import { evalTable, formatEval, scenarioTable } from '../src/eval/report.js';
import { SHIPPED_SCENARIOS } from '../src/eval/cli.js';
import { benchOutDir } from './out-dir.js';
import type { CallObserver, CallObserverEvent, ObservedCall } from '../src/call/observer.js';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const arg = (name: string, def: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const REPEAT = Number(arg('repeat', '1'));
/**
 * Calls at once. `auto` (the default): half the machine's cores, at least one. Each call's offline recogniser decodes
 * a caller's turn at up to a whole core while Flite and the gateway run beside it, and every call of a batch is greeted
 * together, so its callers all speak at the same moment: three calls at once on 2 cores measured the machine's room for
 * three decoders (finals 3–5.5 s late, docs/evals.md) rather than turn-taking. One decoder per two cores leaves it the
 * headroom a production host keeps; `--concurrency=N` loads the machine on purpose.
 */
const CONCURRENCY = arg('concurrency', 'auto') === 'auto' ? Math.max(1, Math.floor(availableParallelism() / 2)) : Number(arg('concurrency', 'auto'));
const BOT = arg('bot', fileURLToPath(new URL('../../eval/eval-bot.mjs', import.meta.url)));
const WORDS = arg('words', QUICK ? 'none' : 'first') as 'first' | 'all' | 'none';
const QUICK_SCENARIOS = ['plain-turn', 'interruption', 'backchannel-okay'];
/** `--modes=on` / `--rates=8000` / `--scenarios=a,b`: a subset while tuning (results go to results/quick/ unless --out). */
const ONLY_MODES = arg('modes', '').split(',').filter(Boolean);
const ONLY_RATES = arg('rates', '').split(',').filter(Boolean).map(Number);
const ONLY_SCENARIOS = arg('scenarios', '').split(',').filter(Boolean);
const TRACE = argv.includes('--trace');
/** `--set=KEY=VALUE,KEY2=VALUE2`: settings added to every run (an A/B of one setting in the same period). */
const SET: Record<string, string> = settingsFromArgs(argv);
const SUBSET = ONLY_MODES.length > 0 || ONLY_RATES.length > 0 || ONLY_SCENARIOS.length > 0;

/** The turn-taking settings (issue 14): "off" is today's behaviour; "on" leaves them at their defaults. */
export const MODES: Record<'off' | 'on', Record<string, string>> = {
  off: { BARGE_IN_CONFIRM_MS: '0', BACKCHANNEL_MAX_MS: '0', ECHO_GUARD: 'off', ENDPOINTING: 'fixed' },
  on: {},
};

/**
 * `--trace`: each call's observer events, ms since its start (session clock), printed together when it ends. `timing`
 * lines give a stage's start → end (asr-final: last voiced frame → final; bot-first-text: input → first text;
 * tts-first-audio; first-frame: last voiced frame → first reply frame sent).
 */
function traceObserver(): CallObserver {
  const calls = new Map<string, { t0: number; lines: string[] }>();
  const fmt = (e: CallObserverEvent, rel: (ms: number) => string): string => {
    switch (e.type) {
      case 'state':
        return `state ${e.state}`;
      case 'transcript':
        return `transcript ${e.final ? 'final' : 'interim'} ${JSON.stringify(e.text)}`;
      case 'echo-transcript':
        return `echo transcript dropped ${JSON.stringify(e.text)}`;
      case 'bot-say':
        return `bot-say ${JSON.stringify(e.text.slice(0, 40))}`;
      case 'timing':
        return `timing ${e.what} ${rel(e.startMs)} → ${rel(e.endMs)} = ${Math.round(e.endMs - e.startMs)} ms`;
      case 'reply-start':
        return `reply-start #${e.replyId}${e.turnLatencyMs === undefined ? '' : ` turn latency ${e.turnLatencyMs} ms`}`;
      case 'reply-done':
        return `reply-done #${e.replyId} heard ${e.heardMs}/${e.totalMs} ms${e.interrupted ? ' interrupted' : ''}`;
      case 'call-end': {
        // The echo guard's view of the line (delay, loss, frames kept from the VAD and from the ASR), when it is on.
        const g = e.summary.echo;
        return g
          ? `call-end echo guard: delay ${g.delayMs} ms, loss ${g.erlDb} dB, rho ${g.rho}, echo frames ${g.framesEcho}, muted ${g.framesMuted}, transcripts dropped ${g.transcriptsDropped}`
          : 'call-end';
      }
      default:
        return e.type;
    }
  };
  return {
    active: true,
    event(call: ObservedCall, e: CallObserverEvent): void {
      const id = call.info.callId;
      const now = performance.now();
      if (e.type === 'call-start') calls.set(id, { t0: now, lines: [] });
      const c = calls.get(id);
      if (!c) return;
      const rel = (ms: number) => `${Math.round(ms - c.t0)}`;
      c.lines.push(`${rel(now).padStart(6)}  ${fmt(e, rel)}`);
      if (e.type !== 'call-end') return;
      calls.delete(id);
      process.stderr.write(`\n── call ${id} (${call.info.sampleRateHz} Hz)\n${c.lines.join('\n')}\n`);
    },
  };
}

async function runOne(rateHz: number, mode: 'off' | 'on'): Promise<EvalResult> {
  const env = {
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    ASR_ADAPTER: 'local',
    TTS_ADAPTER: 'flite',
    BOT_ADAPTER: BOT,
    AUDIO_RATE: String(rateHz),
    ...MODES[mode],
    ...SET,
  };
  const config = loadConfig(env);
  const gw = await buildGateway({ config, logger: createLogger('warn'), env: { ...process.env, ...env }, observer: TRACE ? traceObserver() : undefined });
  const port = await gw.listen();
  try {
    const all = await loadScenarios([SHIPPED_SCENARIOS]);
    const names = ONLY_SCENARIOS.length ? ONLY_SCENARIOS : QUICK ? QUICK_SCENARIOS : undefined;
    const scenarios = names ? all.filter((s) => names.includes(s.name)) : all;
    return await runEval({
      url: `http://127.0.0.1:${port}`,
      scenarios,
      rateHz,
      repeat: REPEAT,
      concurrency: CONCURRENCY,
      words: WORDS,
      onCall: (done, total, name) => process.stderr.write(`\r${rateHz} Hz, ${mode}: call ${done}/${total} (${name})          `),
    });
  } finally {
    await gw.close();
    process.stderr.write('\n');
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const runs: Array<{ label: string; rateHz: number; mode: 'off' | 'on'; env: Record<string, string>; result: EvalResult }> = [];
  for (const rateHz of ONLY_RATES.length ? ONLY_RATES : QUICK ? [16000] : [8000, 16000]) {
    for (const mode of (['off', 'on'] as const).filter((m) => !ONLY_MODES.length || ONLY_MODES.includes(m))) {
      const result = await runOne(rateHz, mode);
      console.log(formatEval(result));
      runs.push({ label: `${rateHz / 1000} kHz ${mode}`, rateHz, mode, env: MODES[mode], result });
    }
  }
  const dir = benchOutDir(
    SUBSET && !argv.some((a) => a.startsWith('--out=')) ? [...argv, '--quick'] : argv,
    fileURLToPath(new URL('../../bench/results/', import.meta.url)),
  );
  mkdirSync(dir, { recursive: true });
  const meta = {
    node: process.version,
    date: new Date().toISOString(),
    quick: QUICK,
    repeat: REPEAT,
    concurrency: CONCURRENCY,
    bot: BOT.replace(/^.*\/eval\//, 'eval/'),
    durationS: Math.round((Date.now() - started) / 1000),
  };
  writeFileSync(join(dir, 'eval.json'), JSON.stringify({ ...meta, modes: MODES, runs }, null, 2) + '\n');
  const md = [
    `# Call evals (\`npm run bench:eval\`)`,
    '',
    `${meta.date.slice(0, 10)}, Node ${meta.node}, ${runs[0]?.result.scenarios.length ?? 0} scenarios × ${REPEAT} per column, ${CONCURRENCY} call${CONCURRENCY === 1 ? '' : 's'} at once, bot \`${meta.bot}\`, ${meta.durationS} s in all.`,
    'Default offline pipeline (WebRTC VAD, pocketsphinx, Flite), gateway in-process; scores measured at the caller (`vgw eval`).',
    '"off" = `BARGE_IN_CONFIRM_MS=0 BACKCHANNEL_MAX_MS=0 ECHO_GUARD=off ENDPOINTING=fixed` (today\'s behaviour); "on" = their defaults.',
    'Shared 2-core machine: latencies are noisy; ratios of counts are the figures to compare.',
    '',
    evalTable(runs),
    '',
    '## Per scenario (turn latency p50 · false / missed barge-ins)',
    '',
    scenarioTable(runs),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'eval.md'), md);
  console.log(`\n${evalTable(runs)}\n\nwrote ${join(dir, 'eval.json')} and eval.md`);
}

void main();
