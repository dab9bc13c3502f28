/**
 * The eval caller: Vonage's side of one scripted call. It opens the leg like the simulator (shared functions in
 * src/sim/vonage-leg.ts), plays the gateway's audio out with the same Vonage playout model, and produces what it sends
 * one 20 ms slot at a time, because what it sends depends on what it has heard: line echo is the heard audio fed
 * back, and "speak after the bot stops" or "1.5 s into its reply" need to know when the bot's audio played.
 *
 * Per slot: play one frame (or silence) → advance the turn script → mix speech, line noise and echo → band-limit →
 * through the jitter model → send. Times are on the caller's drift-free 20 ms clock.
 */
import { randomUUID } from 'node:crypto';
import { frameBytesFor } from '../config/config.js';
import { VonagePlayout } from '../sim/playout.js';
import { connectWebsocket, endpointRateHz, fetchNcco, routeGatewayText, runLegClock, sendHandshake, websocketEndpoint } from '../sim/vonage-leg.js';
import { EchoLine, JitterLine, LineNoise, TelephoneBand, activePower } from './impairments.js';
import type { Scenario, ScenarioTurn } from './scenario.js';
import type { CallerEvent, CallTimeline } from './timeline.js';
import type { RenderedTurn } from './turn-audio.js';

/** Frames received before a clear among which a pause's resumed audio is looked for (the gateway's lead is ≤ 5). */
const PAUSE_LOOKBACK_FRAMES = 8;

export interface EvalCallOptions {
  url: string;
  scenario: Scenario;
  /** Renders the turns once the leg rate is known (from the NCCO). */
  render(rateHz: number): Promise<RenderedTurn[]>;
  signal?: AbortSignal;
}

/** Silence that ends a reply for `afterBotStops`, and that separates one reply from the next for `afterReplyMs`. */
const QUIET_MS = 500;
const DEFAULT_TRIGGER_TIMEOUT_MS = 20_000;

/** Where the turn script is. */
type Phase = { t: 'waiting' } | { t: 'armed'; atMs: number } | { t: 'speaking'; turn: number; startTick: number; pos: number } | { t: 'done' };

/** Play one scripted call against a gateway and return its timeline. */
export async function runEvalCall(o: EvalCallOptions): Promise<CallTimeline> {
  const s = o.scenario;
  const uuid = randomUUID();
  const ncco = await fetchNcco({ url: o.url, uuid, conversationUuid: `CON-${uuid}` });
  const ep = websocketEndpoint(ncco);
  const rate = endpointRateHz(ep);
  const fb = frameBytesFor(rate);
  const spf = fb / 2;
  const turns = await o.render(rate);
  const imp = s.impairments ?? {};

  // Line stages, built once per call.
  const band = imp.bandLimit ? new TelephoneBand(rate) : undefined;
  const speechPower =
    turns.map((t, i) => (s.turns[i]!.kind === 'turn' && t.onsetSample >= 0 ? activePower(t.pcm, rate) : 0)).find((p) => p > 0) ?? (32768 * 0.05) ** 2;
  const noise = imp.noise ? new LineNoise(LineNoise.rmsForSnr(speechPower, imp.noise.snrDb), imp.noise.seed ?? 1) : undefined;
  const echo = imp.echo ? new EchoLine(rate, imp.echo.delayMs, imp.echo.attenuationDb) : undefined;
  const jitter = imp.jitter ? new JitterLine(imp.jitter) : undefined;
  const mix = new Float32Array(spf);

  const ws = await connectWebsocket(ep.uri);
  const t0 = performance.now();
  const clock = () => performance.now() - t0;
  const tl: CallTimeline = {
    sampleRateHz: rate,
    playing: new Uint8Array(0),
    arrivalMs: new Float64Array(0),
    clearsMs: [],
    pauseClearsMs: [],
    notifies: [],
    events: [],
    echo: !!imp.echo,
    heard: new Int16Array(0),
    durationMs: 0,
    closeCode: null,
    closedBy: null,
    triggerTimeouts: 0,
    framesSent: 0,
    framesHeldByJitter: 0,
  };
  const sendText = (text: string) => ws.readyState === ws.OPEN && ws.send(text);
  let tickNow = 0;
  const playout = new VonagePlayout(fb, { sendText, onNotify: (payload) => tl.notifies.push({ atMs: tickNow * 20 + 20, payload }) });
  // Arrival time of each queued frame, in step with the playout queue (cleared with it).
  let arrivals: number[] = [];
  // A barge-in pause also clears Vonage's lead, then (if not confirmed) sends those frames again: a clear whose next
  // frame is one of the last few received before it is a pause, not the end of the reply.
  const recent: Buffer[] = [];
  let pendingClear = -1;
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      const frame = data as Buffer;
      if (frame.length !== fb) return;
      if (pendingClear >= 0) {
        if (recent.some((r) => r.equals(frame))) tl.pauseClearsMs.push(...tl.clearsMs.splice(pendingClear, 1));
        pendingClear = -1;
      }
      recent.push(frame);
      if (recent.length > PAUSE_LOOKBACK_FRAMES) recent.shift();
      arrivals.push(clock());
      playout.audio(frame);
      return;
    }
    const before = playout.clears;
    routeGatewayText(data, playout);
    if (playout.clears !== before) {
      pendingClear = tl.clearsMs.length;
      tl.clearsMs.push(clock());
      arrivals = [];
    }
  });
  sendHandshake(ws, ep);

  const playing: number[] = [];
  const arrivalOfPlayed: number[] = [];
  let phase: Phase = { t: 'waiting' };
  let next = 0;
  let prevEndMs = 0; // when the previous turn's audio finished
  let lastBotTick = -1;
  let replyStartTick = -1; // first slot of the reply playing now (or the last one)
  let prevPlayed = false;
  let lastTurnEndMs = 0;
  const maxMs = s.maxDurationMs ?? 60_000;
  const tailMs = s.tailMs ?? 6000;

  /** Decide when turn `next` starts; returns the start time, or undefined to keep waiting. */
  const trigger = (turn: ScenarioTurn, nowMs: number): number | undefined => {
    const w = turn.when;
    if (w.type === 'atMs') return Math.max(w.ms, nowMs);
    const timeout = w.timeoutMs ?? DEFAULT_TRIGGER_TIMEOUT_MS;
    if (nowMs - prevEndMs >= timeout) {
      tl.triggerTimeouts++;
      return nowMs;
    }
    if (w.type === 'afterBotStops') {
      const quiet = w.quietMs ?? QUIET_MS;
      if (lastBotTick >= 0 && lastBotTick * 20 >= prevEndMs && nowMs - (lastBotTick + 1) * 20 >= quiet) return nowMs + (w.delayMs ?? 0);
      return undefined;
    }
    // afterReplyMs: the reply playing now if that point is still ahead, else the next reply to start.
    if (replyStartTick >= 0 && lastBotTick >= 0 && nowMs - (lastBotTick + 1) * 20 < QUIET_MS && replyStartTick * 20 + w.ms >= nowMs)
      return replyStartTick * 20 + w.ms;
    return undefined;
  };

  const end = await runLegClock(ws, t0, o.signal, (n) => {
    tickNow = n;
    const nowMs = n * 20;
    // 1. Vonage plays one slot.
    const played = playout.tick();
    playing.push(played ? 1 : 0);
    arrivalOfPlayed.push(played ? (arrivals.shift() ?? NaN) : NaN);
    if (played) {
      if (!prevPlayed && (lastBotTick < 0 || (n - lastBotTick) * 20 > QUIET_MS)) replyStartTick = n;
      lastBotTick = n;
    }
    prevPlayed = played;

    // 2. The turn script.
    if (phase.t === 'waiting' && next < turns.length && nowMs >= prevEndMs) {
      const at = trigger(s.turns[next]!, nowMs);
      if (at !== undefined) phase = { t: 'armed', atMs: at };
    }
    if (phase.t === 'armed' && nowMs >= phase.atMs) {
      phase = { t: 'speaking', turn: next, startTick: n, pos: 0 };
      const r = turns[next]!;
      if (r.onsetSample >= 0) {
        const ev: CallerEvent = {
          index: next,
          kind: s.turns[next]!.kind,
          onsetMs: nowMs + (r.onsetSample * 1000) / rate,
          endMs: nowMs + (r.endSample * 1000) / rate,
        };
        if (r.pause) ev.pause = { startMs: nowMs + (r.pause.startSample * 1000) / rate, endMs: nowMs + (r.pause.endSample * 1000) / rate };
        tl.events.push(ev);
      }
    }

    // 3. What the caller sends this slot: its speech, then the line.
    mix.fill(0);
    if (phase.t === 'speaking') {
      const pcm = turns[phase.turn]!.pcm;
      for (let i = 0; i < spf && phase.pos < pcm.length; i++) mix[i] = pcm[phase.pos++]!;
      if (phase.pos >= pcm.length) {
        prevEndMs = lastTurnEndMs = nowMs + 20;
        next++;
        phase = next < turns.length ? { t: 'waiting' } : { t: 'done' };
      }
    }
    noise?.process(mix);
    echo?.process(mix, playout.lastHeard);
    band?.process(mix);
    const frame = Buffer.allocUnsafe(fb);
    for (let i = 0; i < spf; i++) frame.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(mix[i]!))), i * 2);
    for (const f of jitter ? jitter.push(frame, nowMs) : [frame]) {
      ws.send(f);
      tl.framesSent++;
    }

    // 4. Hang up after the tail (or the fixed duration), or at the cap.
    // `durationMs` (a fixed length) wins over the tail, but never cuts a turn short.
    const finished = phase.t === 'done' || turns.length === 0;
    const stayUntil = !finished ? Infinity : s.durationMs !== undefined ? Math.max(s.durationMs, lastTurnEndMs) : lastTurnEndMs + tailMs;
    return nowMs + 20 < Math.min(maxMs, stayUntil);
  });

  tl.playing = Uint8Array.from(playing);
  tl.arrivalMs = Float64Array.from(arrivalOfPlayed);
  tl.heard = playout.heardAudio();
  tl.durationMs = playing.length * 20;
  tl.closeCode = end.closeCode;
  tl.closedBy = end.closedBy;
  tl.framesHeldByJitter = jitter?.heldFrames ?? 0;
  return tl;
}
