/**
 * One call's bot, owned by the call session: the ONLY code that calls the bot adapter's `start`, its session's
 * `input()` and `close()`, and iterates its `output` (as `asr-feed.ts` is for ASR).
 *
 * - Inputs that arrive while the bot starts wait in a bounded backlog ({@link MAX_BACKLOG} events; later ones are
 *   dropped, counted and logged once).
 * - Every call into bot code is guarded ({@link AdapterBoundary}): `start` throwing or rejecting, or returning no usable
 *   session, is fatal for the call (the owner closes it with 4007); `input()` throwing on an input the caller awaits an
 *   answer to is reported to the owner as a bot failure (an apology), and later inputs are still delivered; `output` throwing or rejecting is a bot failure too.
 *   An `AdapterError` with `recoverable: true` (what the SDK's `defineBot` throws for one failed handler) keeps the
 *   session: the owner apologises and `output` is read on (the owner's BOT_MAX_FAILURES bounds how often). Anything
 *   else leaves the bot dead: later inputs are dropped (counted), not delivered. The bot session is not restarted: a
 *   bot whose session failed is not trusted to resume that call's conversation coherently.
 * - Outputs are handed to the owner one at a time; the next is taken only once the owner has handled the previous
 *   one (so a streamed reply is spoken at the pace of the TTS, never queued unbounded here).
 */
import { AdapterError } from '../errors.js';
import type { BotAdapter, BotInput, BotOutput, BotSession } from '../bot/types.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Clock } from '../util/clock.js';
import type { AdapterBoundary } from './boundary.js';
import type { CallInfo } from './call-info.js';
import type { TimingSink } from './observer.js';

/** Inputs kept while the bot starts; later ones are dropped and counted. */
export const MAX_BACKLOG = 32;

export interface BotLinkOwner extends TimingSink {
  /** The bot session is up (its `start` input has been delivered). */
  onBotReady(): void;
  /** One output, in order. The link waits for the returned promise before taking the next. */
  onBotOutput(out: BotOutput): Promise<void>;
  /** The bot's code threw or rejected (already counted and logged): apologise; the call goes on. */
  onBotFailed(why: string): void;
  /** The bot could not start (already counted and logged): the call cannot go on. */
  onBotStartFailed(): void;
}

export interface BotLinkDeps {
  adapter: BotAdapter;
  call: CallInfo;
  signal: AbortSignal;
  hasAsr: boolean;
  hasTts: boolean;
  hasCallControl?: boolean;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  boundary: AdapterBoundary;
}

export class BotLink {
  private readonly d: BotLinkDeps;
  private readonly owner: BotLinkOwner;
  private session: BotSession | undefined;
  private backlog: BotInput[] | undefined = [];
  /** Inputs dropped: backlog full while starting, or the bot is dead. */
  dropped = 0;
  /** The output iterator threw: the bot is gone for this call. */
  private dead = false;
  private closed = false;
  /** When the input the bot should answer was given (−1: none pending), for first-text latency. */
  private inputAtMs = -1;

  constructor(deps: BotLinkDeps, owner: BotLinkOwner) {
    this.d = deps;
    this.owner = owner;
  }

  get isDead(): boolean {
    return this.dead;
  }

  start(): void {
    const { adapter, call, signal, hasAsr, hasTts, hasCallControl } = this.d;
    Promise.resolve()
      .then(() => adapter.start({ call, signal, hasAsr, hasTts, hasCallControl: !!hasCallControl }))
      .then((bot) => {
        if (!bot || typeof bot !== 'object')
          throw new AdapterError(
            'BOT_START_FAILED',
            `start() returned ${bot === null ? 'null' : typeof bot}, not a bot session { input(event), output, close() }`,
          );
        const missing = sessionMissing(bot);
        if (missing.length) throw new AdapterError('BOT_START_FAILED', `start() returned a bot session without ${missing.join(', ')}`);
        if (this.closed) return this.closeSession(bot);
        this.session = bot;
        const backlog = this.backlog ?? [];
        this.backlog = undefined;
        if (this.dropped) this.d.log.warn({ droppedInputs: this.dropped }, 'bot started late: early inputs dropped');
        this.deliver({ type: 'start' }, true);
        for (const e of backlog) if (!this.closed) this.deliver(e, e.type === 'dtmf' || e.type === 'speech-end' || (e.type === 'transcript' && e.final));
        if (this.closed) return;
        this.owner.onBotReady();
        void this.run(bot);
      })
      .catch((err) => {
        if (this.closed) return;
        this.d.boundary.fault('bot', 'start', err, 'BOT_START_FAILED', false);
        this.owner.onBotStartFailed();
      });
  }

  /** One input for the bot. `expectsReply` starts the first-text latency clock. */
  input(e: BotInput, expectsReply: boolean): void {
    if (this.closed) return;
    if (expectsReply) this.inputAtMs = this.d.clock.now();
    if (this.session) this.deliver(e, expectsReply);
    else if (this.backlog && this.backlog.length < MAX_BACKLOG) this.backlog.push(e);
    else this.dropped++;
  }

  /** Idempotent. `reason` is passed to the bot session's `close`. */
  close(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.backlog = undefined;
    const s = this.session;
    this.session = undefined;
    if (s) this.closeSession(s, reason);
  }

  /**
   * Give the bot one input, guarded. A throw is counted and logged (once per call); when the caller is waiting for an
   * answer to it (`answerable`: the start, a DTMF, a final transcript, an utterance) it is also a bot failure: an
   * apology. A throw on a mere notification (playback done, speech started) is only counted: apologising for those
   * would answer nothing the caller asked, and a bot throwing on every input would loop apology → playback → apology.
   */
  private deliver(e: BotInput, answerable: boolean): void {
    const s = this.session;
    if (!s) return;
    if (this.dead) {
      if (this.dropped++ === 0) this.d.log.warn({ input: e.type }, 'bot output has failed: inputs are no longer delivered');
      return;
    }
    try {
      s.input(e);
    } catch (err) {
      this.d.boundary.fault('bot', 'input', err, 'BOT_INPUT_FAILED', true);
      if (answerable) this.owner.onBotFailed(`the bot failed on input ${e.type}`);
    }
  }

  private closeSession(s: BotSession, reason?: string): void {
    try {
      const r = s.close(reason) as unknown;
      if (r && typeof (r as Promise<void>).then === 'function')
        (r as Promise<void>).then(undefined, (err) => this.d.boundary.fault('bot', 'close', err, 'BOT_CLOSE_FAILED', true));
    } catch (err) {
      this.d.boundary.fault('bot', 'close', err, 'BOT_CLOSE_FAILED', true);
    }
  }

  private async run(bot: BotSession): Promise<void> {
    let it: AsyncIterator<BotOutput>;
    try {
      it = bot.output[Symbol.asyncIterator]();
    } catch (err) {
      this.dead = true;
      this.d.boundary.fault('bot', 'output', err, 'BOT_FAILED', false);
      this.owner.onBotFailed('the bot failed');
      return;
    }
    for (;;) {
      let r: IteratorResult<BotOutput>;
      try {
        r = await it.next();
      } catch (err) {
        if (this.outputFailed(err)) continue;
        return;
      }
      if (r.done || this.closed) return;
      if (this.inputAtMs >= 0) {
        const now = this.d.clock.now();
        this.d.metrics.botFirstTextLatency.observe((now - this.inputAtMs) / 1000);
        this.owner.onTiming?.('bot-first-text', this.inputAtMs, now);
        this.inputAtMs = -1;
      }
      try {
        await this.owner.onBotOutput(r.value);
      } catch (err) {
        // Our own handling failed (e.g. an output of a shape the contract does not allow): log it, take the next.
        this.d.log.error({ err: { message: (err as Error)?.message ?? String(err) } }, 'bot output not handled');
      }
      if (this.closed) return;
    }
  }

  /** Returns true when the session survives the failure (a recoverable AdapterError) and `output` is read on. */
  private outputFailed(err: unknown): boolean {
    if (this.closed) return false;
    const e = this.d.boundary.fault('bot', 'output', err, 'BOT_FAILED', false);
    const recoverable = err instanceof Error && e.recoverable;
    if (!recoverable) this.dead = true;
    this.owner.onBotFailed('the bot failed');
    return recoverable && !this.closed;
  }
}

/** What a bot session lacks, named for the log: `input()`, `output` (an async iterable). */
function sessionMissing(bot: object): string[] {
  const b = bot as Record<string | symbol, unknown>;
  const missing: string[] = [];
  if (typeof b.input !== 'function') missing.push('input()');
  const out = b.output as Record<symbol, unknown> | null | undefined;
  if (out == null || typeof out[Symbol.asyncIterator] !== 'function') missing.push('output (an async iterable)');
  return missing;
}
