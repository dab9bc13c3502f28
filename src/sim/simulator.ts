/**
 * The Vonage simulator: plays Vonage's side of one call against a gateway. It calls the answer webhook, reads the
 * NCCO, opens the WebSocket the NCCO names, sends the handshake with the NCCO headers flattened in, streams the caller's
 * audio in real time as exact 20 ms frames (silence after it, as Vonage sends continuously), sends DTMF, plays back
 * what it receives at 20 ms per frame (answering notify and clear like Vonage), and summarises what happened.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { loadResampler, StreamResampler } from '../audio/resampler.js';
import { frameBytesFor } from '../config/config.js';
import { VonagePlayout } from './playout.js';
import { connectWebsocket, endpointRateHz, fetchNcco, routeGatewayText, runLegClock, sendHandshake, websocketEndpoint } from './vonage-leg.js';

export interface SimOptions {
  /** Gateway base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  /** The caller's audio (any rate; resampled to the leg rate). Silence if absent. */
  audio?: { samples: Int16Array; sampleRateHz: number };
  /** How long to stay on the call after the audio ends. Default 3000. */
  tailMs?: number;
  dtmf?: Array<{ digit: string; atMs: number }>;
  answerMethod?: 'GET' | 'POST';
  from?: string;
  to?: string;
  uuid?: string;
  conversationUuid?: string;
  /** Merged into the handshake message (tests use it to misbehave). */
  handshakeOverrides?: Record<string, unknown>;
  /** Close the socket with 1000 at this time, like a caller hanging up. */
  hangupAtMs?: number;
  clearCancelsNotify?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: SimProgress) => void;
}

export interface SimProgress {
  elapsedMs: number;
  totalMs: number;
  framesSent: number;
  framesReceived: number;
}

export interface SimReply {
  /** When its first frame arrived, ms since the socket opened. */
  startMs: number;
  frames: number;
  /**
   * Reply start − the caller's last turn end before it: the last loud frame sent (if the caller had been quiet for
   * at least 100 ms by then) or the last DTMF sent, whichever is later; null when there is none.
   */
  latencyMs: number | null;
}

export interface SimSummary {
  uuid: string;
  conversationUuid: string;
  ncco: unknown;
  sampleRateHz: number;
  frameBytes: number;
  framesSent: number;
  framesReceived: number;
  wrongSizeFrames: number;
  bytesReceived: number;
  /** Intervals between consecutive received frames, gaps > 200 ms (between replies) excluded. */
  pacing: { intervals: number; p50Ms: number; p99Ms: number; maxMs: number };
  replies: SimReply[];
  replyLatencyMs: number | null;
  notifies: unknown[];
  clears: number;
  textMessages: unknown[];
  closeCode: number | null;
  closeReason: string;
  closedBy: 'simulator' | 'gateway' | null;
  /** What the caller heard: one frame per 20 ms from the socket's opening, silence included. */
  heard: Int16Array;
  /** Every received frame of the right size, concatenated. */
  received: Int16Array;
}

/** RMS above −40 dBFS counts as the caller speaking. */
const LOUD_RMS = 328;
const REPLY_GAP_MS = 200;
/** Quiet needed after the last loud frame before a reply counts as an answer to that speech. */
const MIN_QUIET_MS = 100;

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function rms(frame: Buffer): number {
  let acc = 0;
  const n = frame.length >> 1;
  for (let i = 0; i < n; i++) {
    const v = frame.readInt16LE(i * 2);
    acc += v * v;
  }
  return Math.sqrt(acc / Math.max(1, n));
}

/** Whole-clip resampling (call {@link loadResampler} first); the same array back when the rates match. */
export function resamplePcm(samples: Int16Array, fromHz: number, toHz: number): Int16Array {
  if (fromHz === toHz) return samples;
  const r = new StreamResampler(fromHz, toHz);
  const a = r.process(samples);
  const tail = r.flush();
  r.close();
  const pcm = new Int16Array(a.length + tail.length);
  pcm.set(a);
  pcm.set(tail, a.length);
  return pcm;
}

/** Resample and cut the caller's audio into exact frames at the leg rate (last frame padded). */
function callerFrames(audio: SimOptions['audio'], rateHz: number): Buffer[] {
  if (!audio || !audio.samples.length) return [];
  const pcm = resamplePcm(audio.samples, audio.sampleRateHz, rateHz);
  const fb = frameBytesFor(rateHz);
  const bytes = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  const frames: Buffer[] = [];
  for (let off = 0; off < bytes.length; off += fb) {
    const f = Buffer.alloc(fb);
    bytes.copy(f, 0, off, Math.min(bytes.length, off + fb));
    frames.push(f);
  }
  return frames;
}

export async function simulateCall(o: SimOptions): Promise<SimSummary> {
  await loadResampler();
  const uuid = o.uuid ?? randomUUID();
  const conv = o.conversationUuid ?? `CON-${uuid}`;
  const ncco = await fetchNcco({ url: o.url, uuid, conversationUuid: conv, answerMethod: o.answerMethod, from: o.from, to: o.to });
  const ep = websocketEndpoint(ncco);
  const rate = endpointRateHz(ep);
  const fb = frameBytesFor(rate);
  const frames = callerFrames(o.audio, rate);
  const tailMs = o.tailMs ?? 3000;
  const totalMs = frames.length * 20 + tailMs;
  const dtmf = [...(o.dtmf ?? [])].sort((a, b) => a.atMs - b.atMs);

  const ws = await connectWebsocket(ep.uri);

  const t0 = performance.now();
  const sendText = (text: string) => ws.readyState === WebSocket.OPEN && ws.send(text);
  const notifies: unknown[] = [];
  const playout = new VonagePlayout(fb, { sendText, onNotify: (p) => notifies.push(p) }, o.clearCancelsNotify ?? true);
  const textMessages: unknown[] = [];
  const arrivals: number[] = [];
  const received: Buffer[] = [];
  let wrongSize = 0;
  let bytesReceived = 0;
  let framesSent = 0;
  let lastLoudAtMs = -1;
  let lastDtmfAtMs = -1;
  const replies: SimReply[] = [];
  let lastArrival = -Infinity;
  let replyEnded = false;

  ws.on('message', (data, isBinary) => {
    const now = performance.now() - t0;
    if (isBinary) {
      const buf = data as Buffer;
      bytesReceived += buf.length;
      if (buf.length !== fb) {
        wrongSize++;
        return;
      }
      // A new reply: after a pause, or right after the previous reply's end marker (notify) or a clear, since the
      // gateway sends back-to-back replies without a gap.
      if (now - lastArrival > REPLY_GAP_MS || replyEnded) {
        replyEnded = false;
        const speechEnd = lastLoudAtMs >= 0 && now - lastLoudAtMs >= MIN_QUIET_MS ? lastLoudAtMs : -1;
        const turnEnd = Math.max(speechEnd, lastDtmfAtMs);
        replies.push({ startMs: now, frames: 0, latencyMs: turnEnd >= 0 ? now - turnEnd : null });
      }
      replies[replies.length - 1]!.frames++;
      lastArrival = now;
      arrivals.push(now);
      received.push(buf);
      playout.audio(buf);
      return;
    }
    const other = routeGatewayText(data, {
      notify: (p) => {
        replyEnded = true;
        playout.notify(p);
      },
      clear: () => {
        replyEnded = true;
        playout.clear();
      },
    });
    if (other !== undefined) textMessages.push(other);
  });

  sendHandshake(ws, ep, o.handshakeOverrides);

  const silence = Buffer.alloc(fb);
  let lastProgress = 0;
  const end = await runLegClock(ws, t0, o.signal, (n) => {
    const elapsed = n * 20;
    if (elapsed >= totalMs || (o.hangupAtMs !== undefined && elapsed >= o.hangupAtMs)) return false;
    const f = frames[n] ?? silence;
    if (rms(f) > LOUD_RMS) lastLoudAtMs = performance.now() - t0;
    ws.send(f);
    framesSent++;
    while (dtmf.length && dtmf[0]!.atMs <= elapsed) {
      const d = dtmf.shift() as { digit: string };
      ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: d.digit, duration: 260 }));
      lastDtmfAtMs = performance.now() - t0;
    }
    playout.tick();
    if (o.onProgress && elapsed - lastProgress >= 250) {
      lastProgress = elapsed;
      o.onProgress({ elapsedMs: elapsed, totalMs, framesSent, framesReceived: arrivals.length });
    }
    return true;
  });
  const { closeCode, closeReason, closedBy } = end;
  o.onProgress?.({ elapsedMs: Math.min(totalMs, performance.now() - t0), totalMs, framesSent, framesReceived: arrivals.length });

  const intervals: number[] = [];
  for (let i = 1; i < arrivals.length; i++) {
    const d = arrivals[i]! - arrivals[i - 1]!;
    if (d <= REPLY_GAP_MS) intervals.push(d);
  }
  intervals.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  const receivedPcm = new Int16Array((received.length * fb) / 2);
  received.forEach((f, i) => Buffer.from(receivedPcm.buffer).set(f, i * fb));
  return {
    uuid,
    conversationUuid: conv,
    ncco,
    sampleRateHz: rate,
    frameBytes: fb,
    framesSent,
    framesReceived: arrivals.length,
    wrongSizeFrames: wrongSize,
    bytesReceived,
    pacing: {
      intervals: intervals.length,
      p50Ms: round(percentile(intervals, 50)),
      p99Ms: round(percentile(intervals, 99)),
      maxMs: round(intervals[intervals.length - 1] ?? 0),
    },
    replies: replies.map((r) => ({ ...r, startMs: Math.round(r.startMs), latencyMs: r.latencyMs === null ? null : Math.round(r.latencyMs) })),
    replyLatencyMs: (() => {
      const r = replies.find((x) => x.latencyMs !== null);
      return r ? Math.round(r.latencyMs as number) : null;
    })(),
    notifies,
    clears: playout.clears,
    textMessages,
    closeCode,
    closeReason,
    closedBy,
    heard: playout.heardAudio(),
    received: receivedPcm,
  };
}
