/**
 * OpenTelemetry traces of calls and turns, built from the call observer's events (call/observer.ts): the session code
 * only reports what it already measures, and this file turns it into spans. Loaded (with `@opentelemetry/api`) only
 * when tracing is on (observability/tracing-sdk.ts, or a provider handed to `buildGateway`): off costs nothing.
 *
 * Spans (names, and the histogram each child matches exactly: same two clock readings):
 * - `vgw.call`: the leg, from the session's start to its close. Attributes: call id, conversation, leg rate, language,
 *   adapters, close code and end reason, turns, barge-ins.
 * - `vgw.turn`: one exchange, child of the call: from the earliest of its children to the latest (a reply's end
 *   included). Once the bot has answered in a turn (first text, TTS audio or a reply's first frame), the caller's next
 *   final transcript or the bot's first output to a new input opens the next turn; everything else joins the turn open
 *   at the time (a barge-in and a reply's playout join the turn of the reply they are about).
 *   - `vgw.asr.final`        end of the caller's speech (last voiced frame) → final transcript (`gateway_asr_final_latency_seconds`)
 *   - `vgw.bot.first_text`   input the bot should answer → its first output (`gateway_bot_first_text_latency_seconds`)
 *   - `vgw.tts.first_audio`  TTS request → first audio chunk, one per request (`gateway_tts_first_audio_latency_seconds`)
 *   - `vgw.reply.first_frame` end of the caller's speech → first reply frame sent (`gateway_turn_latency_seconds`)
 *   - `vgw.reply.playout`    first frame sent → reply played out or cut (heard/total ms, interrupted)
 *   - `vgw.barge_in`         barge-in onset (the pause) → the barge-in decided (zero length without a pause)
 *
 * A turn's spans are created when the next turn opens or the call ends (spans carry their own start and end times),
 * so nothing is allocated per frame and a turn costs a handful of small objects. Times are the session's monotonic
 * clock, turned into epoch time once per tracer.
 */
import { context, trace, SpanStatusCode, type Attributes, type HrTime, type Span, type Tracer, type TracerProvider } from '@opentelemetry/api';
import type { CallObserver, CallObserverEvent, ObservedCall, TimingKind } from '../call/observer.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from './logger.js';

/** Span names, by what they measure. */
export const SPAN_NAMES = {
  call: 'vgw.call',
  turn: 'vgw.turn',
  'asr-final': 'vgw.asr.final',
  'bot-first-text': 'vgw.bot.first_text',
  'tts-first-audio': 'vgw.tts.first_audio',
  'first-frame': 'vgw.reply.first_frame',
  playout: 'vgw.reply.playout',
  bargeIn: 'vgw.barge_in',
} as const;

/** Children kept per turn; more (a bot streaming hundreds of sentences) are counted on the turn, not kept. */
const MAX_CHILDREN = 64;

/** The gateway's adapters, for the call span's attributes. */
export interface TracedAdapters {
  asr: string | undefined;
  bot: string;
  tts: string | undefined;
}

interface Child {
  name: string;
  startMs: number;
  endMs: number;
  attrs?: Attributes;
}

interface TurnTrace {
  index: number;
  openedBy: 'caller' | 'bot';
  children: Child[];
  dropped: number;
  startMs: number;
  endMs: number;
  /** The bot has answered in this turn (its first text, TTS audio, or a reply's first frame). */
  answered: boolean;
  /** Replies whose first frame went out in this turn: id → first frame time. */
  replies: Map<number, number>;
  turnLatencyMs?: number;
  interrupted: boolean;
}

interface CallTrace {
  span: Span;
  turn: TurnTrace | undefined;
  turns: number;
  bargeIns: number;
  /** Barge-in onset of the reply now paused (−1: none). */
  pausedAtMs: number;
  /** Replies started but not done, by id → their turn (a reply may end after the next turn opened). */
  openReplies: Map<number, TurnTrace>;
  /** Turns closed while a reply of theirs still played: written when it is done. */
  deferred: Set<TurnTrace>;
}

export class CallTracer implements CallObserver {
  readonly active = true;
  private readonly tracer: Tracer;
  private readonly calls = new Map<ObservedCall, CallTrace>();
  /** Calls whose span has ended: a late event never opens a second one (that would never end). */
  private readonly ended = new WeakSet<ObservedCall>();
  /** Epoch ms of the clock's zero. */
  private readonly originMs: number;
  private faults = 0;

  constructor(
    provider: TracerProvider,
    private readonly clock: Clock,
    private readonly adapters: TracedAdapters,
    private readonly log: Logger,
  ) {
    this.tracer = provider.getTracer('vonage-voicebot-gateway');
    this.originMs = Date.now() - clock.now();
  }

  /** Calls being traced now. */
  get size(): number {
    return this.calls.size;
  }

  event(call: ObservedCall, e: CallObserverEvent): void {
    try {
      this.apply(call, e);
    } catch (err) {
      // Telemetry must never disturb a call.
      if (this.faults++ === 0) this.log.error({ err: { message: (err as Error)?.message } }, 'tracing failed (further failures not logged)');
    }
  }

  private hr(ms: number): HrTime {
    const epoch = this.originMs + ms;
    let s = Math.floor(epoch / 1000);
    let ns = Math.round((epoch - s * 1000) * 1e6);
    if (ns >= 1e9) {
      s += 1;
      ns -= 1e9;
    }
    return [s, ns];
  }

  private apply(call: ObservedCall, e: CallObserverEvent): void {
    if (this.ended.has(call)) return;
    const c = this.calls.get(call) ?? this.open(call);
    const now = this.clock.now();
    switch (e.type) {
      case 'timing':
        return this.timing(c, e.what, e.startMs, e.endMs);
      case 'reply-start': {
        const t = this.turnFor(c, 'bot', now);
        const at = e.atMs ?? now;
        t.replies.set(e.replyId, at);
        t.answered = true;
        c.openReplies.set(e.replyId, t);
        if (e.turnLatencyMs !== undefined) t.turnLatencyMs = e.turnLatencyMs;
        return this.extend(t, at, at);
      }
      case 'reply-done': {
        const t = c.openReplies.get(e.replyId);
        if (!t) return;
        c.openReplies.delete(e.replyId);
        const started = t.replies.get(e.replyId) ?? e.atMs;
        if (e.interrupted) t.interrupted = true;
        this.add(t, {
          name: SPAN_NAMES.playout,
          startMs: started,
          endMs: e.atMs,
          attrs: { 'vgw.reply.id': e.replyId, 'vgw.reply.heard_ms': e.heardMs, 'vgw.reply.total_ms': e.totalMs, 'vgw.reply.interrupted': e.interrupted },
        });
        if (c.deferred.has(t) && !this.playing(c, t)) {
          c.deferred.delete(t);
          this.writeTurn(c, t);
        }
        return;
      }
      case 'barge-in-pause':
        c.pausedAtMs = e.atMs;
        return;
      case 'barge-in-resume':
        c.pausedAtMs = -1;
        return;
      case 'barge-in': {
        const at = e.atMs ?? now;
        const from = c.pausedAtMs >= 0 && c.pausedAtMs <= at ? c.pausedAtMs : at;
        c.pausedAtMs = -1;
        c.bargeIns++;
        const t = c.openReplies.get(e.replyId) ?? this.turnFor(c, 'bot', at);
        return this.add(t, { name: SPAN_NAMES.bargeIn, startMs: from, endMs: at, attrs: { 'vgw.reply.id': e.replyId, 'vgw.barge_in.paused': from < at } });
      }
      case 'call-end': {
        this.calls.delete(call);
        this.ended.add(call);
        c.openReplies.clear();
        if (c.turn) this.writeTurn(c, c.turn);
        for (const t of c.deferred) this.writeTurn(c, t);
        const s = e.summary;
        c.span.setAttributes({
          'vgw.call.close_code': s.closeCode,
          'vgw.call.end_reason': s.closeReason,
          'vgw.call.turns': c.turns,
          'vgw.call.barge_ins': c.bargeIns,
          'vgw.call.frames_in': s.framesIn,
          'vgw.call.frames_out': s.framesOut,
        });
        if (s.closeCode !== 1000 && s.closeCode !== 1001) c.span.setStatus({ code: SpanStatusCode.ERROR, message: s.closeReason });
        c.span.end(this.hr(now));
        return;
      }
      default:
        return; // call-start (opened above), state, transcripts, bot text, DTMF: not spans
    }
  }

  private open(call: ObservedCall): CallTrace {
    const i = call.info;
    const a = this.adapters;
    const attrs: Attributes = {
      'vgw.call.id': i.callId,
      'vgw.leg.sample_rate_hz': i.sampleRateHz,
      'vgw.call.language': i.language,
      'vgw.adapter.bot': a.bot,
      'vgw.adapter.asr': a.asr ?? 'none',
      'vgw.adapter.tts': a.tts ?? 'none',
    };
    if (i.conversationUuid) attrs['vgw.call.conversation_uuid'] = i.conversationUuid;
    const span = this.tracer.startSpan(SPAN_NAMES.call, { startTime: this.hr(this.clock.now()), attributes: attrs });
    const c: CallTrace = { span, turn: undefined, turns: 0, bargeIns: 0, pausedAtMs: -1, openReplies: new Map(), deferred: new Set() };
    this.calls.set(call, c);
    return c;
  }

  private timing(c: CallTrace, what: TimingKind, startMs: number, endMs: number): void {
    let t = c.turn;
    // A new caller utterance, or the bot answering a new input, opens a new turn once the bot has answered this one.
    if (t && t.answered && (what === 'asr-final' || what === 'bot-first-text')) {
      this.closeTurn(c, t);
      t = undefined;
    }
    t ??= this.newTurn(c, what === 'asr-final' ? 'caller' : 'bot', startMs);
    if (what !== 'asr-final') t.answered = true;
    this.add(t, { name: SPAN_NAMES[what], startMs, endMs });
  }

  private turnFor(c: CallTrace, openedBy: 'caller' | 'bot', atMs: number): TurnTrace {
    return c.turn ?? this.newTurn(c, openedBy, atMs);
  }

  private newTurn(c: CallTrace, openedBy: 'caller' | 'bot', atMs: number): TurnTrace {
    const t: TurnTrace = {
      index: ++c.turns,
      openedBy,
      children: [],
      dropped: 0,
      startMs: atMs,
      endMs: atMs,
      answered: false,
      replies: new Map(),
      interrupted: false,
    };
    c.turn = t;
    return t;
  }

  private extend(t: TurnTrace, startMs: number, endMs: number): void {
    if (startMs < t.startMs) t.startMs = startMs;
    if (endMs > t.endMs) t.endMs = endMs;
  }

  /** A child of a turn (kept until the turn is written). */
  private add(t: TurnTrace, child: Child): void {
    if (t.children.length >= MAX_CHILDREN) {
      t.dropped++;
      return;
    }
    this.extend(t, child.startMs, child.endMs);
    t.children.push(child);
  }

  /**
   * Write a turn's spans. A reply still playing keeps its turn open: it is written when the reply is done (or at the
   * call's end).
   */
  private closeTurn(c: CallTrace, t: TurnTrace): void {
    if (c.turn === t) c.turn = undefined;
    if (this.playing(c, t)) c.deferred.add(t);
    else this.writeTurn(c, t);
  }

  /** A reply of turn `t` is still playing. */
  private playing(c: CallTrace, t: TurnTrace): boolean {
    for (const turn of c.openReplies.values()) if (turn === t) return true;
    return false;
  }

  private writeTurn(c: CallTrace, t: TurnTrace): void {
    if (!t.children.length) return;
    const attrs: Attributes = { 'vgw.turn.index': t.index, 'vgw.turn.opened_by': t.openedBy, 'vgw.turn.interrupted': t.interrupted };
    if (t.turnLatencyMs !== undefined) attrs['vgw.turn.latency_ms'] = t.turnLatencyMs;
    if (t.dropped) attrs['vgw.turn.children_dropped'] = t.dropped;
    const parent = trace.setSpan(context.active(), c.span);
    const span = this.tracer.startSpan(SPAN_NAMES.turn, { startTime: this.hr(t.startMs), attributes: attrs }, parent);
    const ctx = trace.setSpan(context.active(), span);
    for (const ch of t.children) this.tracer.startSpan(ch.name, { startTime: this.hr(ch.startMs), attributes: ch.attrs }, ctx).end(this.hr(ch.endMs));
    span.end(this.hr(t.endMs));
  }
}
