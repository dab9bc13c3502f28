/**
 * The console's model of the calls and its fan-out to console clients. It is the sessions' {@link CallObserver}, and
 * is `active` only while a console client is connected: with nobody watching the sessions build no events at all.
 *
 * Bounded throughout: at most `maxClients` feeds (each drops events past its socket watermark), `MAX_LINES` transcript
 * lines per call, `MAX_ENDED` ended calls kept for `ENDED_TTL_MS`, chart history for `HISTORY_MS`. Per-call figures
 * (frames, jitter, pacer late sends) are sampled once a second from the live sessions, never per frame.
 */
import type { ServerResponse } from 'node:http';
import type { CallObserver, CallObserverEvent, ObservedCall } from '../call/observer.js';
import type { Logger } from '../observability/logger.js';
import { ConsoleFeed } from './feed.js';
import type { ConsoleRelay, ConsoleRelayTarget } from '../cluster/worker.js';

export const MAX_LINES = 200;
export const MAX_ENDED = 20;
export const ENDED_TTL_MS = 10 * 60_000;
export const HISTORY_MS = 10 * 60_000;
const MAX_TEXT = 500;
const MAX_TURNS = 500;
const SAMPLE_MS = 1000;
const HEARTBEAT_EVERY = 15;

export interface ConsoleLine {
  atMs: number;
  kind: 'caller' | 'bot' | 'dtmf' | 'barge-in' | 'pause' | 'backchannel';
  text: string;
  /** Caller lines: final (black) or interim (grey, replaced by the next). */
  final?: boolean;
}

export interface CallFigures {
  framesIn: number;
  framesOut: number;
  jitterMs: number;
  /** Pacer sends that were late (a tick covered more than one 20 ms period). */
  lateSends: number;
}

export interface CallView {
  id: string;
  from?: string;
  to?: string;
  rateHz: number;
  language: string;
  startedAtMs: number;
  state: string;
  endedAtMs?: number;
  closeCode?: number;
  closeReason?: string;
  lines: ConsoleLine[];
  linesDropped: number;
  turnLatenciesMs: number[];
  bargeIns: number;
  figures: CallFigures;
}

export interface ConsoleHubOptions {
  /** The live calls (the tracker). */
  sessions: () => Iterable<ObservedCall>;
  logger: Logger;
  maxClients?: number;
  /** Unsent bytes per client past which its events are dropped. */
  maxBufferedBytes?: number;
  /** Wall clock (epoch ms). */
  now?: () => number;
}

/**
 * With `WORKERS` > 1 each worker has its own hub and sees only its own calls; the relay (cluster/worker.ts, through
 * the primary) makes every client see every worker's: while any worker has a client, every hub reports its events,
 * and they are fanned out to the clients of all. A new client gets this worker's snapshot at once, then each other
 * worker's calls as `call` events when they answer.
 */
export class ConsoleHub implements CallObserver, ConsoleRelayTarget {
  private readonly feeds = new Set<ConsoleFeed>();
  private readonly live = new Map<string, CallView>();
  private readonly ended: CallView[] = [];
  private readonly turns: Array<{ atMs: number; ms: number; id: string }> = [];
  private readonly lateness: Array<{ atMs: number; lateSendsPerS: number }> = [];
  private readonly lastLate = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private readonly now: () => number;
  private readonly maxClients: number;
  private eventErrors = 0;
  /** Events dropped for clients that have gone. */
  private droppedEvents = 0;
  private relay: ConsoleRelay | undefined;
  /** Console clients on the other workers. */
  private remoteWatchers = 0;

  constructor(private readonly o: ConsoleHubOptions) {
    this.now = o.now ?? Date.now;
    this.maxClients = o.maxClients ?? 8;
  }

  get active(): boolean {
    return this.feeds.size > 0 || this.remoteWatchers > 0;
  }

  /** Connect this hub to the other workers' (WORKERS > 1). */
  relayTo(relay: ConsoleRelay): void {
    this.relay = relay;
  }

  setRemoteWatchers(n: number): void {
    this.remoteWatchers = n;
    if (n > 0) this.startTimer();
    else if (!this.feeds.size) this.idle();
  }

  deliver(event: string, json: string): void {
    // Another worker's `stats` would add a second point per second to this client's charts: figures only.
    const name = event === 'stats' ? 'stats-remote' : event;
    for (const f of this.feeds) f.send(name, json);
  }

  views(): unknown[] {
    this.syncLive();
    this.pruneEnded();
    return [...this.live.values(), ...this.ended];
  }

  get clients(): number {
    return this.feeds.size;
  }

  /** Events dropped for slow clients, over every client ever connected. */
  get dropped(): number {
    let n = this.droppedEvents;
    for (const f of this.feeds) n += f.dropped;
    return n;
  }

  /** Attach a console client (an SSE response). Returns false when the client limit is reached (caller answers 503). */
  attach(res: ServerResponse): boolean {
    if (this.feeds.size >= this.maxClients) return false;
    const feed = new ConsoleFeed(res, {
      maxBufferedBytes: this.o.maxBufferedBytes ?? 256 * 1024,
      snapshot: () => {
        // On start and on every resync: the other workers' calls follow as `call` events.
        this.relay?.requestViews((views) => {
          for (const v of views) feed.send('call', JSON.stringify(v));
        });
        return this.snapshot();
      },
      onClose: (f) => this.detach(f),
    });
    this.feeds.add(feed);
    this.relay?.watchers(this.feeds.size);
    this.startTimer();
    feed.start();
    return true;
  }

  /** Everything a new client needs: live and recently ended calls, chart history. */
  snapshot(): unknown {
    this.syncLive();
    this.pruneEnded();
    return { atMs: this.now(), calls: [...this.live.values(), ...this.ended], turns: this.turns, lateness: this.lateness };
  }

  event(call: ObservedCall, e: CallObserverEvent): void {
    try {
      this.apply(call, e);
    } catch (err) {
      // Telemetry must never disturb a call.
      if (this.eventErrors++ === 0) this.o.logger.error({ err: { message: (err as Error)?.message } }, 'console observer failed (further failures not logged)');
    }
  }

  /** Close every client and stop sampling. */
  close(): void {
    for (const f of [...this.feeds]) f.close();
    this.stopTimer();
  }

  private apply(call: ObservedCall, e: CallObserverEvent): void {
    const v = this.viewOf(call);
    const at = this.now();
    switch (e.type) {
      case 'call-start':
        return this.broadcast('call', v);
      case 'state':
        v.state = e.state;
        return this.broadcast('state', { id: v.id, state: e.state });
      case 'transcript': {
        const last = v.lines[v.lines.length - 1];
        const replace = !!last && last.kind === 'caller' && last.final === false;
        const line: ConsoleLine = { atMs: at, kind: 'caller', text: e.text.slice(0, MAX_TEXT), final: e.final };
        if (replace) v.lines[v.lines.length - 1] = line;
        else this.pushLine(v, line);
        return this.broadcast('line', { id: v.id, line, replace });
      }
      case 'bot-say':
        return this.addLine(v, { atMs: at, kind: 'bot', text: e.text.slice(0, MAX_TEXT) });
      case 'dtmf':
        return this.addLine(v, { atMs: at, kind: 'dtmf', text: `${e.digit} (${e.durationMs} ms)` });
      case 'barge-in':
        v.bargeIns++;
        return this.addLine(v, { atMs: at, kind: 'barge-in', text: `reply ${e.replyId} interrupted` });
      case 'barge-in-pause':
        return this.addLine(v, { atMs: at, kind: 'pause', text: `reply ${e.replyId} paused (caller speech?)` });
      case 'barge-in-resume':
        return this.addLine(v, { atMs: at, kind: 'pause', text: `reply ${e.replyId} resumed` });
      case 'backchannel':
        return this.addLine(v, {
          atMs: at,
          kind: 'backchannel',
          text: `${e.text === undefined ? '(no words)' : e.text.slice(0, MAX_TEXT)} (${Math.round(e.durationMs)} ms)`,
        });
      case 'reply-start': {
        if (e.turnLatencyMs === undefined) return;
        if (v.turnLatenciesMs.length < MAX_TURNS) v.turnLatenciesMs.push(e.turnLatencyMs);
        const turn = { atMs: at, ms: e.turnLatencyMs, id: v.id };
        this.turns.push(turn);
        while (this.turns.length > MAX_TURNS || (this.turns.length && this.turns[0]!.atMs < at - HISTORY_MS)) this.turns.shift();
        return this.broadcast('turn', { ...turn, replyId: e.replyId });
      }
      case 'call-end': {
        const s = e.summary;
        v.state = 'closed';
        v.endedAtMs = at;
        v.closeCode = s.closeCode;
        v.closeReason = s.closeReason;
        v.figures = { framesIn: s.framesIn, framesOut: s.framesOut, jitterMs: round1(s.jitter.jitterMs), lateSends: s.pacer.lateSends };
        this.live.delete(v.id);
        this.lastLate.delete(v.id);
        this.ended.unshift(v);
        this.pruneEnded();
        return this.broadcast('end', { id: v.id, endedAtMs: at, closeCode: s.closeCode, closeReason: s.closeReason, figures: v.figures });
      }
    }
  }

  private viewOf(call: ObservedCall): CallView {
    const i = call.info;
    let v = this.live.get(i.callId);
    if (v) return v;
    v = {
      id: i.callId,
      from: i.from,
      to: i.to,
      rateHz: i.sampleRateHz,
      language: i.language,
      startedAtMs: this.now() - call.summary().durationMs,
      state: call.state,
      lines: [],
      linesDropped: 0,
      turnLatenciesMs: [],
      bargeIns: 0,
      figures: figuresOf(call),
    };
    this.live.set(v.id, v);
    return v;
  }

  private addLine(v: CallView, line: ConsoleLine): void {
    this.pushLine(v, line);
    this.broadcast('line', { id: v.id, line, replace: false });
  }

  private pushLine(v: CallView, line: ConsoleLine): void {
    v.lines.push(line);
    if (v.lines.length > MAX_LINES) {
      v.lines.shift();
      v.linesDropped++;
    }
  }

  /** Live views follow the tracker: calls that started before anyone watched appear; vanished ones are dropped. */
  private syncLive(): void {
    const seen = new Set<string>();
    for (const s of this.o.sessions()) {
      if (s.state === 'closed') continue;
      seen.add(this.viewOf(s).id);
    }
    for (const id of [...this.live.keys()]) if (!seen.has(id)) this.live.delete(id);
  }

  private pruneEnded(): void {
    const oldest = this.now() - ENDED_TTL_MS;
    while (this.ended.length > MAX_ENDED || (this.ended.length && (this.ended[this.ended.length - 1]!.endedAtMs ?? 0) < oldest)) this.ended.pop();
  }

  /** Once a second while a client is connected: per-call figures and the pacing lateness across calls. */
  private sample(): void {
    const at = this.now();
    const calls: Array<CallFigures & { id: string; state: string }> = [];
    let late = 0;
    for (const s of this.o.sessions()) {
      if (s.state === 'closed') continue;
      const v = this.viewOf(s);
      v.figures = figuresOf(s);
      v.state = s.state;
      const prev = this.lastLate.get(v.id) ?? v.figures.lateSends;
      late += v.figures.lateSends - prev;
      this.lastLate.set(v.id, v.figures.lateSends);
      calls.push({ id: v.id, state: v.state, ...v.figures });
    }
    this.lateness.push({ atMs: at, lateSendsPerS: late });
    while (this.lateness.length && this.lateness[0]!.atMs < at - HISTORY_MS) this.lateness.shift();
    this.pruneEnded();
    this.broadcast('stats', { atMs: at, lateSendsPerS: late, calls, clients: this.feeds.size, droppedEvents: this.dropped });
    if (++this.ticks % HEARTBEAT_EVERY === 0) for (const f of this.feeds) f.heartbeat();
  }

  private broadcast(event: string, data: unknown): void {
    const remote = this.relay !== undefined && this.remoteWatchers > 0;
    if (!this.feeds.size && !remote) return;
    const json = JSON.stringify(data);
    for (const f of this.feeds) f.send(event, json);
    if (remote) this.relay!.publish(event, json);
  }

  private detach(f: ConsoleFeed): void {
    if (!this.feeds.delete(f)) return;
    this.droppedEvents += f.dropped;
    this.relay?.watchers(this.feeds.size);
    if (!this.feeds.size && !this.remoteWatchers) this.idle();
  }

  /** Nobody watches (here or on another worker): sessions stop reporting, so live views would go stale; keep only the ended calls. */
  private idle(): void {
    this.stopTimer();
    this.live.clear();
    this.lastLate.clear();
  }

  private startTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function figuresOf(s: ObservedCall): CallFigures {
  return { framesIn: s.jitter.framesIn, framesOut: s.pacerStats.framesSent, jitterMs: round1(s.jitter.jitterMs), lateSends: s.pacerStats.lateSends };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
