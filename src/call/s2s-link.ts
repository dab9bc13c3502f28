/**
 * One call's speech-to-speech model (`BOT_ADAPTER=openai-realtime`), owned by the call session: the ONLY code that
 * calls the s2s adapter's `start` and its session. The model stands in for ASR + bot + TTS, and the call engine keeps
 * its own parts around it, through two facades the session wires like any adapter:
 *
 * - {@link S2sLink.asr}: the caller's frames reach the model through an `AsrFeed` (bounded backlog while connecting,
 *   guarded writes, and the echo guard's muting: the model does not hear its own voice coming back down the line).
 * - {@link S2sLink.bot}: tool calls become the bot outputs `hangup` / `transfer` / `dtmf` (call-actions.ts and Vonage
 *   REST, as for the LLM bot, with its tool policy); what became of them, and key presses, go back to the model.
 *
 * The model's audio is written here, one pacer segment per reply item, through a {@link ReplyWriter} (resampled only
 * when the model's rate differs from the leg's). When a segment is cut (the model's speech-start, or the gateway's own
 * barge-in), the pacer's playout position says how much the caller heard, and the model is told exactly that
 * (`truncate`); the rest of that item is dropped. The model's session failing for good is reported to the owner once.
 */
import { AdapterError } from '../errors.js';
import type { AsrAdapter, AsrEvent, AsrStream } from '../asr/types.js';
import type { BotAdapter, BotInput, BotOutput, BotSession } from '../bot/types.js';
import { runTool, type ToolPolicy } from '../bot/llm-tools.js';
import { frameBytesFor } from '../config/config.js';
import type { Pacer } from '../egress/pacer.js';
import { ReplyWriter } from '../egress/reply-writer.js';
import type { Logger } from '../observability/logger.js';
import type { S2sAdapter, S2sEvent, S2sSession } from '../s2s/types.js';
import { Channel } from '../util/channel.js';
import type { AdapterBoundary } from './boundary.js';
import type { CallInfo } from './call-info.js';

/** Segment ids of model replies start here, apart from the speaker's (apology, goodbye), which count from 1. */
const FIRST_REPLY_ID = 1_000_000;
/** Largest piece handed to the writer at once (1 s at 24 kHz): a piece that size is written without yielding, in order. */
const PIECE_SAMPLES = 24000;
/** Interrupted items remembered (their late audio is dropped); older ones are forgotten. */
const MAX_DROPPED_ITEMS = 16;
/** Tool calls awaiting Vonage's answer; more are answered at once as not carried out. */
const MAX_PENDING_TOOLS = 8;

export interface S2sLinkOwner {
  /** A model reply (pacer segment `replyId`) was opened: the model is answering. */
  onS2sReply(replyId: number): void;
  /** The model heard the caller start speaking: barge-in. */
  onS2sSpeechStart(): void;
  /** A transcript of the caller or of the model (for logs and the console). */
  onS2sTranscript(role: 'caller' | 'bot', text: string): void;
  /** The model's session is gone for good (already counted and logged): say goodbye and end the call. Called once. */
  onS2sLost(why: string): void;
}

export interface S2sLinkDeps {
  adapter: S2sAdapter;
  call: CallInfo;
  signal: AbortSignal;
  pacer: Pacer;
  hasCallControl: boolean;
  policy: ToolPolicy;
  log: Logger;
  boundary: AdapterBoundary;
}

interface Reply {
  id: number;
  itemId: string;
  writer: ReplyWriter;
  ctl: AbortController;
}

export class S2sLink {
  /** The caller's audio path to the model, for an `AsrFeed`. */
  readonly asr: AsrAdapter;
  /** Call actions from the model's tool calls, for a `BotLink`. */
  readonly bot: BotAdapter;
  private readonly d: S2sLinkDeps;
  private readonly owner: S2sLinkOwner;
  private session: S2sSession | undefined;
  private ready: Promise<S2sSession | undefined> = Promise.resolve(undefined);
  private readonly actions = new Channel<BotOutput>(16, 'drop-newest');
  private reply: Reply | undefined;
  private replyId = FIRST_REPLY_ID;
  /** Model item of each open or playing segment. */
  private readonly items = new Map<number, string>();
  private readonly droppedItems: string[] = [];
  private readonly pendingTools: Array<{ action: 'transfer' | 'dtmf'; callId: string }> = [];
  /** A hangup the model asked for while its goodbye was still arriving: sent once that item's audio is complete. */
  private pendingHangup: BotOutput | undefined;
  private muted = false;
  private lost = false;
  private closed = false;

  constructor(deps: S2sLinkDeps, owner: S2sLinkOwner) {
    this.d = deps;
    this.owner = owner;
    const name = deps.adapter.name;
    this.asr = { name, capabilities: { interim: false, sampleRatesHz: [8000, 16000, 24000] }, start: () => this.ready.then((s) => this.audioIn(s)) };
    const botSession: BotSession = { input: (e) => this.onBotInput(e), output: this.actions, close: () => this.actions.close() };
    this.bot = { name, capabilities: { wantsUtteranceAudio: false }, start: () => botSession };
  }

  /** Open the model's session (the pre-connected one when there is one). Failures end the call with an apology. */
  start(): void {
    const { adapter, call, signal, hasCallControl } = this.d;
    this.ready = Promise.resolve()
      .then(() => adapter.start({ call, signal, hasCallControl }))
      .then(
        (s) => {
          if (!s || typeof s !== 'object' || typeof s.write !== 'function' || s.events == null)
            throw new AdapterError('S2S_START_FAILED', 'start() did not return a session (write, events, close)');
          if (this.closed) {
            this.closeSession(s);
            return undefined;
          }
          this.session = s;
          void this.run(s);
          return s;
        },
        (err: unknown) => {
          this.fail('start', err, 'S2S_START_FAILED');
          return undefined;
        },
      );
  }

  /** The pacer finished or cut segment `id` (any segment: only the model's are ours). */
  replyDone(id: number, heardFrames: number, interrupted: boolean): void {
    const itemId = this.items.get(id);
    if (itemId === undefined) return;
    this.items.delete(id);
    if (this.reply?.id === id) this.dropReply();
    if (!interrupted) return;
    if (this.droppedItems.push(itemId) > MAX_DROPPED_ITEMS) this.droppedItems.shift();
    const heardMs = heardFrames * 20;
    this.d.log.info({ item: itemId, heardMs }, 'model reply interrupted: truncated to what the caller heard');
    this.call('truncate', (s) => s.truncate(itemId, heardMs));
  }

  /** A goodbye has begun: the model's audio is no longer played. */
  mute(): void {
    this.muted = true;
    this.dropReply();
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dropReply();
    this.actions.close();
    const s = this.session;
    this.session = undefined;
    if (s) this.closeSession(s);
  }

  private audioIn(s: S2sSession | undefined): AsrStream {
    if (!s) throw new AdapterError('S2S_START_FAILED', 'the model session did not start');
    // No transcripts come this way (the model's own come as events); the stream's events end with the call.
    const none = new Channel<AsrEvent>(1);
    this.d.signal.addEventListener('abort', () => none.close(), { once: true });
    // Writes go straight to the model's session (the AsrFeed guards them); the session is closed by this link.
    return { write: (frame) => this.session?.write(frame), events: none, close: () => none.close() };
  }

  private onBotInput(e: BotInput): void {
    if (e.type === 'action-result') {
      const i = this.pendingTools.findIndex((p) => p.action === e.action);
      if (i < 0) return;
      const p = this.pendingTools.splice(i, 1)[0]!; // i was just found
      const out = e.ok
        ? e.action === 'transfer'
          ? 'The call is being transferred.'
          : 'The keys were sent.'
        : `Error: not carried out (${e.code ?? 'ACTION_FAILED'}): ${e.reason ?? ''}`;
      // A transfer that happened ends the model's part: nothing more to say.
      this.call('toolResult', (s) => s.toolResult(p.callId, out, !(e.ok && e.action === 'transfer')));
    } else if (e.type === 'dtmf') {
      this.call('tell', (s) => s.tell(`(The caller pressed the telephone key ${e.digit}.)`));
    }
  }

  private async run(s: S2sSession): Promise<void> {
    let it: AsyncIterator<S2sEvent>;
    try {
      it = s.events[Symbol.asyncIterator]();
    } catch (err) {
      return this.fail('events', err, 'S2S_FAILED');
    }
    for (;;) {
      let r: IteratorResult<S2sEvent>;
      try {
        r = await it.next();
      } catch (err) {
        return this.fail('events', err, 'S2S_FAILED');
      }
      if (this.closed) return;
      if (r.done) return this.fail('events', new AdapterError('S2S_ENDED', 'the model session ended'), 'S2S_ENDED');
      try {
        this.handle(r.value);
      } catch (err) {
        this.d.log.error({ err: { message: (err as Error)?.message ?? String(err) } }, 'model event not handled');
      }
    }
  }

  private handle(e: S2sEvent): void {
    switch (e.type) {
      case 'audio':
        return this.audio(e.itemId, e.audio, e.sampleRateHz);
      case 'audio-done':
        if (this.reply?.itemId === e.itemId) this.endReply();
        return;
      case 'speech-start':
        return this.owner.onS2sSpeechStart();
      case 'transcript':
        this.d.log.info({ role: e.role, text: e.text }, 'transcript');
        return this.owner.onS2sTranscript(e.role, e.text);
      case 'tool-call':
        return this.toolCall(e.callId, e.name, e.arguments);
      case 'error':
        if (!e.recoverable) return this.fail('events', new AdapterError(e.code, e.message), 'S2S_FAILED');
        this.d.boundary.fault('bot', 's2s', new AdapterError(e.code, e.message, { recoverable: true }), 'S2S_ERROR', true);
        return;
    }
  }

  private audio(itemId: string, audio: Int16Array, rateHz: number): void {
    if (this.muted || this.closed || this.droppedItems.includes(itemId)) return;
    let r = this.reply;
    if (!r || r.itemId !== itemId) {
      if (r) this.endReply();
      r = this.openReply(itemId);
    }
    // Not awaited: each piece is resampled and reframed before write() first yields, so order is kept; the pacer's
    // bounded queue is the back-pressure (a reply past its capacity is cut, counted in framesRejectedFull).
    for (let off = 0; off < audio.length; off += PIECE_SAMPLES) {
      void r.writer.write(audio.subarray(off, off + PIECE_SAMPLES), rateHz, r.ctl.signal).catch(() => {});
    }
  }

  private openReply(itemId: string): Reply {
    const id = ++this.replyId;
    const rate = this.d.call.sampleRateHz;
    const r: Reply = { id, itemId, writer: new ReplyWriter(this.d.pacer, rate, frameBytesFor(rate), id), ctl: new AbortController() };
    this.reply = r;
    this.items.set(id, itemId);
    this.owner.onS2sReply(id);
    return r;
  }

  /** The item's audio is complete: flush the writer (its notify marks the end). */
  private endReply(): void {
    this.finishReply(true);
  }

  /** Abandon the reply being written (its segment was cut, the goodbye began, the call ended). */
  private dropReply(): void {
    this.finishReply(false);
  }

  private finishReply(flush: boolean): void {
    const r = this.reply;
    if (!r) return;
    this.reply = undefined;
    if (flush) {
      r.writer.end();
      if (r.writer.frames === 0) this.items.delete(r.id);
    } else r.writer.abort();
    r.ctl.abort();
    this.releaseHangup();
  }

  private releaseHangup(): void {
    const h = this.pendingHangup;
    this.pendingHangup = undefined;
    if (h) this.actions.push(h);
  }

  private toolCall(callId: string, name: string, args: string): void {
    const o = runTool({ id: callId, type: 'function', function: { name, arguments: args } }, this.d.policy);
    this.d.log.info({ tool: name, ok: !!o.output }, 'model tool call');
    const out = o.output;
    if (!out || (out.type !== 'hangup' && out.type !== 'transfer' && out.type !== 'dtmf')) {
      this.call('toolResult', (s) => s.toolResult(callId, o.result, true));
      return;
    }
    if (out.type === 'hangup') {
      this.call('toolResult', (s) => s.toolResult(callId, o.result, false));
      // The goodbye the model is still sending plays first.
      if (this.reply) this.pendingHangup = out;
      else this.actions.push(out);
      return;
    }
    if (this.pendingTools.length >= MAX_PENDING_TOOLS) {
      this.call('toolResult', (s) => s.toolResult(callId, 'Error: too many actions at once.', true));
      return;
    }
    this.pendingTools.push({ action: out.type, callId });
    this.actions.push(out);
  }

  /** One guarded call into the model's session. */
  private call(point: string, f: (s: S2sSession) => void): void {
    const s = this.session;
    if (!s || this.closed) return;
    try {
      f(s);
    } catch (err) {
      this.d.boundary.fault('bot', point, err, 'S2S_FAILED', true);
    }
  }

  private fail(point: string, err: unknown, code: string): void {
    if (this.lost || this.closed) return;
    this.lost = true;
    const e = this.d.boundary.fault('bot', point, err, code, false);
    this.dropReply();
    const s = this.session;
    this.session = undefined;
    if (s) this.closeSession(s);
    this.owner.onS2sLost(`speech-to-speech model failed: ${e.code}`);
  }

  private closeSession(s: S2sSession): void {
    try {
      s.close();
    } catch (err) {
      this.d.boundary.fault('bot', 'close', err, 'S2S_CLOSE_FAILED', true);
    }
  }
}
