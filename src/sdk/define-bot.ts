/**
 * `defineBot`: a bot from plain handlers (`onTranscript`, `onDtmf`, …) that return what to say, so a small bot needs
 * no queue, no async generator and no lifecycle code of its own. The SDK owns the per-call session: bounded queues
 * with named overflow policies and counted drops, handlers run one at a time in input order, failures reported with
 * the one {@link AdapterError} model, and everything stopped when the call ends.
 */
import type { CallInfo } from '../call/call-info.js';
import type { BotAdapter, BotCapabilities, BotInput, BotOutput, BotSession, BotSessionOptions } from '../bot/types.js';
import type { AdapterContext, AdapterSettings } from '../util/adapter-context.js';
import { AdapterError, toAdapterError } from '../errors.js';
import { Channel } from '../util/channel.js';

/** One thing a handler can answer with: a string is one whole spoken reply (`say` with `end: true`). */
export type ReplyItem = string | BotOutput;

/**
 * What a handler returns:
 * - nothing (`undefined`/`null`/`void`): no answer;
 * - a string (one whole spoken reply) or a {@link BotOutput};
 * - an array of those, done in order (each string its own reply);
 * - an async iterable of those, **streamed**: consecutive strings are pieces of ONE reply (an LLM's tokens or
 *   sentences), spoken as they come and ended when the stream ends or a non-string output comes;
 * - a Promise of any of the above.
 */
export type Reply = void | undefined | null | ReplyItem | readonly ReplyItem[] | AsyncIterable<ReplyItem>;

/** What every handler gets besides its event: the call, its signal, and direct actions. */
export interface BotContext<S = undefined> {
  readonly call: CallInfo;
  /** Aborted when the call ends or the session closes: pass it to `fetch` and friends. */
  readonly signal: AbortSignal;
  /** True when the gateway has ASR for this call (transcripts will come). */
  readonly hasAsr: boolean;
  /** True when the gateway has TTS for this call (`say` is spoken; without it, only `play` is heard). */
  readonly hasTts: boolean;
  /** Per-call state, made by the definition's `state()` (undefined without one). */
  readonly state: S;
  /** The adapter's logger and environment (from the factory's context; a silent logger when called without one). */
  readonly logger: AdapterContext['logger'];
  /** The environment with the config file's values under it; prefer `settings` (declared, validated at start-up). */
  readonly env: AdapterContext['env'];
  /** The definition's `settings`, validated at start-up and parsed, by variable name (`{}` without a gateway context). */
  readonly settings: Readonly<Record<string, unknown>>;
  /**
   * Say `text` as one whole reply, now (before whatever the handler returns). No-op once the session closed. Inside a
   * streamed (async iterable) reply, yield instead: a `say()` there would cut into the reply being streamed.
   */
  say(text: string, opts?: { interruptible?: boolean }): void;
  /** Play 16-bit mono PCM at any rate as one reply. */
  play(audio: Int16Array, sampleRateHz: number, opts?: { interruptible?: boolean }): void;
  /** Stop playback now (like a barge-in). */
  clear(): void;
  /** End the call once what is queued has played (at once with `immediate`). */
  hangup(opts?: { immediate?: boolean; reason?: string }): void;
  /** Move the call to another NCCO (needs Vonage call control). */
  transfer(ncco: readonly object[]): void;
  /** Send DTMF digits into the call (`0-9 * # A-D`, `p` = a 500 ms pause; needs Vonage call control). */
  dtmf(digits: string): void;
}

type Handler<E, S> = (event: E, ctx: BotContext<S>) => Reply | Promise<Reply>;
type InputOf<T extends BotInput['type']> = Extract<BotInput, { type: T }>;

/** A bot as handlers. Every handler is optional; each runs after the previous one (of this call) has finished. */
export interface BotDefinition<S = undefined> {
  /** The adapter's name (logs, metrics). */
  name: string;
  /**
   * Settings this bot reads (environment variables, or keys of the gateway's config file), by variable name:
   * `{ MY_API_URL: { doc: 'where my backend is', default: 'http://localhost:9000', parse: (raw) => new URL(raw).href } }`.
   * Validated at start-up (a bad or missing value stops the start, naming the variable), then `ctx.settings` in every
   * handler. No `default` = required.
   */
  settings?: AdapterSettings;
  /** Give `onSpeechEnd` the caller's utterance audio. Default false. */
  wantsUtteranceAudio?: boolean;
  /** Make the per-call state `ctx.state` (called once per call, first). */
  state?: (call: CallInfo) => S;
  /** The call is up: greet the caller. */
  onStart?: Handler<InputOf<'start'>, S>;
  /** A final transcript with some text (empty finals are skipped). */
  onTranscript?: Handler<InputOf<'transcript'>, S>;
  /** An interim (partial) transcript, when the ASR gives them. */
  onInterim?: Handler<InputOf<'transcript'>, S>;
  onDtmf?: Handler<InputOf<'dtmf'>, S>;
  onSpeechStart?: Handler<InputOf<'speech-start'>, S>;
  /** `event.audio` is set when `wantsUtteranceAudio` is true. */
  onSpeechEnd?: Handler<InputOf<'speech-end'>, S>;
  /** A reply finished playing or was interrupted (`event.heardMs` of `event.totalMs` heard). */
  onPlayback?: Handler<InputOf<'playback'>, S>;
  /** The caller acknowledged ("uh-huh", "okay") while the bot spoke; nothing was interrupted. */
  onBackchannel?: Handler<InputOf<'backchannel'>, S>;
  /**
   * Answering-machine detection (`vgw call --amd`): `human`, `machine`, `beep` (leave your voicemail now) or
   * `beep-timeout`. Return the message to leave, then `{ type: 'hangup' }`.
   */
  onMachineDetection?: Handler<InputOf<'machine-detection'>, S>;
  /**
   * The session ended (call over, or closed). Runs once, at once (not after a handler still running); `ctx.signal` is
   * already aborted and what it returns is ignored: release what the call held.
   */
  onClose?: (event: { reason: string | undefined }, ctx: BotContext<S>) => void | Promise<void>;
  /** Inputs waiting for a busy handler, at most (oldest dropped past it, counted in `inputsDropped`). Default 256. */
  inputCapacity?: number;
  /** Release process-wide resources at shutdown. */
  close?: () => void | Promise<void>;
}

/** The session `defineBot` makes for each call, with its drop counters. */
export interface DefinedBotSession extends BotSession {
  /** Inputs dropped because handlers fell more than `inputCapacity` behind (policy: drop oldest). */
  readonly inputsDropped: number;
  /** Outputs dropped because the gateway fell behind direct `ctx` actions (policy: drop oldest). */
  readonly outputsDropped: number;
  /** Handler throws and rejections so far (each thrown from `output` as an AdapterError). */
  readonly failures: number;
}

/** Outputs waiting for the gateway, at most; a handler's returned replies wait (backpressure) past half of it. */
const OUTPUT_CAPACITY = 64;
const OUTPUT_HIGH_WATER = 32;

const silentLogger = new Proxy({} as AdapterContext['logger'], {
  get: (_t, k) => (k === 'child' ? () => silentLogger : k === 'level' ? 'silent' : () => {}),
});

function isAsyncIterable(x: unknown): x is AsyncIterable<unknown> {
  return !!x && typeof (x as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

class Session<S> implements DefinedBotSession {
  private readonly inputs: Channel<BotInput>;
  private readonly outputs = new Channel<BotOutput | AdapterError>(OUTPUT_CAPACITY, 'drop-oldest');
  private readonly ctl = new AbortController();
  private readonly ctx: BotContext<S>;
  private space: (() => void) | undefined;
  private closed = false;
  failures = 0;
  readonly output: AsyncIterable<BotOutput>;

  constructor(
    private readonly def: BotDefinition<S>,
    o: BotSessionOptions,
    adapterCtx: AdapterContext | undefined,
  ) {
    this.inputs = new Channel<BotInput>(def.inputCapacity ?? 256, 'drop-oldest');
    const onAbort = () => this.close('call ended');
    if (o.signal.aborted) queueMicrotask(onAbort);
    else o.signal.addEventListener('abort', onAbort, { once: true });
    this.ctl.signal.addEventListener('abort', () => o.signal.removeEventListener('abort', onAbort), { once: true });
    const push = (x: BotOutput) => void (this.closed || this.outputs.push(x));
    this.ctx = {
      call: o.call,
      signal: this.ctl.signal,
      hasAsr: o.hasAsr,
      hasTts: o.hasTts,
      state: undefined as S,
      logger: adapterCtx?.logger ?? silentLogger,
      env: adapterCtx?.env ?? process.env,
      settings: adapterCtx?.settings ?? {},
      say: (text, opts) => push({ type: 'say', text: String(text), end: true, ...(opts?.interruptible === false ? { interruptible: false } : {}) }),
      play: (audio, sampleRateHz, opts) => push({ type: 'play', audio, sampleRateHz, ...(opts?.interruptible === false ? { interruptible: false } : {}) }),
      clear: () => push({ type: 'clear' }),
      hangup: (opts) => push({ type: 'hangup', ...(opts?.immediate ? { immediate: true } : {}), ...(opts?.reason ? { reason: opts.reason } : {}) }),
      transfer: (ncco) => push({ type: 'transfer', ncco }),
      dtmf: (digits) => push({ type: 'dtmf', digits }),
    };
    this.output = this.makeOutput();
    this.pump().catch((err) => {
      // Not expected (every handler call is guarded): end the session rather than leave it silently stuck.
      this.ctx.logger.error({ err: toAdapterError(err, 'BOT_SDK_FAILED') }, 'defineBot session failed');
      this.close('sdk failure');
    });
  }

  get inputsDropped(): number {
    return this.inputs.dropped;
  }

  get outputsDropped(): number {
    return this.outputs.dropped;
  }

  input(event: BotInput): void {
    // Never throws (the contract): a closed session or a malformed event is ignored.
    if (this.closed || !event || typeof event !== 'object') return;
    this.inputs.push(event);
  }

  close(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.inputs.close();
    this.ctl.abort();
    this.outputs.close();
    this.space?.();
    const onClose = this.def.onClose;
    if (onClose) {
      try {
        Promise.resolve(onClose.call(this.def, { reason }, this.ctx)).catch((err) =>
          this.ctx.logger.warn({ err: toAdapterError(err, 'BOT_ON_CLOSE_FAILED') }, 'bot onClose failed'),
        );
      } catch (err) {
        this.ctx.logger.warn({ err: toAdapterError(err, 'BOT_ON_CLOSE_FAILED') }, 'bot onClose failed');
      }
    }
  }

  /**
   * `output`: what the handlers answered, in order. A handler's failure rejects one `next()` with an
   * {@link AdapterError} (`recoverable: true`) at its place in the order; the session goes on, so a consumer that
   * iterates `output` again gets the replies to later inputs.
   */
  private makeOutput(): AsyncIterable<BotOutput> {
    const next = async (): Promise<IteratorResult<BotOutput>> => {
      const r = await this.outputs.next();
      if (this.outputs.size < OUTPUT_HIGH_WATER) {
        const s = this.space;
        this.space = undefined;
        s?.();
      }
      if (r.done) return r;
      if (r.value instanceof AdapterError) throw r.value;
      return { value: r.value, done: false };
    };
    const iterator: AsyncIterator<BotOutput> = {
      next,
      return: () => {
        this.close('output abandoned');
        return Promise.resolve({ value: undefined, done: true });
      },
    };
    return { [Symbol.asyncIterator]: () => iterator };
  }

  /** Queue a returned output, waiting while the gateway is behind (handlers' replies are never dropped). */
  private async emit(x: BotOutput): Promise<void> {
    while (!this.closed && this.outputs.size >= OUTPUT_HIGH_WATER) await new Promise<void>((r) => (this.space = r));
    if (!this.closed) this.outputs.push(x);
  }

  private handlerFor(e: BotInput): Handler<never, S> | undefined {
    const d = this.def;
    switch (e.type) {
      case 'start':
        return d.onStart as Handler<never, S> | undefined;
      case 'transcript':
        if (!e.final) return d.onInterim as Handler<never, S> | undefined;
        return typeof e.text === 'string' && e.text.trim() ? (d.onTranscript as Handler<never, S> | undefined) : undefined;
      case 'dtmf':
        return d.onDtmf as Handler<never, S> | undefined;
      case 'speech-start':
        return d.onSpeechStart as Handler<never, S> | undefined;
      case 'speech-end':
        return d.onSpeechEnd as Handler<never, S> | undefined;
      case 'playback':
        return d.onPlayback as Handler<never, S> | undefined;
      case 'backchannel':
        return d.onBackchannel as Handler<never, S> | undefined;
      case 'machine-detection':
        return d.onMachineDetection as Handler<never, S> | undefined;
      default:
        return undefined;
    }
  }

  /** Runs the handlers one at a time, in input order, and queues what they answer. */
  private async pump(): Promise<void> {
    if (this.def.state) {
      try {
        (this.ctx as { state: S }).state = this.def.state.call(this.def, this.ctx.call);
      } catch (err) {
        this.fail(err, 'state');
      }
    }
    for await (const e of this.inputs) {
      if (this.closed) break;
      const h = this.handlerFor(e);
      if (!h) continue;
      try {
        await this.deliver(await h.call(this.def, e as never, this.ctx));
      } catch (err) {
        if (this.closed) break;
        this.fail(err, e.type);
      }
    }
  }

  private fail(err: unknown, where: string): void {
    this.failures++;
    const ae = toAdapterError(err, 'BOT_HANDLER_FAILED', true);
    // A new error (the thrown one may be frozen or shared): the handler's name first, the original as the cause.
    this.outputs.push(new AdapterError(ae.code, `${where}: ${ae.message}`, { recoverable: ae.recoverable, cause: err }));
  }

  private async deliver(r: Reply): Promise<void> {
    if (r === undefined || r === null) return;
    if (typeof r === 'string') return this.emit({ type: 'say', text: r, end: true });
    if (Array.isArray(r)) {
      for (const x of r as readonly ReplyItem[]) await this.deliver(x);
      return;
    }
    if (isAsyncIterable(r)) return this.stream(r as AsyncIterable<ReplyItem>);
    if (typeof r === 'object' && typeof (r as BotOutput).type === 'string') return this.emit(r as BotOutput);
    throw new AdapterError('BOT_BAD_REPLY', `a handler returned ${typeof r}: return a string, a BotOutput, an array or an async iterable of them`, {
      recoverable: true,
    });
  }

  /** Strings are pieces of one reply; the last piece is held back so it can carry `end: true`. */
  private async stream(src: AsyncIterable<ReplyItem>): Promise<void> {
    let held: string | undefined;
    const it = src[Symbol.asyncIterator]();
    try {
      for (;;) {
        if (this.closed) return;
        const r = await it.next();
        if (r.done) break;
        const x = r.value;
        if (typeof x === 'string') {
          if (held !== undefined) await this.emit({ type: 'say', text: held, end: false });
          held = x;
          continue;
        }
        if (held !== undefined) await this.emit({ type: 'say', text: held, end: true });
        held = undefined;
        await this.deliver(x);
      }
      if (held !== undefined) await this.emit({ type: 'say', text: held, end: true });
    } finally {
      if (this.closed) void Promise.resolve(it.return?.()).catch(() => {});
    }
  }
}

/**
 * Make a bot adapter factory from handlers: `export default defineBot({ name: 'my-bot', onTranscript: (e) => … })`
 * is a complete `BOT_ADAPTER` module.
 *
 * **Order**: the handlers of one call run one at a time, in the order the inputs came, and their answers are queued
 * in that order, so two replies never interleave. A handler still running holds the later inputs (at most
 * `inputCapacity`, oldest dropped past it, counted in `inputsDropped`).
 *
 * **Failures** (the one failure model, {@link AdapterError}): a handler that throws or rejects, or returns something
 * that is not a reply, is thrown from `output` as an AdapterError (`recoverable: true`, code `BOT_HANDLER_FAILED`
 * unless it carried its own) in its place in the order: the gateway answers the caller with a spoken apology. The
 * session itself does not end: a consumer that calls `next()` again (as the gateway may for a recoverable error) gets
 * the answers to later inputs. Throw an `AdapterError` yourself to choose the code (`recoverable: false` when this
 * bot cannot go on in the call).
 *
 * **Lifetime**: the session ends when the call's signal aborts or the gateway closes it: `output` ends, `ctx.signal`
 * aborts (cancel your requests with it), `onClose` runs once, later inputs and `ctx` actions are ignored.
 */
export function defineBot<S = undefined>(def: BotDefinition<S>): ((ctx?: AdapterContext) => BotAdapter) & { readonly settings?: AdapterSettings } {
  if (!def || typeof def.name !== 'string' || !def.name) throw new TypeError('defineBot needs a name');
  const capabilities: BotCapabilities = { wantsUtteranceAudio: !!def.wantsUtteranceAudio };
  const factory = (ctx?: AdapterContext): BotAdapter => ({
    name: def.name,
    capabilities,
    start: (o: BotSessionOptions): DefinedBotSession => new Session<S>(def, o, ctx),
    ...(def.close ? { close: def.close } : {}),
  });
  return def.settings ? Object.assign(factory, { settings: def.settings }) : factory;
}
