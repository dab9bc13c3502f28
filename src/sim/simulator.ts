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
import { parseContentType } from '../leg/handshake.js';
import { VonagePlayout } from './playout.js';

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
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
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

async function fetchNcco(o: SimOptions, uuid: string, conv: string): Promise<unknown> {
  const fields: Record<string, string> = { uuid, conversation_uuid: conv, from: o.from ?? '447700900001', to: o.to ?? '447700900000', region_url: 'https://api-us-3.vonage.com' };
  const base = o.url.replace(/\/+$/, '');
  const res =
    o.answerMethod === 'POST'
      ? await fetch(`${base}/webhooks/answer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields), signal: AbortSignal.timeout(5000) })
      : await fetch(`${base}/webhooks/answer?${new URLSearchParams(fields)}`, { signal: AbortSignal.timeout(5000) });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`answer webhook answered ${res.status}: ${body.slice(0, 200)}`);
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new Error(`answer webhook returned non-JSON: ${body.slice(0, 200)}`);
  }
}

function websocketEndpoint(ncco: unknown): { uri: string; contentType: string; headers: Record<string, unknown> } {
  if (!Array.isArray(ncco)) throw new Error('NCCO is not an array');
  for (const action of ncco as Array<Record<string, unknown>>) {
    if (action?.action !== 'connect' || !Array.isArray(action.endpoint)) continue;
    const ep = (action.endpoint as Array<Record<string, unknown>>)[0];
    if (ep?.type === 'websocket' && typeof ep.uri === 'string') {
      return { uri: ep.uri, contentType: String(ep['content-type'] ?? 'audio/l16;rate=16000'), headers: (ep.headers as Record<string, unknown>) ?? {} };
    }
  }
  throw new Error(`NCCO has no connect to a websocket: ${JSON.stringify(ncco).slice(0, 200)}`);
}

/** Resample and cut the caller's audio into exact frames at the leg rate (last frame padded). */
function callerFrames(audio: SimOptions['audio'], rateHz: number): Buffer[] {
  if (!audio || !audio.samples.length) return [];
  let pcm = audio.samples;
  if (audio.sampleRateHz !== rateHz) {
    const r = new StreamResampler(audio.sampleRateHz, rateHz);
    const a = r.process(pcm);
    const tail = r.flush();
    r.close();
    pcm = new Int16Array(a.length + tail.length);
    pcm.set(a);
    pcm.set(tail, a.length);
  }
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
  const ncco = await fetchNcco(o, uuid, conv);
  const ep = websocketEndpoint(ncco);
  const rate = parseContentType(ep.contentType);
  if (!rate) throw new Error(`NCCO content-type ${ep.contentType} is not one Vonage supports`);
  const fb = frameBytesFor(rate);
  const frames = callerFrames(o.audio, rate);
  const tailMs = o.tailMs ?? 3000;
  const totalMs = frames.length * 20 + tailMs;
  const dtmf = [...(o.dtmf ?? [])].sort((a, b) => a.atMs - b.atMs);

  const ws = new WebSocket(ep.uri, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`)));
    ws.once('error', (err) => reject(new Error(`WebSocket connection failed: ${err.message}`)));
  });

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

  ws.on('message', (data, isBinary) => {
    const now = performance.now() - t0;
    if (isBinary) {
      const buf = data as Buffer;
      bytesReceived += buf.length;
      if (buf.length !== fb) {
        wrongSize++;
        return;
      }
      if (now - lastArrival > REPLY_GAP_MS) {
        const speechEnd = lastLoudAtMs >= 0 && now - lastLoudAtMs >= MIN_QUIET_MS ? lastLoudAtMs : -1;
        const turnEnd = Math.max(speechEnd, lastDtmfAtMs);
        replies.push({ startMs: now, frames: 0, latencyMs: turnEnd >= 0 ? now - turnEnd : null });
      }
      replies[replies.length - 1].frames++;
      lastArrival = now;
      arrivals.push(now);
      received.push(buf);
      playout.audio(buf);
      return;
    }
    let msg: { action?: string; payload?: unknown };
    try {
      msg = JSON.parse(data.toString()) as typeof msg;
    } catch {
      textMessages.push(data.toString());
      return;
    }
    if (msg.action === 'notify') playout.notify(msg.payload);
    else if (msg.action === 'clear') playout.clear();
    else textMessages.push(msg);
  });

  ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': ep.contentType, ...ep.headers, ...(o.handshakeOverrides ?? {}) }));

  const silence = Buffer.alloc(fb);
  let closeCode: number | null = null;
  let closeReason = '';
  let closedBy: SimSummary['closedBy'] = null;
  await new Promise<void>((resolve) => {
    let n = 0;
    let timer: NodeJS.Timeout | undefined;
    let lastProgress = 0;
    const finish = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      o.signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      closedBy ??= 'simulator';
      ws.close(1000, 'aborted');
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    ws.on('close', (code, reason) => {
      closeCode = code;
      closeReason = reason.toString();
      closedBy ??= 'gateway';
      finish();
      resolve();
    });
    const tick = () => {
      timer = undefined;
      if (ws.readyState !== WebSocket.OPEN) return;
      const elapsed = n * 20;
      if (elapsed >= totalMs || (o.hangupAtMs !== undefined && elapsed >= o.hangupAtMs)) {
        closedBy = 'simulator';
        ws.close(1000, 'caller hung up');
        return;
      }
      const f = n < frames.length ? frames[n] : silence;
      if (rms(f) > LOUD_RMS) lastLoudAtMs = performance.now() - t0;
      ws.send(f);
      framesSent++;
      while (dtmf.length && dtmf[0].atMs <= elapsed) {
        const d = dtmf.shift() as { digit: string };
        ws.send(JSON.stringify({ event: 'websocket:dtmf', digit: d.digit, duration: 260 }));
        lastDtmfAtMs = performance.now() - t0;
      }
      playout.tick();
      n++;
      if (o.onProgress && elapsed - lastProgress >= 250) {
        lastProgress = elapsed;
        o.onProgress({ elapsedMs: elapsed, totalMs, framesSent, framesReceived: arrivals.length });
      }
      timer = setTimeout(tick, Math.max(0, t0 + n * 20 - performance.now()));
    };
    tick();
  });
  o.onProgress?.({ elapsedMs: Math.min(totalMs, performance.now() - t0), totalMs, framesSent, framesReceived: arrivals.length });

  const intervals: number[] = [];
  for (let i = 1; i < arrivals.length; i++) {
    const d = arrivals[i] - arrivals[i - 1];
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
    pacing: { intervals: intervals.length, p50Ms: round(percentile(intervals, 50)), p99Ms: round(percentile(intervals, 99)), maxMs: round(intervals[intervals.length - 1] ?? 0) },
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
