/**
 * The bot adapter conformance suite: what every bot — built-in or a user's own — must do to be driven safely by the
 * gateway. Run it from the command line (`vgw bot-conformance --adapter ./my-bot.mjs`) or call
 * {@link runBotConformance} from a test. No test framework, no network of its own.
 *
 * Checks: the adapter's shape; `start()` settles within a bound and gives a session with `input`, `output` and
 * `close`; `input()` never throws nor returns a promise for every kind of {@link BotInput} (with and without ASR/TTS);
 * `output` yields only well-formed {@link BotOutput}s and answers the call; `close()` is idempotent and ends `output`
 * promptly; aborting the call's signal ends `output` promptly; no handle (timer, socket, child process) left once the
 * sessions and the adapter are closed. A bot that throws, hangs or has the wrong shape fails checks; it never crashes
 * the suite.
 */
import { closeAndFindLeaks, conformanceCall, handleCounts, TIMED_OUT, why, within, type ConformanceCheck } from '../sdk/conformance-kit.js';
import type { BotAdapter, BotInput, BotOutput, BotSession } from './types.js';

export type { ConformanceCheck };

export interface BotConformanceOptions {
  adapter: BotAdapter;
  /** Longest wait for `start()` to settle. Default 5000. */
  startTimeoutMs?: number;
  /** Longest wait for the bot's first output after the inputs (the gateway's `BOT_REPLY_TIMEOUT_MS`). Default 10000. */
  replyTimeoutMs?: number;
  /** Require at least one output (a bot that never answers fails). Default true. */
  expectOutput?: boolean;
  /** Longest wait for `output` to end after `close()` or an abort. Default 2000. */
  endTimeoutMs?: number;
  /** How long to keep reading outputs after the first, to validate them. Default 1000. */
  settleMs?: number;
  /** Close the adapter at the end and check for leaked handles. Default true. */
  closeAdapter?: boolean;
}

const HANDLE_SETTLE_MS = 5000;
const DTMF_DIGITS = /^[0-9*#pA-D]{1,64}$/;

/** Every kind of input, as the gateway sends them in a call (`start` first). */
export function sampleInputs(rateHz: number, withAudio: boolean): BotInput[] {
  const audio = new Int16Array(rateHz / 2);
  for (let i = 0; i < audio.length; i++) audio[i] = Math.round(3000 * Math.sin((2 * Math.PI * 300 * i) / rateHz));
  return [
    { type: 'start' },
    { type: 'speech-start' },
    { type: 'transcript', text: 'hello', final: false },
    { type: 'speech-end', durationMs: 500, sampleRateHz: rateHz, ...(withAudio ? { audio } : {}) },
    { type: 'transcript', text: 'hello there', final: true },
    { type: 'transcript', text: '', final: true },
    { type: 'dtmf', digit: '5', durationMs: 120 },
    { type: 'dtmf', digit: '*', durationMs: 80 },
    { type: 'playback', replyId: 1, interrupted: false, heardMs: 1200, totalMs: 1200 },
    { type: 'playback', replyId: 2, interrupted: true, heardMs: 300, totalMs: 2000, id: 'bot-2' },
    { type: 'action-result', action: 'transfer', ok: false, code: 'NO_CALL_CONTROL', reason: 'call control is not configured' },
  ];
}

/** Why an output breaks the contract, or undefined. */
export function malformedOutput(o: unknown): string | undefined {
  if (!o || typeof o !== 'object') return `output is ${o === null ? 'null' : typeof o}`;
  const x = o as Record<string, unknown>;
  const optBool = (k: string) => x[k] === undefined || typeof x[k] === 'boolean';
  const optStr = (k: string) => x[k] === undefined || typeof x[k] === 'string';
  switch (x.type) {
    case 'say':
      if (typeof x.text !== 'string') return 'say without text';
      if (!optStr('id') || !optStr('language') || !optStr('voice')) return 'say with a non-string id, language or voice';
      return optBool('end') && optBool('interruptible') ? undefined : 'say with a non-boolean end or interruptible';
    case 'play': {
      if (!(x.audio instanceof Int16Array)) return 'play audio is not an Int16Array';
      const r = x.sampleRateHz;
      if (typeof r !== 'number' || !Number.isInteger(r) || r < 4000 || r > 192000) return `play sampleRateHz ${String(r)} is not an integer in 4000–192000`;
      return optBool('interruptible') && optStr('id') ? undefined : 'play with a non-boolean interruptible or a non-string id';
    }
    case 'clear':
      return undefined;
    case 'hangup':
      return optBool('immediate') && optStr('reason') ? undefined : 'hangup with a non-boolean immediate or a non-string reason';
    case 'transfer':
      return Array.isArray(x.ncco) && x.ncco.length > 0 && x.ncco.every((a) => !!a && typeof a === 'object')
        ? undefined
        : 'transfer without an NCCO (a non-empty array of actions)';
    case 'dtmf':
      return typeof x.digits === 'string' && DTMF_DIGITS.test(x.digits) ? undefined : `dtmf digits ${JSON.stringify(x.digits)} are not 1–64 of 0-9 * # A-D p`;
    default:
      return `unknown output type ${JSON.stringify(x.type)}`;
  }
}

/**
 * `session.close(reason)`; a returned promise (the contract says void) is observed, and its rejection reported in
 * `problems` rather than left unhandled. Throws what close() throws.
 */
function closeSession(s: BotSession, reason: string | undefined, problems: string[]): void {
  const r: unknown = s.close(reason);
  if (r && typeof (r as Promise<unknown>).then === 'function') {
    (r as Promise<unknown>).then(undefined, (err) => problems.push(`close() rejected: ${why(err)}`));
  }
}

/** Reads a session's output as it comes; lets the suite wait with a bound. */
class OutputLog {
  readonly outputs: BotOutput[] = [];
  readonly problems: string[] = [];
  ended = false;
  threw: unknown;
  private wake: (() => void) | undefined;
  readonly done: Promise<void>;

  constructor(output: AsyncIterable<BotOutput>) {
    this.done = (async () => {
      try {
        for await (const o of output) {
          const bad = malformedOutput(o);
          if (bad) this.problems.push(bad);
          this.outputs.push(o);
          this.wake?.();
        }
      } catch (err) {
        this.threw = err;
        this.problems.push(`output threw: ${why(err)}`);
      }
      this.ended = true;
      this.wake?.();
    })();
  }

  /** Wait until there are at least `n` outputs (or output ended), up to `ms`. */
  async waitCount(n: number, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.outputs.length < n && !this.ended && Date.now() < end) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(end - Date.now(), 250));
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    this.wake = undefined;
  }

  async waitEnd(ms: number): Promise<boolean> {
    await within(this.done, ms);
    return this.ended;
  }
}

function describeOutputs(outs: readonly BotOutput[]): string {
  const kinds = outs.slice(0, 6).map((o) => (o.type === 'say' ? `say "${o.text.slice(0, 30)}"` : o.type));
  return `${outs.length} output(s): ${kinds.join(', ')}${outs.length > 6 ? ', …' : ''}`;
}

/** Run the suite. Never throws for an adapter's failings: they are failed checks. */
export async function runBotConformance(o: BotConformanceOptions): Promise<ConformanceCheck[]> {
  const checks: ConformanceCheck[] = [];
  const check = (name: string, ok: boolean, detail = '') => checks.push({ name, ok, detail });
  const a = o.adapter;
  const startMs = o.startTimeoutMs ?? 5000;
  const replyMs = o.replyTimeoutMs ?? 10000;
  const endMs = o.endTimeoutMs ?? 2000;
  const settleMs = o.settleMs ?? 1000;
  const before = handleCounts();
  const sessions: BotSession[] = [];
  const controllers: AbortController[] = [];
  let n = 0;

  let shapeOk: boolean;
  try {
    shapeOk =
      !!a &&
      typeof a === 'object' &&
      typeof a.name === 'string' &&
      a.name.length > 0 &&
      typeof a.start === 'function' &&
      !!a.capabilities &&
      typeof a.capabilities.wantsUtteranceAudio === 'boolean' &&
      (a.close === undefined || typeof a.close === 'function');
  } catch {
    shapeOk = false;
  }
  check('adapter shape: name, capabilities {wantsUtteranceAudio}, start(), optional close()', shapeOk, shapeOk ? a.name : 'missing or mistyped members');
  if (!shapeOk) return checks;
  const withAudio = a.capabilities.wantsUtteranceAudio;

  /** start() a session, bounded; a string says why it failed. */
  async function open(rateHz: number, hasAsr: boolean, hasTts: boolean): Promise<{ s: BotSession; ctl: AbortController; log: OutputLog } | string> {
    const ctl = new AbortController();
    controllers.push(ctl);
    let s: BotSession | typeof TIMED_OUT;
    try {
      s = await within(
        Promise.resolve().then(() => a.start({ call: conformanceCall(rateHz, ++n, 'bot'), signal: ctl.signal, hasAsr, hasTts })),
        startMs,
      );
    } catch (err) {
      return `start() threw: ${why(err)}`;
    }
    if (s === TIMED_OUT) return `start() did not settle within ${startMs} ms`;
    const shape: string[] = [];
    try {
      if (!s || typeof s !== 'object') return `start() gave ${s === null ? 'null' : typeof s}, not a session`;
      if (typeof s.input !== 'function') shape.push('input()');
      if (typeof s.close !== 'function') shape.push('close()');
      if (!s.output || typeof s.output[Symbol.asyncIterator] !== 'function') shape.push('output (an async iterable)');
    } catch (err) {
      return `session members threw: ${why(err)}`;
    }
    if (shape.length) return `the session lacks ${shape.join(', ')}`;
    sessions.push(s);
    return { s, ctl, log: new OutputLog(s.output) };
  }

  /** Feed inputs; the problems (a throw, a promise) by input kind. */
  function feed(s: BotSession, inputs: readonly BotInput[]): string[] {
    const problems: string[] = [];
    for (const e of inputs) {
      try {
        const r: unknown = s.input(e);
        if (r && typeof (r as Promise<unknown>).then === 'function') {
          (r as Promise<unknown>).then(undefined, () => {});
          problems.push(`input(${e.type}) returned a promise (queue and return: a rejection would go unhandled)`);
        }
      } catch (err) {
        problems.push(`input(${e.type}${e.type === 'transcript' ? (e.final ? ' final' : ' interim') : ''}) threw: ${why(err)}`);
      }
    }
    return problems;
  }

  // 1. The main session: every input kind, outputs validated, then close.
  const rate = 16000;
  const main = await open(rate, true, true);
  check(`start() settles within ${startMs} ms with a session {input(), output, close()}`, typeof main !== 'string', typeof main === 'string' ? main : '');
  if (typeof main !== 'string') {
    const inputProblems = feed(main.s, sampleInputs(rate, withAudio));
    check('input() never throws nor returns a promise, for every kind of input', inputProblems.length === 0, inputProblems.join('; '));

    await main.log.waitCount(1, replyMs);
    if (main.log.outputs.length && !main.log.ended) await main.log.waitCount(Number.MAX_SAFE_INTEGER, settleMs);
    const outProblems = [...main.log.problems];
    if (o.expectOutput !== false && main.log.outputs.length === 0 && main.log.threw === undefined)
      outProblems.push(`no output within ${replyMs} ms of the inputs`);
    check(
      'output yields well-formed outputs and answers the call',
      outProblems.length === 0,
      outProblems.length ? outProblems.join('; ') : describeOutputs(main.log.outputs),
    );

    const closeProblems: string[] = [];
    try {
      closeSession(main.s, 'conformance: call ended', closeProblems);
      closeSession(main.s, 'conformance: call ended', closeProblems);
    } catch (err) {
      closeProblems.push(`close() threw: ${why(err)}`);
    }
    if (!(await main.log.waitEnd(endMs))) closeProblems.push(`output did not end within ${endMs} ms of close()`);
    closeProblems.push(...feed(main.s, [{ type: 'dtmf', digit: '1', durationMs: 100 }]).map((p) => `after close: ${p}`));
    main.ctl.abort();
    check(`close() is idempotent and ends output within ${endMs} ms; input() after close is harmless`, closeProblems.length === 0, closeProblems.join('; '));
  }

  // 2. Without ASR or TTS, at 8 kHz (what a bot sees when the gateway runs with neither).
  {
    const name = 'without ASR and TTS (8 kHz leg): input() never throws, outputs well-formed';
    const s = await open(8000, false, false);
    if (typeof s === 'string') check(name, false, s);
    else {
      const problems = feed(
        s.s,
        sampleInputs(8000, withAudio).filter((e) => e.type !== 'transcript'),
      );
      await s.log.waitCount(1, Math.min(replyMs, 2000));
      if (s.log.outputs.length && !s.log.ended) await s.log.waitCount(Number.MAX_SAFE_INTEGER, settleMs);
      problems.push(...s.log.problems);
      try {
        closeSession(s.s, undefined, problems);
      } catch (err) {
        problems.push(`close() threw: ${why(err)}`);
      }
      if (!(await s.log.waitEnd(endMs))) problems.push(`output did not end within ${endMs} ms of close()`);
      s.ctl.abort();
      check(name, problems.length === 0, problems.length ? problems.join('; ') : describeOutputs(s.log.outputs));
    }
  }

  // 3. The call's signal aborts (the call ended under the bot): output ends without close().
  {
    const name = `aborting the call's signal ends output within ${endMs} ms`;
    const s = await open(rate, true, true);
    if (typeof s === 'string') check(name, false, s);
    else {
      const problems = feed(s.s, [{ type: 'start' }]);
      s.ctl.abort();
      problems.push(...feed(s.s, [{ type: 'transcript', text: 'are you there', final: true }]).map((p) => `after abort: ${p}`));
      if (!(await s.log.waitEnd(endMs))) problems.push(`output did not end within ${endMs} ms of the abort`);
      problems.push(...s.log.problems);
      try {
        closeSession(s.s, undefined, problems);
      } catch (err) {
        problems.push(`close() after abort threw: ${why(err)}`);
      }
      check(name, problems.length === 0, problems.join('; '));
    }
  }

  for (const s of sessions) {
    try {
      closeSession(s, undefined, []);
    } catch {
      // reported above
    }
  }
  for (const c of controllers) c.abort();
  if (o.closeAdapter !== false) {
    const problems = await closeAndFindLeaks(a, before, HANDLE_SETTLE_MS);
    check('no handles are left once the sessions and the adapter are closed', problems.length === 0, problems.join('; '));
  }
  return checks;
}
