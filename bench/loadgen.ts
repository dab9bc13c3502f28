/**
 * Load generator process: opens N simulated Vonage legs (handshake, then a 20 ms frame per leg from one drift-corrected
 * clock: recorded speech, then silence, on a 3 s cycle with per-leg offsets), and measures at the client what comes
 * back: pacing intervals, wrong sizes, late frames. Controlled over IPC.
 */
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { Hist } from './hist.js';
import { ReplyGaps, isReplyBoundary } from './reply-gaps.js';

interface Leg {
  ws: WebSocket;
  open: boolean;
  offset: number;
  /** Which 2 ms sub-slot of the 20 ms period this leg sends in: real calls start at random times, so their frames
   * are spread over the period, not sent in one burst. */
  phase: number;
  /** Intervals between received frames, split at the target's reply boundaries (its `notify` and `clear` messages). */
  gaps: ReplyGaps;
}

/** Options of an `open` (bench/burst.ts): every leg in the same sub-slot and speech offset, and the max-gap window. */
interface OpenOptions {
  inPhase?: boolean;
  /** Longest interval inside a reply taken as a gap (default 200 ms). */
  gapWindowMs?: number;
}

const SUBSLOTS = 10;

const CYCLE_FRAMES = 150;
const intervals = new Hist(500, 0.1);
const tickLateness = new Hist(500, 0.1);
let wrongSize = 0;
let late = 0;
/** Since the last stats reset, per second: late frames and the largest interval inside a reply (when the tail happens). */
let lateBySecond: number[] = [];
let maxBySecond: number[] = [];
let statsT0 = performance.now();
const MAX_SECONDS = 600;
let framesSent = 0;
let framesReceived = 0;
let legs: Leg[] = [];
let speech: Buffer[] = [];
let frameBytes = 640;
let timer: NodeJS.Timeout | undefined;

function loadSpeech(rate: number): Buffer[] {
  // cards/001.wav is 16 kHz; for 8 kHz legs take every other sample (band-limited enough for a load test).
  const pcm = readFileSync('/usr/share/pocketsphinx/test/data/cards/001.wav').subarray(44);
  const step = rate === 8000 ? 2 : 1;
  const out = Buffer.alloc(Math.floor(pcm.length / 2 / step) * 2);
  for (let i = 0; i < out.length / 2; i++) out.writeInt16LE(pcm.readInt16LE(i * step * 2), i * 2);
  const frames: Buffer[] = [];
  for (let off = 0; off + frameBytes <= out.length; off += frameBytes) frames.push(out.subarray(off, off + frameBytes));
  return frames;
}

/** `url` may be several (comma-separated): leg i goes to url i mod n (several baseline processes). */
function open(url: string, count: number, rate: number, o: OpenOptions = {}): Promise<void> {
  const urls = url.split(',');
  const gapWindowMs = o.gapWindowMs ?? 200;
  frameBytes = rate / 25;
  speech = loadSpeech(rate);
  const silence = Buffer.alloc(frameBytes);
  const opened: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(urls[i % urls.length]!, { perMessageDeflate: false });
    // In phase: all calls speak, pause and send each frame at the same moment (the worst case for the tail).
    const leg: Leg = {
      ws,
      open: false,
      offset: o.inPhase ? 0 : Math.floor(Math.random() * CYCLE_FRAMES),
      phase: o.inPhase ? 0 : i % SUBSLOTS,
      gaps: new ReplyGaps(gapWindowMs),
    };
    legs.push(leg);
    opened.push(
      new Promise<void>((resolve) => {
        ws.on('open', () => {
          ws.send(JSON.stringify({ event: 'websocket:connected', 'content-type': `audio/l16;rate=${rate}`, uuid: `bench-${process.pid}-${i}` }));
          leg.open = true;
          resolve();
        });
        ws.on('error', () => resolve());
        ws.on('close', () => {
          leg.open = false;
          resolve();
        });
      }),
    );
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        const m = JSON.parse((data as Buffer).toString()) as { action?: string; payload?: unknown };
        // A notify follows the last frame of a reply (and a clear cuts one): the next frame starts a new reply.
        if (isReplyBoundary(m.action)) leg.gaps.boundary();
        if (m.action === 'notify') ws.send(JSON.stringify({ event: 'websocket:notify', payload: m.payload }));
        return;
      }
      const now = performance.now();
      const len = (data as Buffer).length;
      if (len !== frameBytes) wrongSize++;
      framesReceived++;
      // Pacing: intervals between consecutive frames of one reply (up to 200 ms; the first frame of a reply has none).
      const d = leg.gaps.frame(now);
      if (d >= 0 && d <= 200) {
        intervals.record(d);
        if (d > 40) late++;
        const sec = Math.floor((now - statsT0) / 1000);
        if (sec >= 0 && sec < MAX_SECONDS) {
          while (maxBySecond.length <= sec) {
            maxBySecond.push(0);
            lateBySecond.push(0);
          }
          if (d > 40) lateBySecond[sec]!++;
          if (d > maxBySecond[sec]!) maxBySecond[sec] = d;
        }
      }
    });
  }
  // The clock starts once every leg is open: started before, the first ticks would "catch up" the time the opening
  // took, sending seconds of frames per leg in one burst (hidden by the warm-up of \`npm run bench\`, not by a burst run).
  let t0 = 0;
  const slotMs = 20 / SUBSLOTS;
  let n = 0; // sub-slot counter
  const tick = () => {
    const due = t0 + n * slotMs;
    tickLateness.record(performance.now() - due);
    const frameIndex = Math.floor(n / SUBSLOTS);
    const phase = n % SUBSLOTS;
    for (const leg of legs) {
      if (leg.phase !== phase || !leg.open || leg.ws.readyState !== WebSocket.OPEN) continue;
      const k = (frameIndex + leg.offset) % CYCLE_FRAMES;
      leg.ws.send(speech[k] ?? silence);
      framesSent++;
    }
    n++;
    timer = setTimeout(tick, Math.max(0, t0 + n * slotMs - performance.now()));
  };
  return Promise.all(opened).then(() => {
    t0 = performance.now();
    tick();
  });
}

process.on('message', (m: { cmd: string; url?: string; count?: number; rate?: number } & OpenOptions) => {
  if (m.cmd === 'open') {
    void open(m.url as string, m.count as number, m.rate as number, m).then(() => process.send?.({ cmd: 'opened', legs: legs.filter((l) => l.open).length }));
  } else if (m.cmd === 'stats') {
    process.send?.({
      cmd: 'stats',
      intervals: intervals.toJSON(),
      tickLateness: tickLateness.toJSON(),
      wrongSize,
      late,
      framesSent,
      framesReceived,
      openLegs: legs.filter((l) => l.open).length,
      maxGapMs: legs.reduce((a, l) => Math.max(a, l.gaps.maxGapMs), 0),
      maxGapBetweenRepliesMs: legs.reduce((a, l) => Math.max(a, l.gaps.maxBetweenMs), 0),
      replyEnds: legs.reduce((a, l) => a + l.gaps.boundaries, 0),
      lateBySecond,
      maxBySecond: maxBySecond.map((x) => Math.round(x * 10) / 10),
    });
    lateBySecond = [];
    maxBySecond = [];
    statsT0 = performance.now();
    for (const l of legs) l.gaps.reset();
    intervals.reset();
    tickLateness.reset();
    wrongSize = late = framesSent = framesReceived = 0;
  } else if (m.cmd === 'exit') {
    if (timer) clearTimeout(timer);
    for (const l of legs) l.ws.terminate();
    legs = [];
    setTimeout(() => process.exit(0), 50);
  }
});
process.send?.({ cmd: 'ready' });
